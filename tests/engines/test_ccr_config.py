"""claude-code-router's config.json as hybridcc writes it (pure: no ccr, no network)."""

from __future__ import annotations

import pytest

from hybridcc.config import load_config
from hybridcc.engines import ccr_config
from hybridcc.errors import ConfigError
from tests.conftest import write_config


def test_build_names_the_key_variable_and_every_model_the_profiles_use() -> None:
    write_config("""
[providers.or]
engine = "ccr"
base_url = "https://openrouter.ai/api/v1/"
api_key_env = "OPENROUTER_API_KEY"
quirks = "openrouter"
[providers.local]
engine = "ccr"
base_url = "http://127.0.0.1:8080/v1"
[profiles.a]
provider = "or"
model = "m-main"
small_model = "m-small"
[[profiles.a.routes]]
when = "thinking"
use = "or/m-think"
[profiles.b]
provider = "local"
model = "qwen"
fallback = ["or/m-fallback"]
""")
    config = load_config()
    data = ccr_config.build(
        config, config.providers["or"], port=4567, apikey="client-key", profile=config.profiles["a"]
    )
    assert data["HOST"] == "127.0.0.1" and data["PORT"] == 4567 and data["APIKEY"] == "client-key"
    assert data["Providers"] == [{
        "name": "or", "api_base_url": "https://openrouter.ai/api/v1/chat/completions",
        "api_key": "$HYBRIDCC_CCR_API_KEY", "models": ["m-main", "m-small", "m-think", "m-fallback"],
        "transformer": {"use": ["openrouter"]},
    }]  # fmt: skip
    assert data["Router"] == {"default": "or,m-main"} and data["LOG"] is False
    local = ccr_config.build(config, config.providers["local"], port=1, apikey="k")
    assert local["Providers"][0]["api_key"] == "" and "transformer" not in local["Providers"][0]
    # The fingerprint ignores the port and the client key, and follows the provider key.
    again = ccr_config.build(config, config.providers["or"], port=9999, apikey="other", profile=config.profiles["a"])
    assert (
        ccr_config.fingerprint(data, "k1") == ccr_config.fingerprint(again, "k1") != ccr_config.fingerprint(data, "k2")
    )


def test_a_comma_in_the_provider_name_cannot_be_routed() -> None:
    write_config('[providers."a,b"]\nengine = "ccr"\nbase_url = "http://127.0.0.1:1/v1"\n'
                 '[profiles.p]\nprovider = "a,b"\nmodel = "m"\n')  # fmt: skip
    config = load_config()
    with pytest.raises(ConfigError, match="has a comma"):
        ccr_config.build(config, config.providers["a,b"], port=1, apikey="k")
