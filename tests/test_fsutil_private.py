"""Private state and log locations (issue 11, item 4) and backup failures (item 15)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hybridcc import fsutil, paths


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_dir_creates_and_tightens(tmp_path: Path) -> None:
    fresh = fsutil.private_dir(tmp_path / "a" / "b")
    assert _mode(fresh) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    fsutil.private_dir(loose)
    assert _mode(loose) == 0o700


def test_files_under_state_and_logs_are_0600_in_0700_dirs() -> None:
    record = paths.service_state_file("proxy")
    fsutil.atomic_write(record, "{}")
    assert _mode(record) == 0o600 and _mode(paths.state_dir()) == 0o700
    record.chmod(0o644)  # written by an older version
    fsutil.atomic_write(record, "{}")
    assert _mode(record) == 0o600
    fd = fsutil.open_private_append(paths.service_log_file("ollama"))
    os.close(fd)
    assert _mode(paths.service_log_file("ollama")) == 0o600 and _mode(paths.log_dir()) == 0o700


def test_files_elsewhere_keep_their_mode() -> None:
    config = paths.config_file()
    fsutil.atomic_write(config, "schema_version = 1\n")
    assert _mode(config) == 0o644
    config.chmod(0o640)
    fsutil.atomic_write(config, "schema_version = 1\n")
    assert _mode(config) == 0o640


def test_a_log_pointing_at_a_device_is_not_chmodded(tmp_path: Path) -> None:
    log = paths.service_log_file("proxy")
    log.parent.mkdir(parents=True)
    log.symlink_to("/dev/null")
    before = _mode(Path("/dev/null"))
    os.close(fsutil.open_private_append(log))
    assert _mode(Path("/dev/null")) == before


def test_backup_failure_is_a_backup_error_and_loses_nothing(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    target = tmp_path / "d" / "f.toml"
    target.write_text("original")
    paths.backup_file(target).mkdir()
    with pytest.raises(fsutil.BackupError) as info:
        fsutil.atomic_write(target, "new", backup=True)
    assert info.value.filename == str(paths.backup_file(target))
    assert target.read_text() == "original"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.toml", "f.toml.bak"]  # no temp file
