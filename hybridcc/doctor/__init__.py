"""`hybridcc doctor`: checks of the whole path from `claude` to the model, each with its fix."""

from hybridcc.doctor.report import run_checks

__all__ = ["run_checks"]
