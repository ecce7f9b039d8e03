"""Console output shared by the commands: stdout for results, stderr for messages.

Text from users, config files and providers is never parsed as rich markup: a hint naming
`[proxy]` would lose its brackets and a profile called "[/x]" would crash the printer (issue 12).
Only the fixed labels here are styled; every message goes through :class:`rich.text.Text`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

# rich honours NO_COLOR and plain output when not a TTY by itself.
# Piped output is not cut to 80 columns: tables stay whole for grep and bug reports.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def note(message: str) -> None:
    err.print(Text(message))


def success(message: str) -> None:
    err.print(Text.assemble(("✓", "green"), " ", message))


def warn(message: str) -> None:
    err.print(Text.assemble(("warning:", "yellow"), " ", message))


def error_line(label: str, message: str, hint: str | None = None) -> None:
    """``error: message`` and ``  fix: hint`` on stderr, both printed literally."""
    err.print(Text.assemble((label, "bold red"), " ", message))
    if hint:
        err.print(Text.assemble("  ", ("fix:", "dim"), " ", hint))


def yes_no(value: object) -> str:
    """A value for humans: yes/no for booleans, "unknown" for None (never Python's True/None)."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    return str(value)
