"""`hybridcc gateway config`: LiteLLM's proxy config from hybridcc's profiles, no secret inlined."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable

import pytest

from hybridcc import paths
from hybridcc.config import load_config
from hybridcc.gateway import litellm_config as lc
from tests.conftest import CliResult, write_config

CONFIG = """
[providers.up-openai]
api = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "UP_KEY"
[providers.up-anthropic]
api = "anthropic"
base_url = "http://127.0.0.1:9"
api_key = "sk-inline-SECRET-do-not-write"
[profiles.oa]
provider = "up-openai"
model = "big"
small_model = "small"
[profiles.an]
provider = "up-anthropic"
model = "an-main"
"""


def _data(text: str) -> dict[str, object]:
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    data: dict[str, object] = json.loads(body)  # JSON is YAML's flow style: what LiteLLM reads
    return data


def test_config_maps_profiles_and_never_inlines_a_key(cli: Callable[..., CliResult]) -> None:
    write_config(CONFIG)
    res = cli("gateway", "config", "-P", "oa", "-P", "an")
    path = paths.gateway_config_file()
    text = path.read_text()
    assert "SECRET" not in text and "SECRET" not in res.out + res.err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = _data(text)
    models = {m["model_name"]: m["litellm_params"] for m in data["model_list"]}  # type: ignore[attr-defined]
    assert models["big"] == {"model": "openai/big", "api_base": "http://127.0.0.1:9/v1",
                             "api_key": "os.environ/UP_KEY", "timeout": 600.0}  # fmt: skip
    assert models["small"]["model"] == "openai/small"
    # An inline key (or a key command) is referenced by a derived variable `gateway start` fills.
    assert models["an-main"]["model"] == "anthropic/an-main"
    assert models["an-main"]["api_key"] == "os.environ/HYBRIDCC_GATEWAY_KEY_UP_ANTHROPIC"
    assert data["general_settings"] == {"master_key": "os.environ/LITELLM_MASTER_KEY"}
    settings = data["litellm_settings"]
    assert settings["use_chat_completions_url_for_anthropic_messages"] is True  # type: ignore[index]
    assert settings["num_retries"] == 0  # type: ignore[index]
    assert "redis_host" not in data["router_settings"]  # type: ignore[operator]
    assert "UP_KEY" in res.err and "VAR" not in res.err  # the note names what LiteLLM reads


def test_default_profile_redis_and_rpm(cli: Callable[..., CliResult]) -> None:
    write_config('default_profile = "oa"\n' + CONFIG)
    res = cli("gateway", "config", "--stdout", "--redis", "redis://127.0.0.1:6390", "--redis-password-env", "RPW",
              "--rpm", "30")  # fmt: skip
    data = _data(res.out)
    assert [m["model_name"] for m in data["model_list"]] == ["big", "small"]  # type: ignore[attr-defined]
    assert all(m["litellm_params"]["rpm"] == 30 for m in data["model_list"])  # type: ignore[attr-defined]
    assert data["router_settings"] == {
        "routing_strategy": "usage-based-routing-v2", "num_retries": 0, "redis_host": "127.0.0.1",
        "redis_port": 6390, "redis_password": "os.environ/RPW", "enable_pre_call_checks": True,
    }  # fmt: skip
    assert not paths.gateway_config_file().exists()
    assert lc.referenced_env(res.out) == ["UP_KEY", "RPW", "LITELLM_MASTER_KEY"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "redis://:pw@127.0.0.1:6379", "redis://"])
def test_bad_redis_url_is_a_usage_error(cli: Callable[..., CliResult], url: str) -> None:
    write_config(CONFIG)
    res = cli("gateway", "config", "-P", "oa", "--redis", url, code=2)
    assert "redis://HOST:PORT" in res.err and "pw" not in res.err


def test_unknown_profile_is_not_found(cli: Callable[..., CliResult]) -> None:
    write_config(CONFIG)
    res = cli("gateway", "config", "-P", "nope", code=4)
    assert "nope" in res.err


def test_same_model_of_one_provider_once() -> None:
    write_config(CONFIG + '[profiles.oa2]\nprovider = "up-openai"\nmodel = "big"\n')
    config = load_config()
    models = lc.model_list(config, [config.profiles["oa"], config.profiles["oa2"]], lc.GatewayOptions())
    assert [m["model_name"] for m in models] == ["big", "small"]
