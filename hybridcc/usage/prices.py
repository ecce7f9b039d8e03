"""Prices: the dated catalog shipped with the package, config overrides, and the cost of one request.

Prices are USD per million tokens. Lookup for ``(provider, model)``, first hit wins:

1. config ``[prices."PROVIDER/MODEL"]``, then ``[prices."PROVIDER/*"]``;
2. a local provider (Ollama, or a base URL on this machine) costs $0 of API price;
3. the catalog: the refreshed copy from `hybridcc prices update` if there is one, else the
   shipped ``prices.json``, by ``PROVIDER/MODEL`` then by the provider's quirks row (a user's
   ``[providers.my-router]`` with ``quirks = "openrouter"`` finds OpenRouter's prices).

An unknown model has an unknown cost (``None``): never 0 and never a guess (issue 14).
Cached tokens of a model without a cache price are charged its input price. Electricity
(``power_watts`` and ``usd_per_kwh`` in an override) adds its cost for the request's duration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from hybridcc.config.schema import Config, PriceOverride, Profile, Provider

_MILLION: Final = 1_000_000
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
# Claude ids carry a release date or a window suffix the price does not depend on.
_CLAUDE_SUFFIX: Final = re.compile(r"(-\d{8}|-latest|\[1m\])$")
_MEMO_MAX: Final = 4096
_SLOTS: Final = {"haiku": "small", "sonnet": "main", "opus": "big"}


@dataclass(frozen=True, slots=True)
class Price:
    """One model's price; ``cost`` is the one place a request is priced."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    fee_pct: float = 0.0  # e.g. OpenRouter's fee on top of its list prices
    power_watts: float | None = None
    usd_per_kwh: float | None = None
    source: str = ""

    def cost(
        self,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        seconds: float = 0.0,
    ) -> float:
        cr = self.input if self.cache_read is None else self.cache_read
        cw = self.input if self.cache_write is None else self.cache_write
        total = (
            input_tokens * self.input + output_tokens * self.output + cache_read_tokens * cr + cache_write_tokens * cw
        ) / _MILLION
        if self.fee_pct:
            total *= 1 + self.fee_pct / 100
        if self.power_watts and self.usd_per_kwh and seconds > 0:
            total += self.power_watts * seconds / 3_600_000 * self.usd_per_kwh
        # Rounded to 1e-12 USD so float noise never shows ($0.043, not $0.043000000000000003)
        # and never tips a saving across a rounding boundary (62.5% must stay 62.5%).
        return round(total, 12)


def _d(value: float | int) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def savings_pct(cost: float | None, baseline: float | None) -> int | None:
    """Whole percent saved against ``baseline``, to the nearest; an exact half rounds down
    (62.5 → 62, -5.5 → -6) so a saving is never overclaimed and a loss never understated."""
    if cost is None or not baseline:
        return None
    pct = (1 - _d(cost) / _d(baseline)) * 100
    return int((pct - Decimal("0.5")).quantize(Decimal(1), rounding=ROUND_CEILING))


def format_usd(value: float | None) -> str:
    """$0.60, $3.00, $0.225, $0.049; small amounts keep significant digits; None is "unknown"."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0.00"
    if abs(value) < 0.01:
        return f"${value:.4f}".rstrip("0")
    text = f"{value:.3f}"
    if text.endswith("0"):
        text = text[:-1]
    return f"${text}"


def parse_tokens(text: str) -> int:
    """``100k`` → 100000, ``1.5M`` → 1500000, ``2500`` → 2500; ValueError on anything else."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise ValueError(f"not a token count: {text!r} (examples: 2500, 100k, 1.5M)")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()]
    return int(Decimal(m.group(1)) * scale)


# --- the catalog -------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    version: str
    models: Mapping[str, Mapping[str, Any]]
    providers: Mapping[str, Mapping[str, Any]]
    origin: str  # "shipped" or the path of the refreshed copy


def catalog_file() -> Path:
    """Where `hybridcc prices update` keeps the refreshed catalog (the shipped one is the fallback)."""
    from hybridcc import paths

    return paths.data_dir() / "prices.json"  # to move into hybridcc.paths (price_catalog_file)


def shipped_catalog() -> Catalog:
    text = resources.files("hybridcc.usage").joinpath("prices.json").read_text(encoding="utf-8")
    return _parse(json.loads(text), "shipped")


def _parse(data: Mapping[str, Any], origin: str) -> Catalog:
    models = data.get("models")
    if not isinstance(models, dict) or not isinstance(data.get("version"), str):
        raise ValueError("not a hybridcc price catalog (needs a version and a models table)")
    providers = data.get("providers") if isinstance(data.get("providers"), dict) else {}
    return Catalog(version=data["version"], models=models, providers=providers or {}, origin=origin)


@lru_cache(maxsize=4)
def _load_catalog(path: str, mtime: float) -> Catalog:
    return _parse(json.loads(Path(path).read_text(encoding="utf-8")), path)


def load_catalog() -> Catalog:
    """The refreshed catalog when present and readable, else the one shipped in the package."""
    path = catalog_file()
    try:
        return _load_catalog(str(path), path.stat().st_mtime)
    except (OSError, ValueError):
        # A missing or damaged refresh never breaks pricing: the shipped file is the fallback.
        return shipped_catalog()


def _entry_price(entry: Mapping[str, Any], fee_pct: float) -> Price | None:
    try:
        return Price(
            input=float(entry["input"]),
            output=float(entry["output"]),
            cache_read=float(entry["cache_read"]) if entry.get("cache_read") is not None else None,
            cache_write=float(entry["cache_write"]) if entry.get("cache_write") is not None else None,
            fee_pct=fee_pct,
            source=str(entry.get("source", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _override_price(o: PriceOverride) -> Price:
    return Price(
        input=o.input or 0.0,  # both set: the caller checked
        output=o.output or 0.0,
        cache_read=o.cache_read,
        cache_write=o.cache_write,
        power_watts=o.power_watts,
        usd_per_kwh=o.usd_per_kwh,
        source="config",
    )


def is_local(provider: Provider) -> bool:
    """Runs on this machine: Ollama, or a base URL on a loopback name (llama.cpp, LM Studio, vLLM)."""
    if provider.api == "ollama":
        return True
    host = urlsplit(provider.base_url or "").hostname or ""
    return host in _LOCAL_HOSTS or host.startswith("127.")


def _normalise(model: str) -> str:
    return _CLAUDE_SUFFIX.sub("", model) if model.lower().startswith("claude") else model


class Pricer:
    """Prices requests for one config and one catalog. Cheap to call; safe to share across threads."""

    def __init__(self, config: Config, catalog: Catalog | None = None) -> None:
        self.config = config
        self.catalog = catalog or load_catalog()
        # Config and catalog never change for a Pricer: lookups are memoised (the proxy's
        # metrics price every request; a dict hit keeps that to microseconds).
        self._prices: dict[tuple[str, str], Price | None] = {}
        self._baselines: dict[tuple[str, str], tuple[str, Price | None]] = {}

    @property
    def version(self) -> str:
        return self.catalog.version

    def price(self, provider_name: str, model: str) -> Price | None:
        key = (provider_name, model)
        if key not in self._prices:
            if len(self._prices) >= _MEMO_MAX:  # model names come from clients: stay bounded
                self._prices.clear()
            self._prices[key] = self._lookup(provider_name, model)
        return self._prices[key]

    def _lookup(self, provider_name: str, model: str) -> Price | None:
        prices = self.config.prices
        override = next(
            (
                prices[k]
                for k in (f"{provider_name}/{model}", f"{provider_name}/{_normalise(model)}", f"{provider_name}/*")
                if k in prices
            ),
            None,
        )
        if override is not None and override.input is not None and override.output is not None:
            return _override_price(override)
        base = self._base_price(provider_name, model)
        if override is None:
            return base
        # An electricity-only override: the API price stays (a local model's is $0).
        return replace(
            base or Price(input=0.0, output=0.0),
            power_watts=override.power_watts,
            usd_per_kwh=override.usd_per_kwh,
            source="config",
        )

    def _base_price(self, provider_name: str, model: str) -> Price | None:
        provider = self.config.providers.get(provider_name)
        if provider is not None and is_local(provider):
            return Price(input=0.0, output=0.0, source="local")
        rows = [provider_name]
        if provider is not None and provider.quirks not in rows:
            rows.append(provider.quirks)
        for row in rows:
            for name in dict.fromkeys((model, _normalise(model))):
                entry = self.catalog.models.get(f"{row}/{name}")
                if entry is not None:
                    fee = self.catalog.providers.get(row, {}).get("fee_pct", 0.0)
                    return _entry_price(entry, float(fee or 0.0))
        return None

    def claude_price(self, model: str) -> Price | None:
        """Anthropic's list price (or the user's ``[prices."anthropic/…"]``) for a Claude model."""
        prices = self.config.prices
        norm = _normalise(model)
        for key in (f"anthropic/{model}", f"anthropic/{norm}"):
            o = prices.get(key)
            if o is not None and o.input is not None and o.output is not None:
                return _override_price(o)
        entry = self.catalog.models.get(f"anthropic/{norm}")
        return _entry_price(entry, 0.0) if entry is not None else None

    def baseline_model(self, profile_name: str, model_requested: str) -> str:
        """The Claude model the request stands in for.

        A request naming a Claude model is priced as that model. Otherwise (hybridcc points every
        Claude Code slot at the provider's models) the slot decides: the profile's ``big_model``
        → ``[usage].baseline_big_model``, ``small_model`` → ``baseline_small_model``, anything
        else → ``baseline_model`` (defaults: Sonnet 4.6, Haiku 4.5, Opus 4.7).
        """
        usage = self.config.usage
        lowered = model_requested.lower()
        if lowered.startswith("claude"):
            return model_requested
        slot = _SLOTS.get(lowered)
        if slot is None:
            profile: Profile | None = self.config.profiles.get(profile_name)
            slot = "main"
            if profile is not None and model_requested != profile.model:
                if model_requested == profile.big_model:
                    slot = "big"
                elif model_requested == profile.small_model:
                    slot = "small"
        return {"small": usage.baseline_small_model, "big": usage.baseline_big_model}.get(slot, usage.baseline_model)

    def price_row(self, row: Mapping[str, Any]) -> tuple[float | None, float | None, str]:
        """(cost at the provider's prices, baseline cost, baseline model) for one request record."""
        tokens = {
            "input_tokens": _int(row.get("input_tokens")),
            "output_tokens": _int(row.get("output_tokens")),
            "cache_read_tokens": _int(row.get("cache_read_input_tokens")),
            "cache_write_tokens": _int(row.get("cache_creation_input_tokens")),
        }
        seconds = (_num(row.get("latency_ms")) or 0.0) / 1000
        provider = str(row.get("provider") or "")
        model = str(row.get("model_used") or row.get("model_requested") or "")
        price = self.price(provider, model) if provider and model else None
        cost = price.cost(**tokens, seconds=seconds) if price is not None else None
        memo = (str(row.get("profile") or ""), str(row.get("model_requested") or model))
        if memo not in self._baselines:
            if len(self._baselines) >= _MEMO_MAX:
                self._baselines.clear()
            named = self.baseline_model(*memo)
            self._baselines[memo] = (named, self.claude_price(named))
        base_model, base_price = self._baselines[memo]
        # The baseline is what Anthropic would bill: tokens only, never our electricity.
        baseline = base_price.cost(**tokens) if base_price is not None else None
        return cost, baseline, base_model


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
