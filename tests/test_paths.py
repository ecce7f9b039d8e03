from __future__ import annotations

from pathlib import Path

import pytest

from hybridcc import paths


def test_hybridcc_home_puts_everything_under_one_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYBRIDCC_HOME", str(tmp_path / "root"))
    for name, location in paths.all_locations().items():
        assert str(location).startswith(str(tmp_path / "root")), name
    assert paths.config_file() == tmp_path / "root" / "config.toml"
    assert paths.service_log_file("proxy").parent == paths.log_dir()


def test_hybridcc_config_overrides_only_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYBRIDCC_CONFIG", str(tmp_path / "elsewhere.toml"))
    assert paths.config_file() == tmp_path / "elsewhere.toml"
    assert paths.state_dir() == tmp_path / "hcc" / "state"


def test_platformdirs_without_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYBRIDCC_HOME")
    assert "hybridcc" in str(paths.config_file())
    assert "hybridcc" in str(paths.state_dir())
    assert paths.config_file().name == "config.toml"
