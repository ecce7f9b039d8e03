"""Built-in providers that speak Anthropic natively, and their quirks rows (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hybridcc.config.builtin import BUILTIN, merge
from hybridcc.config.quirks import QUIRKS, quirks_for
from hybridcc.config.schema import Config
from hybridcc.config.validate import validate
from hybridcc.proxy.translate.anthropic_body import resolve_tool_search, strip_foreign_thinking
from hybridcc.proxy.translate.request import to_openai

FIXTURES = Path(__file__).parent.parent / "fixtures" / "claude_code_2.1.332"

# provider: (base URL, key variable or None, auth header, profile, main model) — shared/PROVIDERS.md
NATIVE = {
    "moonshot": ("https://api.moonshot.ai/anthropic", "MOONSHOT_API_KEY", "bearer", "kimi", "kimi-k2-0905-preview"),
    "zai": ("https://api.z.ai/api/anthropic", "ZAI_API_KEY", "bearer", "glm", "glm-4.6"),
    "minimax": ("https://api.minimax.io/anthropic", "MINIMAX_API_KEY", "bearer", "minimax", "MiniMax-M2"),
    "dashscope": (
        "https://dashscope-intl.aliyuncs.com/apps/anthropic", "DASHSCOPE_API_KEY", "bearer", "qwen", "qwen3-coder-plus",
    ),
    "openrouter-anthropic": (
        "https://openrouter.ai/api", "OPENROUTER_API_KEY", "bearer", "openrouter-anthropic",
        "anthropic/claude-sonnet-4.5",
    ),
    "llamacpp": ("http://127.0.0.1:8080", None, "bearer", "llamacpp", "local"),
    "vllm": ("http://127.0.0.1:8000", None, "bearer", "vllm", "Qwen/Qwen3-Coder-30B-A3B-Instruct"),
    "lmstudio": ("http://127.0.0.1:1234", None, "bearer", "lmstudio", "qwen/qwen3-coder-30b"),
}  # fmt: skip


@pytest.fixture(scope="module")
def config() -> Config:
    cfg, problems = validate(merge({}), source=None)
    assert problems == []
    assert cfg is not None
    return cfg


@pytest.mark.parametrize("name", sorted(NATIVE))
def test_native_provider_builtin(config: Config, name: str) -> None:
    base_url, key_env, auth, profile, model = NATIVE[name]
    provider = config.providers[name]
    assert provider.api == "anthropic"  # passthrough: no translation
    assert provider.base_url == base_url
    assert provider.api_key_env == key_env
    assert provider.needs_key is (key_env is not None)
    assert quirks_for(provider).auth == auth
    assert config.profiles[profile].provider == name
    assert config.profiles[profile].model == model


def test_openrouter_keeps_both_wires(config: Config) -> None:
    assert config.providers["openrouter"].api == "openai"
    assert config.providers["openrouter"].base_url == "https://openrouter.ai/api/v1"
    assert config.providers["openrouter-anthropic"].quirks == "openrouter"


def test_local_templates_allow_slow_prefill(config: Config) -> None:
    for name in ("llamacpp", "vllm", "lmstudio"):
        assert config.providers[name].timeout >= 1800  # a 18.7k-token prompt takes 335 s on CPU


def test_every_builtin_quirks_row_exists() -> None:
    for name, table in BUILTIN["providers"].items():
        assert table["quirks"] in QUIRKS, name


def test_user_override_of_a_local_template(config: Config) -> None:
    cfg, problems = validate(
        merge({"providers": {"vllm": {"base_url": "http://127.0.0.1:9000"}}, "profiles": {"vllm": {"model": "mine"}}}),
        source=None,
    )
    assert problems == [] and cfg is not None
    assert cfg.providers["vllm"].base_url == "http://127.0.0.1:9000"
    assert cfg.providers["vllm"].quirks == "vllm"
    assert cfg.profiles["vllm"].model == "mine"


def captured(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def passthrough_body(body: dict[str, Any], row: str) -> dict[str, Any]:
    """What the quirks row asks passthrough to change (the lead's prepare_body applies the same)."""
    q = QUIRKS[row]
    out = {k: v for k, v in body.items() if k not in q.strip_fields}
    out = strip_foreign_thinking(out, keep=q.keep_thinking, require_signature=q.signed_thinking)
    return out if q.tool_search else resolve_tool_search(out)


def test_dashscope_gets_no_thinking_field() -> None:
    body = captured("unknown_model_first_turn")
    assert "thinking" not in passthrough_body(body, "dashscope")  # Qwen-Coder has no thinking
    assert passthrough_body(body, "zai")["thinking"] == body["thinking"]


@pytest.mark.parametrize(
    "row", ["moonshot", "zai", "minimax", "dashscope", "openrouter", "llamacpp", "vllm", "lmstudio"]
)
def test_non_anthropic_rows_get_no_tool_references(row: str) -> None:
    out = passthrough_body(captured("toolsearch_tool_reference"), row)
    text = json.dumps(out)
    assert '"tool_reference"' not in text and "defer_loading" not in text
    assert "mcp__srv__echo" in [t["name"] for t in out["tools"]]


def test_anthropic_row_passes_tool_search_through() -> None:
    body = captured("toolsearch_tool_reference")
    assert passthrough_body(body, "anthropic") == body


def test_minimax_and_moonshot_translate_like_their_docs() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                                              {"type": "tool_use", "id": "a", "name": "Read", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}}]}]},
        ]
    }  # fmt: skip
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["minimax"])
    assert "image_url" not in json.dumps(payload)  # MiniMax: text and tools only
    payload, _ = to_openai(body, model="m", quirks=QUIRKS["moonshot"])
    assert payload["messages"][1]["reasoning_content"] == "t"  # kimi-k2-thinking keeps its reasoning
