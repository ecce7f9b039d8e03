"""Driving the interactive Claude Code TUI in tmux (the `/model` picker, the status line)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import wait_for


class Tmux:
    """One tmux server on a private socket, holding one window that runs ``command``."""

    def __init__(self, socket: Path, env: dict[str, str]) -> None:
        self.socket, self.env = socket, env

    def __call__(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-S", str(self.socket), *args], env=self.env, capture_output=True, text=True,
                              timeout=30, check=False)  # fmt: skip
        assert done.returncode == 0, f"tmux {args[0]}: {done.stderr}"
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "cc")

    def wait(self, *texts: str, timeout: float = 60) -> str:
        seen: dict[str, str] = {}

        def shown() -> str | None:
            seen["screen"] = self.screen()
            return seen["screen"] if all(t in seen["screen"] for t in texts) else None

        try:
            return wait_for(shown, timeout=timeout, interval=0.2, what=f"{texts} on screen")
        except pytest.fail.Exception:
            print(seen.get("screen", ""))  # shown with the failure
            raise

    def move_cursor_to(self, text: str) -> None:
        for _ in range(30):
            lines = self.screen().splitlines()
            cursor = next(i for i, line in enumerate(lines) if re.search(r"❯\s*\d+\.", line))
            target = next(i for i, line in enumerate(lines) if text in line)
            if cursor == target:
                return
            self.keys("Down" if target > cursor else "Up")
            wait_for(lambda c=cursor: self._cursor() != c, timeout=10, interval=0.1, what="the picker's cursor to move")
        pytest.fail(f"could not move the picker's cursor to {text!r}")

    def _cursor(self) -> int:
        lines = self.screen().splitlines()
        return next((i for i, line in enumerate(lines) if re.search(r"❯\s*\d+\.", line)), -1)

    def keys(self, *keys: str, literal: bool = False) -> None:
        self("send-keys", "-t", "cc", *(["-l"] if literal else []), *keys)


def trust(home: Path, workdir: Path) -> None:
    """The interactive TUI stops at first-run screens without this (shared/CLAUDE_CODE.md)."""
    data: dict[str, Any] = {"hasCompletedOnboarding": True, "theme": "dark",
                            "projects": {str(workdir): {"hasTrustDialogAccepted": True}}}  # fmt: skip
    (home / ".claude.json").write_text(json.dumps(data), encoding="utf-8")
