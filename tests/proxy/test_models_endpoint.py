"""The `/model` picker's data (GET /v1/models, the launch variables) and unknown model names (issue 13)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hybridcc import paths
from hybridcc.config.load import load_config
from hybridcc.envplan import build_env, plan
from hybridcc.proxy.models import FALLBACK_HEADER, PICKER_PREFIX, unwrap
from tests.conftest import write_config
from tests.fakes.upstream import FakeUpstream, Handler, anthropic_text_stream, openai_text_stream
from tests.helpers import wait_for
from tests.proxy.conftest import RunningProxy, config_text

Start = Callable[..., RunningProxy]
Up = Callable[[Handler], FakeUpstream]
MSG = {"max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
# What Claude Code keeps from a gateway's list (read in the binaries, shared/GATEWAY.md):
# 2.1.197 keeps ids starting with claude/anthropic, 2.1.223+ ids containing them.
FILTER_197 = re.compile(r"^(claude|anthropic)", re.I)
FILTER_332 = re.compile(r"(claude|anthropic)", re.I)
LOCAL_EXTRA = """
[providers.cloud]
api = "openai"
base_url = "https://api.example.invalid/v1"
api_key_env = "FAKE_OPENAI_KEY"
[profiles.cloud]
provider = "cloud"
model = "vendor/cloud-model"
[profiles.private]
provider = "fo"
model = "big-model"
privacy = "local"
"""


def _models(proxy: RunningProxy, profile: str) -> dict[str, Any]:
    r = httpx.get(f"{proxy.url}/p/{profile}/v1/models?limit=1000", headers={"authorization": f"Bearer {proxy.token}"})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def _last_request_line(count: int) -> dict[str, Any]:
    """The request log's last line once it holds ``count`` /v1/messages lines (written after the answer)."""
    log = paths.request_log_file()

    def lines() -> list[dict[str, Any]]:
        text = log.read_text() if log.exists() else ""
        found = [json.loads(x) for x in text.splitlines() if x.strip()]
        return [x for x in found if x.get("path") == "/v1/messages"]

    return wait_for(lambda: len(lines()) >= count and lines(), what="the request log line")[-1]


def test_models_list_is_what_claude_code_reads(keys: dict[str, str], start_proxy: Start) -> None:
    proxy = start_proxy(config_text(extra=LOCAL_EXTRA))
    data = _models(proxy, "fo")
    rows = data["data"]
    assert data["has_more"] is False and data["first_id"] == rows[0]["id"] and data["last_id"] == rows[-1]["id"]
    assert all(r["type"] == "model" and r["created_at"] for r in rows)
    by_id = {r["id"]: r for r in rows}
    # The session's own models under their plain names (any client may list them; Claude Code's
    # filter drops them, its tier rows show them), then the other profiles' models as picker ids,
    # the default profile first; "private" shares fo/big-model, and the built-in local templates
    # nobody set up are left out.
    assert list(by_id) == ["big-model", "small-model", "huge-model", "anthropic:fa/fa-main", "anthropic:fa/fa-small",
                           "anthropic:cloud/vendor/cloud-model"]  # fmt: skip
    assert by_id["small-model"]["display_name"] == "fo · small-model"
    assert by_id["big-model"]["description"] == "profile fo (this session), main"
    # Every other id survives both releases' filters, so nothing is silently dropped from the picker.
    own = ("big-model", "small-model", "huge-model")
    assert all(FILTER_197.match(i) and FILTER_332.search(i) for i in by_id if i not in own)
    assert not any(FILTER_332.search(i) for i in own)
    assert by_id["anthropic:fa/fa-main"]["display_name"] == "fa · fa-main"
    assert by_id["anthropic:fa/fa-main"]["description"] == "profile fa, main/big · fa/fa-main"
    assert by_id["anthropic:cloud/vendor/cloud-model"]["display_name"] == "cloud · cloud-model"
    assert all(len(r["description"]) <= 100 for r in rows)


def test_local_only_session_lists_only_local_models(keys: dict[str, str], start_proxy: Start) -> None:
    proxy = start_proxy(config_text(extra=LOCAL_EXTRA))
    ids = [r["id"] for r in _models(proxy, "private")["data"]]
    assert ids == [
        "big-model",
        "anthropic:fo/huge-model",
        "anthropic:fo/small-model",
        "anthropic:fa/fa-main",
        "anthropic:fa/fa-small",
    ]
    assert "anthropic:cloud/vendor/cloud-model" in [r["id"] for r in _models(proxy, "fa")["data"]]


def test_picked_model_reaches_its_provider(keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    fo = upstream(lambda _r: openai_text_stream(["from fo"]))
    fa = upstream(lambda _r: anthropic_text_stream(["from fa"]))
    proxy = start_proxy(config_text(fo.url, fa.url))
    r = proxy.post("/p/fo/v1/messages", {**MSG, "model": PICKER_PREFIX + "fa/fa-small", "stream": True})
    assert r.status_code == 200 and "from fa" in r.text and FALLBACK_HEADER not in r.headers
    assert fa.bodies("/v1/messages")[-1]["model"] == "fa-small" and not fo.requests


def test_unknown_model_is_warned_logged_and_flagged(
    keys: dict[str, str], start_proxy: Start, upstream: Up, caplog: pytest.LogCaptureFixture
) -> None:
    fo = upstream(lambda _r: openai_text_stream(["ok"]))
    proxy = start_proxy(config_text(fo.url))
    caplog.set_level(logging.WARNING, logger="hybridcc.proxy")
    for _ in range(2):
        r = proxy.post("/p/fo/v1/messages", {**MSG, "model": "gpt-4o", "stream": True})
        assert r.status_code == 200 and r.headers[FALLBACK_HEADER] == "gpt-4o -> fo/big-model"
    assert fo.bodies()[-1]["model"] == "big-model"
    warnings = [rec.getMessage() for rec in caplog.records if "gpt-4o" in rec.getMessage()]
    assert len(warnings) == 1 and "profile fo's main model big-model" in warnings[0]  # once per name
    line = _last_request_line(2)
    assert "unknown model name" in line["model_note"] and line["model_requested"] == "gpt-4o"


@pytest.mark.parametrize("name", ["big-model", "small-model", "sonnet", "claude-haiku-4-5", "fa/fa-main"])
def test_known_names_are_not_flagged(name: str, keys: dict[str, str], start_proxy: Start, upstream: Up) -> None:
    fo = upstream(lambda _r: openai_text_stream(["ok"]))
    fa = upstream(lambda _r: anthropic_text_stream(["ok"]))
    proxy = start_proxy(config_text(fo.url, fa.url))
    r = proxy.post("/p/fo/v1/messages", {**MSG, "model": name, "stream": True})
    assert r.status_code == 200 and FALLBACK_HEADER not in r.headers
    line = _last_request_line(1)
    assert line["model_requested"] == name and "model_note" not in line


def test_unwrap() -> None:
    assert unwrap("anthropic:openrouter/google/gemini-2.5-pro") == "openrouter/google/gemini-2.5-pro"
    assert unwrap("anthropic/claude-sonnet-4-6") == "anthropic/claude-sonnet-4-6"
    assert unwrap("qwen2.5:0.5b") == "qwen2.5:0.5b"


def test_launch_env_turns_on_discovery_and_names_the_rows(keys: dict[str, str]) -> None:
    write_config(config_text(extra=LOCAL_EXTRA))
    cfg = load_config()
    env = build_env(cfg, cfg.profiles["fo"], base_url="http://127.0.0.1:1/p/fo", token="hcc-x")
    assert env["CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY"] == "1"
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL_NAME"] == "fo · big-model"
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL_NAME"] == env["ANTHROPIC_DEFAULT_FABLE_MODEL_NAME"] == "fo · huge-model"
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL_NAME"] == "fo · small-model"
    assert "profile fo, small" in str(env["ANTHROPIC_DEFAULT_HAIKU_MODEL_DESCRIPTION"])
    # The one row every release shows (2.1.197 skips discovery): another profile's model.
    assert env["ANTHROPIC_CUSTOM_MODEL_OPTION"] == "anthropic:fa/fa-main"
    assert env["ANTHROPIC_CUSTOM_MODEL_OPTION_NAME"] == "fa · fa-main"
    # `run --model X`: the tiers name X.
    env = build_env(cfg, cfg.profiles["fo"], base_url="http://127.0.0.1:1/p/fo", token="hcc-x", model="other")
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL_NAME"] == env["ANTHROPIC_DEFAULT_HAIKU_MODEL_NAME"] == "fo · other"


def test_local_only_plan_offers_no_cloud_custom_row(keys: dict[str, str]) -> None:
    write_config("""
default_profile = "cloud"
[providers.fo]
api = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "FAKE_OPENAI_KEY"
[providers.cloud]
api = "openai"
base_url = "https://api.example.invalid/v1"
api_key_env = "FAKE_OPENAI_KEY"
[profiles.cloud]
provider = "cloud"
model = "vendor/cloud-model"
[profiles.mine]
provider = "fo"
model = "m1"
""")
    cfg = load_config()
    env = plan(cfg, cfg.profiles["mine"], token="hcc-x", port=1).env
    assert env["ANTHROPIC_CUSTOM_MODEL_OPTION"] == "anthropic:cloud/vendor/cloud-model"
    env = plan(cfg, cfg.profiles["mine"], token="hcc-x", port=1, local_only=True).env
    assert "cloud" not in env.get("ANTHROPIC_CUSTOM_MODEL_OPTION", "")  # the proxy would refuse it here
