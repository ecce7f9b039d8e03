from __future__ import annotations

import os
from pathlib import Path

import pytest

from hybridcc import fsutil


def test_atomic_write_keeps_backup_and_mode(tmp_path: Path) -> None:
    target = tmp_path / "f.toml"
    fsutil.atomic_write(target, "one", mode=0o600)
    fsutil.atomic_write(target, "two", backup=True)
    assert target.read_text() == "two"
    assert (tmp_path / "f.toml.bak").read_text() == "one"
    assert target.stat().st_mode & 0o777 == 0o600  # an existing mode is kept


def test_atomic_write_failure_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "d").mkdir()
    target = tmp_path / "d" / "f.toml"
    target.write_text("original")

    def boom(*_a: object, **_k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        fsutil.atomic_write(target, "new")
    assert target.read_text() == "original"
    assert [p.name for p in target.parent.iterdir()] == ["f.toml"]  # no temp file left behind


@pytest.mark.parametrize(
    ("secret", "shown"),
    [("sk-or-v1-0123456789abcdefa1b2", "sk-or-…a1b2"), ("", "(empty)"), ("abc", "****")],
)
def test_mask_secret(secret: str, shown: str) -> None:
    assert fsutil.mask_secret(secret) == shown
    if len(secret) > 8:
        assert secret not in fsutil.mask_secret(secret)
