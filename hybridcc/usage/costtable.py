"""`hybridcc cost`: what one scenario (default 100k input + 20k output tokens) costs on every
configured profile, next to the Claude baselines, with the savings against the main baseline.

With the design's prices put in as overrides it reproduces the design's table exactly:
$0.60 (Sonnet 4.5), $3.00 (Opus 4.1), $0.225 (Gemini 2.5 Pro, 62%), $0.049 (DeepSeek V3, 92%),
$0.043 (Llama 3.3 70B, 93%).
"""

from __future__ import annotations

from typing import Any, Final

from hybridcc.config.schema import Config
from hybridcc.usage.prices import Pricer, format_usd, is_local, savings_pct

JSON_SCHEMA: Final = "hybridcc.cost/1"


def scenario(
    config: Config,
    *,
    input_tokens: int = 100_000,
    output_tokens: int = 20_000,
    cache_read_tokens: int = 0,
    pricer: Pricer | None = None,
) -> dict[str, Any]:
    """The table as data (the documented `--json` shape)."""
    pricer = pricer or Pricer(config)
    tokens = {"input_tokens": input_tokens, "output_tokens": output_tokens, "cache_read_tokens": cache_read_tokens}
    usage = config.usage
    baselines: list[dict[str, Any]] = []
    for slot, model in (("main", usage.baseline_model), ("big", usage.baseline_big_model)):
        price = pricer.claude_price(model)
        baselines.append({"slot": slot, "model": model, "cost_usd": price.cost(**tokens) if price else None})
    reference: float | None = baselines[0]["cost_usd"]
    profiles = []
    for name, profile in config.profiles.items():
        provider = config.providers.get(profile.provider)
        price = pricer.price(profile.provider, profile.model)
        cost = price.cost(**tokens) if price is not None else None
        profiles.append(
            {
                "profile": name,
                "provider": profile.provider,
                "model": profile.model,
                "cost_usd": cost,
                "savings_pct": savings_pct(cost, reference),
                "local": bool(provider and is_local(provider)),
                "price_source": price.source if price is not None else None,
            }
        )
    return {
        "schema": JSON_SCHEMA,
        "price_catalog": pricer.version,
        "scenario": tokens,
        "baselines": baselines,
        "profiles": profiles,
    }


def _tokens(n: int) -> str:
    if n >= 1_000_000 and n % 100_000 == 0:
        return f"{n / 1_000_000:g}M"
    if n >= 1000 and n % 100 == 0:
        return f"{n / 1000:g}k"
    return str(n)


def render(table: dict[str, Any]) -> str:
    s = table["scenario"]
    head = f"{_tokens(s['input_tokens'])} input + {_tokens(s['output_tokens'])} output tokens"
    if s["cache_read_tokens"]:
        head += f" + {_tokens(s['cache_read_tokens'])} cache reads"
    rows: list[tuple[str, str, str, str]] = []
    for b in table["baselines"]:
        note = "baseline" if b["slot"] == "main" else ""
        rows.append(("Claude", f"anthropic/{b['model']}", format_usd(b["cost_usd"]), note))
    for p in table["profiles"]:
        saving = f"{p['savings_pct']}%" if p["savings_pct"] is not None else ""
        if p["cost_usd"] is None:
            saving = "no price: add [prices] in config"
        elif p["local"] and p["price_source"] == "local":
            saving += " (local: electricity not counted)"
        rows.append((p["profile"], f"{p['provider']}/{p['model']}", format_usd(p["cost_usd"]), saving.strip()))
    widths = [max(len(r[i]) for r in [*rows, ("profile", "model", "cost", "")]) for i in range(3)]
    lines = [f"Cost of {head} (prices: catalog {table['price_catalog']} + config overrides)"]
    lines.append(f"{'profile':<{widths[0]}}  {'model':<{widths[1]}}  {'cost':>{widths[2]}}  saved")
    lines += [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}".rstrip() for a, b, c, d in rows]
    return "\n".join(lines)
