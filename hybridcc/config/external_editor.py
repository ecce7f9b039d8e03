"""`config edit`: open the file in $EDITOR, validate after, roll back an invalid save."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from hybridcc import paths
from hybridcc.config.edit import write_config_text
from hybridcc.config.load import check_data, read_user_data
from hybridcc.errors import ConfigError, HybridccError, MissingToolError


def edit_config() -> tuple[Path, bool]:
    """Returns (path, restored). Raises ConfigError after restoring an invalid edit."""
    from hybridcc.wizard import render_config

    path = paths.config_file()
    before: bytes | None
    try:
        before = path.read_bytes()
    except FileNotFoundError:
        before = None
        write_config_text(path, render_config("ollama", None), mode=0o600)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        subprocess.run([*shlex.split(editor), str(path)], check=False)
    except OSError as exc:
        raise MissingToolError(f"cannot start the editor `{editor}` ({exc.strerror})", hint="set $EDITOR") from exc
    try:
        data, _ = read_user_data(path)
        _cfg, problems = check_data(data, str(path))
        if problems:
            raise ConfigError(f"{path}: {problems[0]}")
    except HybridccError as exc:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            bad = path.with_name(path.name + ".rejected")
            write_config_text(bad, path.read_bytes(), mode=0o600)
            write_config_text(path, before)
        raise ConfigError(
            f"{exc.message} — your edit was not kept",
            hint=f"the rejected text is in {path.name}.rejected; fix it and run `hybridcc config edit` again",
        ) from exc
    if before is not None and path.read_bytes() != before:
        write_config_text(paths.backup_file(path), before, mode=0o600)
    return path, False
