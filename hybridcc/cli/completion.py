"""Shell completion scripts committed under completions/ (regenerate: python -m hybridcc.cli.completion).

The scripts are typer's: they call back into `hybridcc` for candidates, so they stay right as
commands change; the test suite fails when the committed files differ from what this produces.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

SHELLS: Final = {"bash": "hybridcc.bash", "zsh": "_hybridcc", "fish": "hybridcc.fish"}


def completion_script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="hybridcc", complete_var="_HYBRIDCC_COMPLETE", shell=shell).rstrip() + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in SHELLS.items():
        path = directory / name
        path.write_text(completion_script(shell), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "completions"
    for p in write_all(target):
        print(p)
