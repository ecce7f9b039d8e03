"""The one error tree and its exit codes.

Every expected failure is a :class:`HybridccError` carrying a one-line message and a hint that
names the fix. The CLI prints it once (``hybridcc.cli.main``); anything else is a bug and shows a
traceback only with ``--debug``. Third-party exceptions are translated where they arise, with
``raise … from exc``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes (README, "Exit codes")."""

    OK = 0
    FAILURE = 1  # generic failure; also `doctor` when a check FAILs
    USAGE = 2  # bad command-line usage (typer/click's own code)
    CONFIG = 3  # config file missing, unreadable, invalid
    NOT_FOUND = 4  # unknown profile, provider or model
    AUTH = 5  # a provider key is missing or its source failed
    SERVICE = 6  # proxy or Ollama could not be started, stopped or reached
    MISSING_TOOL = 7  # `claude` or `ollama` not installed
    MODEL = 8  # a model cannot drive Claude Code (missing, no tool support)
    INTERRUPTED = 130  # Ctrl-C


class HybridccError(Exception):
    """Root of every error hybridcc reports to a user."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(HybridccError):
    exit_code = ExitCode.CONFIG


class NotFoundError(HybridccError):
    exit_code = ExitCode.NOT_FOUND


class AuthError(HybridccError):
    exit_code = ExitCode.AUTH


class ServiceError(HybridccError):
    exit_code = ExitCode.SERVICE


class MissingToolError(HybridccError):
    exit_code = ExitCode.MISSING_TOOL


class ModelError(HybridccError):
    exit_code = ExitCode.MODEL


class UsageError(HybridccError):
    """A bad command line (unknown choice, missing value, out-of-range number): exit 2, like click."""

    exit_code = ExitCode.USAGE


def did_you_mean(word: str, known: list[str] | tuple[str, ...]) -> str:
    """' (did you mean "x"?)' for a near miss among ``known``, else ''."""
    import difflib

    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""
