"""docs/cli.md, generated from every command's --help (regenerate: python -m hybridcc.cli.reference).

A test fails when the committed file differs from what this produces.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Any


def commands() -> list[list[str]]:
    """Every command and group, in the order `--help` lists them (walked from the app, so a new
    command cannot be left out of the reference)."""
    import typer
    import typer.main

    from hybridcc.cli.app import app

    found: list[list[str]] = []

    def walk(cmd: Any, words: list[str]) -> None:  # typer's click Command (typer vendors click)
        found.append(words)
        if hasattr(cmd, "list_commands"):
            ctx = typer.Context(cmd)
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, [*words, name])

    walk(typer.main.get_command(app), [])
    return found


def help_text(words: list[str]) -> str:
    from hybridcc.cli.main import main

    buf = io.StringIO()
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # stable wrapping whatever the terminal
    try:
        with contextlib.redirect_stdout(buf):
            main([*words, "--help"])
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    return buf.getvalue().rstrip()


def render() -> str:
    parts = [
        "# hybridcc command reference",
        "",
        "Generated from `--help` by `python -m hybridcc.cli.reference`; do not edit.",
        "",
    ]
    for words in commands():
        title = " ".join(["hybridcc", *words])
        parts += [f"## `{title}`", "", "```text", help_text(words), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(), encoding="utf-8")
    print(target)
