"""Cost arithmetic: catalog, overrides, cache prices, fees, electricity, unknown models, baselines."""

from __future__ import annotations

import json

import pytest

from hybridcc.config.load import load_config
from hybridcc.usage.prices import (
    Price,
    Pricer,
    format_usd,
    parse_tokens,
    savings_pct,
    shipped_catalog,
)
from tests.usage.conftest import record, write_config


def pricer(extra: str = "") -> Pricer:
    if extra:
        write_config(extra)
    return Pricer(load_config(), shipped_catalog())


def test_catalog_is_dated_and_sourced() -> None:
    cat = shipped_catalog()
    assert cat.version
    for key, entry in cat.models.items():
        assert "/" in key
        assert entry["input"] >= 0 and entry["output"] >= 0, key
        assert entry["source"] and entry["date"], key
    # The built-in profiles of these providers are priced (local servers at $0); others show
    # "unknown" until a verified price is shipped or configured.
    priced = {"anthropic", "openrouter", "openrouter-anthropic", "ollama", "deepseek", "gemini", "openai",
              "llamacpp", "vllm", "lmstudio"}  # fmt: skip
    config = load_config()
    p = Pricer(config, cat)
    for profile in config.profiles.values():
        if profile.provider in priced:
            for model in profile.models():
                assert p.price(profile.provider, model) is not None, (profile.name, model)
    for model in (config.usage.baseline_model, config.usage.baseline_small_model, config.usage.baseline_big_model):
        assert p.claude_price(model) is not None, model


def test_catalog_price_with_cache_prices() -> None:
    p = pricer()
    price = p.claude_price("claude-sonnet-4-6")
    assert price is not None
    cost = price.cost(
        input_tokens=1_000_000, output_tokens=1_000_000, cache_read_tokens=1_000_000, cache_write_tokens=1_000_000
    )
    assert cost == pytest.approx(3 + 15 + 0.30 + 3.75)


def test_dated_claude_ids_find_their_price() -> None:
    p = pricer()
    assert p.claude_price("claude-sonnet-4-5-20250929") == p.claude_price("claude-sonnet-4-5")
    assert p.claude_price("claude-opus-4-7[1m]") == p.claude_price("claude-opus-4-7")


def test_missing_cache_price_charges_the_input_price() -> None:
    price = Price(input=2.0, output=8.0)
    assert price.cost(cache_read_tokens=1_000_000, cache_write_tokens=1_000_000) == pytest.approx(4.0)


def test_openrouter_fee_applies_to_catalog_prices() -> None:
    p = pricer()
    price = p.price("openrouter", "qwen/qwen3-coder")
    assert price is not None and price.fee_pct == 5.5
    assert price.cost(input_tokens=1_000_000) == pytest.approx(0.20 * 1.055)


def test_a_custom_provider_finds_prices_through_its_quirks_row() -> None:
    p = pricer(
        """
[providers.myrouter]
api = "openai"
base_url = "https://openrouter.ai/api/v1"
quirks = "openrouter"
"""
    )
    assert p.price("myrouter", "qwen/qwen3-coder") == p.price("openrouter", "qwen/qwen3-coder")


def test_unknown_model_cost_is_unknown_never_zero() -> None:
    p = pricer()
    assert p.price("deepseek", "deepseek-v9-imaginary") is None
    cost, baseline, base_model = p.price_row(record(model_used="deepseek-v9-imaginary", model_requested="x"))
    assert cost is None
    assert baseline == pytest.approx(0.60)  # the baseline is still known: Sonnet 4.6 at $3/$15
    assert base_model == "claude-sonnet-4-6"


def test_overrides_exact_then_wildcard() -> None:
    p = pricer(
        """
[prices."deepseek/deepseek-chat"]
input = 0.27
output = 1.10
cache_read = 0.07
[prices."deepseek/*"]
input = 1
output = 2
"""
    )
    exact = p.price("deepseek", "deepseek-chat")
    assert exact is not None and (exact.input, exact.output, exact.cache_read, exact.source) == (
        0.27,
        1.10,
        0.07,
        "config",
    )
    wild = p.price("deepseek", "deepseek-reasoner")
    assert wild is not None and (wild.input, wild.output) == (1.0, 2.0)


def test_local_provider_is_free_and_electricity_is_per_second() -> None:
    p = pricer(
        """
[providers.llamacpp]
api = "anthropic"
base_url = "http://127.0.0.1:8080"
[prices."ollama/*"]
power_watts = 400
usd_per_kwh = 0.30
"""
    )
    free = p.price("llamacpp", "qwen")
    assert free is not None and free.cost(input_tokens=10**6, output_tokens=10**6, seconds=100) == 0.0
    lit = p.price("ollama", "qwen3-coder:30b")
    assert lit is not None
    # 400 W for one hour at $0.30/kWh = $0.12, whatever the tokens.
    assert lit.cost(input_tokens=10**6, seconds=3600) == pytest.approx(0.12)
    cost, baseline, _ = p.price_row(
        record(
            provider="ollama",
            profile="ollama",
            model_used="qwen3-coder:30b",
            model_requested="qwen3-coder:30b",
            latency_ms=36_000.0,
        )
    )
    assert cost == pytest.approx(0.0012)  # 36 s at 400 W = 0.004 kWh
    assert baseline == pytest.approx(0.60)  # Anthropic's price never includes our electricity


def test_baseline_follows_the_slot_or_the_named_claude_model() -> None:
    p = pricer()
    assert p.baseline_model("deepseek", "deepseek-chat") == "claude-sonnet-4-6"
    assert p.baseline_model("deepseek", "deepseek-reasoner") == "claude-opus-4-7"  # the profile's big_model
    assert p.baseline_model("gemini", "gemini-2.5-flash") == "claude-haiku-4-5"  # the profile's small_model
    assert p.baseline_model("gemini", "haiku") == "claude-haiku-4-5"
    assert p.baseline_model("deepseek", "claude-opus-4-1-20250805") == "claude-opus-4-1-20250805"
    _, baseline, _ = p.price_row(record(model_requested="claude-opus-4-1-20250805"))
    assert baseline == pytest.approx(1.5 + 1.5)  # Opus 4.1: $15/$75 on 100k + 20k


def test_savings_rounding_never_overclaims() -> None:
    assert savings_pct(0.225, 0.60) == 62  # 62.5 → 62
    assert savings_pct(0.049, 0.60) == 92
    assert savings_pct(0.043, 0.60) == 93
    assert savings_pct(0.633, 0.60) == -6  # -5.5%: a loss is never understated
    assert savings_pct(0.0, 0.60) == 100
    assert savings_pct(None, 0.60) is None
    assert savings_pct(0.1, 0) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.6, "$0.60"), (3.0, "$3.00"), (0.225, "$0.225"), (0.049, "$0.049"), (0.043, "$0.043"), (0.0, "$0.00"),
     (0.0012, "$0.0012"), (12.5, "$12.50"), (None, "unknown")],
)  # fmt: skip
def test_format_usd(value: float | None, text: str) -> None:
    assert format_usd(value) == text


def test_parse_tokens() -> None:
    assert parse_tokens("100k") == 100_000
    assert parse_tokens("1.5M") == 1_500_000
    assert parse_tokens("2500") == 2500
    with pytest.raises(ValueError, match="100k"):
        parse_tokens("lots")


def test_config_rejects_bad_price_tables(cli) -> None:  # type: ignore[no-untyped-def]
    from hybridcc.config.load import check_data

    _, problems = check_data(
        {
            "prices": {
                "nomodel": {"input": 1, "output": 2},
                "a/b": {"input": 1},
                "a/c": {"input": -1, "output": 1, "colour": "red"},
                "a/d": {"power_watts": 300},
            },
            "usage": {"retention_days": -1},
        },
        None,
    )
    text = "\n".join(problems)
    assert 'prices."nomodel": expected a "PROVIDER/MODEL"' in text
    assert 'prices."a/b": set both input and output' in text
    assert 'prices."a/c".input: expected a number >= 0' in text
    assert 'prices."a/c".colour: unknown key' in text
    assert 'prices."a/d": set both power_watts and usd_per_kwh' in text
    assert "usage.retention_days" in text


def test_refreshed_catalog_wins_and_a_broken_one_falls_back() -> None:
    from hybridcc.usage.prices import catalog_file, load_catalog

    path = catalog_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "test-1", "models": {"x/y": {"input": 1, "output": 2}}}))
    assert load_catalog().version == "test-1"
    path.write_text("{not json")
    assert load_catalog().version == shipped_catalog().version
