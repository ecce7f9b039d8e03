"""What an Agent SDK query really cost: ``total_cost_usd`` at the providers' prices (issue 15).

Claude Code prices every model at Claude's list prices (its ``ResultMessage.total_cost_usd`` and
``model_usage[…]["costUSD"]`` for ``qwen/qwen3-coder`` are Sonnet's). The tokens it reports are
right — the proxy hands the provider's counts back — so each model's tokens are priced again
here, with the model the proxy sends upstream (``provider/model`` names and slot aliases resolved
the way the proxy resolves them) and hybridcc's price lookup (config overrides, local = $0, the
catalog). A model without a known price makes the total unknown (None), never a guess.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from hybridcc.config.schema import Config, Profile

R = TypeVar("R")

# ResultMessage.model_usage keys (camelCase, as the CLI writes them) → Price.cost keywords.
_TOKENS = {
    "inputTokens": "input_tokens",
    "outputTokens": "output_tokens",
    "cacheReadInputTokens": "cache_read_tokens",
    "cacheCreationInputTokens": "cache_write_tokens",
}


def _model_costs(config: Config, profile: Profile, model_usage: Mapping[str, Any]) -> dict[str, float | None]:
    from hybridcc.proxy.routing import upstream_model
    from hybridcc.usage.prices import Pricer

    pricer = Pricer(config)
    out: dict[str, float | None] = {}
    for name, usage in model_usage.items():
        provider, model = upstream_model(config, profile, name)
        price = pricer.price(provider.name, model)
        tokens = {kw: int(usage.get(key) or 0) for key, kw in _TOKENS.items()} if isinstance(usage, Mapping) else {}
        out[name] = price.cost(**tokens) if price is not None and tokens else None
    return out


def _total(costs: Mapping[str, float | None]) -> float | None:
    if not costs or any(c is None for c in costs.values()):
        return None
    return round(sum(c for c in costs.values() if c is not None), 12)


def corrected_cost(result: Any, profile: Profile, config: Config) -> float | None:
    """The cost of ``result`` (a ``ResultMessage``) at the providers' prices, in USD; None when a
    model it used has no known price (or the CLI reported no per-model usage)."""
    return _total(_model_costs(config, profile, getattr(result, "model_usage", None) or {}))


def correct_result(result: R, profile: Profile, config: Config) -> R:
    """A copy of ``result`` whose ``total_cost_usd`` and per-model ``costUSD`` are at the providers'
    prices; Claude Code's own figure stays in each model's ``claudeCostUSD``."""
    usage = getattr(result, "model_usage", None)
    if not dataclasses.is_dataclass(result) or isinstance(result, type) or not isinstance(usage, Mapping):
        return result
    costs = _model_costs(config, profile, usage)
    fixed = {
        name: ({**u, "claudeCostUSD": u.get("costUSD"), "costUSD": costs[name]} if isinstance(u, Mapping) else u)
        for name, u in usage.items()
    }
    return dataclasses.replace(result, total_cost_usd=_total(costs), model_usage=fixed)
