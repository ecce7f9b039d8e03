from __future__ import annotations

import pytest

from hybridcc import paths
from hybridcc.config import load_config
from hybridcc.config.edit import add_profile, remove_profile, set_default
from hybridcc.errors import ConfigError, NotFoundError
from tests.conftest import write_config

USER_TEXT = """# my own notes, keep them
schema_version = 1
default_profile = "ollama"  # trailing comment

[proxy]
port = 8787 # my port
"""


def test_add_keeps_comments_order_and_backup() -> None:
    path = write_config(USER_TEXT)
    add_profile("lms", base_url="http://127.0.0.1:1234/v1", api="openai", model="qwen2.5", small_model="tiny")
    text = path.read_text()
    assert text.startswith(USER_TEXT.rstrip("\n"))  # untouched, comments and order kept
    assert "[providers.lms]" in text and "[profiles.lms]" in text
    assert paths.backup_file(path).read_text() == USER_TEXT
    cfg = load_config()
    assert cfg.profiles["lms"].small_model == "tiny"
    assert cfg.providers["lms"].base_url == "http://127.0.0.1:1234/v1"


def test_add_refuses_duplicate_without_force() -> None:
    write_config(USER_TEXT)
    add_profile("lms", base_url="http://127.0.0.1:1234/v1", api="openai", model="a")
    with pytest.raises(ConfigError, match="already in"):
        add_profile("lms", base_url="http://127.0.0.1:1234/v1", api="openai", model="b")
    add_profile("lms", base_url="http://127.0.0.1:1234/v1", api="openai", model="b", force=True)
    assert load_config().profiles["lms"].model == "b"


def test_inline_key_forces_0600() -> None:
    path = write_config(USER_TEXT)
    path.chmod(0o644)
    add_profile("team", base_url="https://gw.example/v1", api="openai", model="m", api_key="sk-team-123456789")
    assert path.stat().st_mode & 0o777 == 0o600
    assert paths.backup_file(path).stat().st_mode & 0o777 == 0o600


def test_invalid_edit_is_not_written() -> None:
    path = write_config(USER_TEXT)
    with pytest.raises(ConfigError, match="refusing to write"):
        add_profile("bad", base_url="ftp://nope", api="openai", model="m")
    assert path.read_text() == USER_TEXT


def test_remove_and_default() -> None:
    path = write_config(USER_TEXT)
    add_profile("lms", base_url="http://127.0.0.1:1234/v1", api="openai", model="m")
    set_default("lms")
    assert load_config().default_profile == "lms"
    remove_profile("lms")
    cfg = load_config()
    assert "lms" not in cfg.profiles and "lms" not in cfg.providers
    assert cfg.default_profile == "ollama"  # back to the built-in default
    assert "# my own notes" in path.read_text()
    with pytest.raises(NotFoundError, match="built-in profile"):
        remove_profile("gemini")
