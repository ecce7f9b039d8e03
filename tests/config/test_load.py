from __future__ import annotations

from pathlib import Path

import pytest

from hybridcc.config import load_config
from hybridcc.config.load import fingerprint, get_profile, key_hashes
from hybridcc.errors import ConfigError, ExitCode, NotFoundError
from tests.conftest import write_config


def test_builtin_defaults_without_a_file() -> None:
    config = load_config()
    assert config.source is None
    assert {"anthropic", "openrouter", "ollama", "deepseek", "gemini", "openai"} <= set(config.profiles)
    assert config.providers["gemini"].quirks == "gemini"
    assert config.providers["deepseek"].api == "anthropic"
    assert config.default_profile == "ollama"
    assert config.proxy.host == "127.0.0.1"


def test_user_file_overrides_key_by_key() -> None:
    write_config(
        'default_profile = "openrouter"\n'
        '[profiles.openrouter]\nmodel = "z-ai/glm-4.6"\n'
        '[providers.openrouter]\napi_key_cmd = "pass show openrouter"\n'
        "[proxy]\nport = 0\n"
    )
    config = load_config()
    prof = config.profiles["openrouter"]
    assert prof.model == "z-ai/glm-4.6"
    assert prof.small_model == "google/gemini-2.5-flash"  # kept from the built-in
    prov = config.providers["openrouter"]
    assert prov.api_key_cmd == "pass show openrouter"
    assert prov.api_key_env is None  # the user's key source replaces the built-in one
    assert config.proxy.port == 0 and config.proxy.host == "127.0.0.1"
    assert config.default_profile == "openrouter"


def test_syntax_error_names_file_line_and_column() -> None:
    path = write_config("schema_version = 1\n[proxy]\nport = = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config()
    assert info.value.message.startswith(f"{path}:3:")
    assert "invalid TOML" in info.value.message
    assert info.value.exit_code == ExitCode.CONFIG


def test_wrong_type_names_dotted_key() -> None:
    write_config('[profiles.fast]\nprovider = "ollama"\nmodel = 3\n')
    with pytest.raises(ConfigError, match=r"profiles\.fast\.model: expected a string, got 3"):
        load_config()


def test_unknown_key_is_reported() -> None:
    write_config("[proxy]\nprot = 8080\n")
    with pytest.raises(ConfigError, match=r"proxy\.prot: unknown key"):
        load_config()


def test_every_problem_is_counted() -> None:
    write_config('bogus = 1\n[proxy]\nport = "x"\n[providers.x]\napi = "grpc"\n')
    with pytest.raises(ConfigError, match=r"\(and 2 more\)"):
        load_config()


def test_missing_file_named_by_hybridcc_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYBRIDCC_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config()


def test_unreadable_file(monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config("schema_version = 1\n")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    # The suite runs as root on CI, where chmod 000 does not stop a read: simulate the error.
    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ConfigError, match="cannot read the config file") as info:
        load_config()
    assert f"chmod 600 {path}" in (info.value.hint or "")


def test_directory_instead_of_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYBRIDCC_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError, match="is a directory"):
        load_config()


def test_profile_pointing_at_unknown_provider() -> None:
    write_config('[profiles.x]\nprovider = "nowhere"\nmodel = "m"\n')
    with pytest.raises(ConfigError, match=r'profiles\.x\.provider: no provider named "nowhere"'):
        load_config()


def test_two_key_sources_rejected() -> None:
    write_config(
        '[providers.x]\napi = "openai"\nbase_url = "http://127.0.0.1:1/v1"\napi_key = "a"\napi_key_env = "B"\n'
    )
    with pytest.raises(ConfigError, match="set only one of"):
        load_config()


def test_bad_default_profile_and_schema_version() -> None:
    write_config('schema_version = 9\ndefault_profile = "ghost"\n')
    with pytest.raises(ConfigError, match="schema_version: this hybridcc reads version 1"):
        load_config()


def test_get_profile_unknown() -> None:
    with pytest.raises(NotFoundError, match='no profile named "ghost"'):
        get_profile(load_config(), "ghost")


def test_fingerprint_follows_config_and_key_hashes_never_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    first = fingerprint(load_config())
    assert fingerprint(load_config()) == first
    write_config("[proxy]\nport = 9999\n")
    assert fingerprint(load_config()) != first
    assert key_hashes(load_config()) == {}
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-1")
    hashes = key_hashes(load_config())
    assert list(hashes) == ["OPENROUTER_API_KEY"] and "sk-or-1" not in hashes["OPENROUTER_API_KEY"]
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-2")
    assert key_hashes(load_config()) != hashes
