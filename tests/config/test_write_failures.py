"""A failed config write is one line naming the cause and the fix, and the old file is intact
(issue 11, item 15). Where the failure can be made real it is (a file size limit, a backup path
that is a directory); a read-only or full file system cannot be made by an unprivileged test, so
those raise the real errno from the write itself."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hybridcc import fsutil, paths
from hybridcc.config.edit import add_profile, set_default
from hybridcc.errors import ConfigError
from tests.conftest import write_config

USER_TEXT = 'schema_version = 1\ndefault_profile = "ollama"\n'


def _add() -> None:
    add_profile("lms", base_url="http://127.0.0.1:1234/v1", api="openai", model="qwen2.5")


@pytest.mark.parametrize(
    ("code", "cause", "fix"),
    [
        (errno.EROFS, "read-only", "remount it read-write"),
        (errno.EACCES, "permission denied", "chmod u+w"),
        (errno.ENOSPC, "the disk is full", "free some space"),
        (errno.EDQUOT, "quota", "free some space"),
    ],
)
def test_write_failure_names_cause_and_fix(monkeypatch: pytest.MonkeyPatch, code: int, cause: str, fix: str) -> None:
    path = write_config(USER_TEXT)

    def failing_mkstemp(*_a: object, **_k: object) -> tuple[int, str]:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fsutil.tempfile, "mkstemp", failing_mkstemp)
    with pytest.raises(ConfigError) as info:
        _add()
    err = info.value
    assert cause in err.message and "was not changed" in err.message and str(path) in err.message
    assert err.hint is not None and fix in err.hint
    assert "\n" not in err.message and "backup" not in f"{err.message} {err.hint}"  # no backup was made
    assert path.read_text() == USER_TEXT
    assert not paths.backup_file(path).exists()


def test_unwritable_backup(tmp_path: Path) -> None:
    path = write_config(USER_TEXT)
    paths.backup_file(path).mkdir()  # a directory where the backup must go: a real failure
    with pytest.raises(ConfigError) as info:
        set_default("ollama")
    assert "could not keep the backup" in info.value.message and "was not changed" in info.value.message
    assert info.value.hint is not None and "config.toml.bak" in info.value.hint
    assert path.read_text() == USER_TEXT
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".config.toml")] == []  # no temp file


def test_file_too_large_is_a_config_error_in_a_real_process(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes the kernel refuse the write with EFBIG: the CLI prints one line, exit 3."""
    path = write_config(USER_TEXT)
    limit = len(USER_TEXT) + 8  # the new file is larger than this, the old one (and its backup) not
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "from hybridcc.cli.main import main\n"
        "sys.exit(main(['profile', 'add', 'lms', '--base-url', 'http://127.0.0.1:1234/v1',"
        " '--api', 'openai', '--model', 'qwen2.5']))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "larger than this system allows" in r.stderr and "ulimit -f" in r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    assert path.read_text() == USER_TEXT
