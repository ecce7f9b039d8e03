"""Console output shared by the commands: stdout for results, stderr for messages."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

# rich honours NO_COLOR and plain output when not a TTY by itself.
# Piped output is not cut to 80 columns: tables stay whole for grep and bug reports.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def note(message: str) -> None:
    err.print(message, markup=False)


def success(message: str) -> None:
    err.print(f"[green]✓[/green] {message}")


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {message}", markup=True)
