"""The `[providers.NAME] tool_repair` key: read, validated, and its default (issue 17)."""

from __future__ import annotations

from typing import Any

from hybridcc.config.validate import validate
from hybridcc.proxy.translate.repair import tool_repair_enabled


def config(**provider: Any) -> dict[str, Any]:
    return {
        "providers": {"box": {"api": "openai", "base_url": "http://127.0.0.1:8080/v1", **provider}},
        "profiles": {"p": {"provider": "box", "model": "qwen"}},
    }


def test_unset_means_the_default_for_the_provider() -> None:
    cfg, problems = validate(config(), source=None)
    assert problems == []
    assert cfg is not None
    assert cfg.providers["box"].tool_repair is None
    assert tool_repair_enabled(cfg.providers["box"]) is True  # a loopback base_url


def test_set_explicitly() -> None:
    cfg, problems = validate(config(tool_repair=False), source=None)
    assert problems == []
    assert cfg is not None
    assert tool_repair_enabled(cfg.providers["box"]) is False


def test_wrong_type_is_reported_with_its_key() -> None:
    cfg, problems = validate(config(tool_repair="yes"), source=None)
    assert cfg is None
    assert problems == ['providers.box.tool_repair: expected a boolean, got "yes"']
