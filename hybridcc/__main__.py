"""`python -m hybridcc` is the same as the `hybridcc` command."""

from __future__ import annotations

import sys

from hybridcc.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
