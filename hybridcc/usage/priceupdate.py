"""`hybridcc prices update`: refresh the price catalog from a machine-readable source.

Two source shapes are understood: OpenRouter's model list (``GET /api/v1/models``:
``data[].id`` with ``pricing.prompt`` / ``completion`` / ``input_cache_read`` /
``input_cache_write`` in USD per token, as strings), and a catalog in our own ``prices.json``
shape (a maintained price table). The result is the shipped catalog with the fetched entries laid
over it, written atomically to the data directory; the shipped file stays the fallback, so a
failed or partial update never loses a price.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from hybridcc.errors import HybridccError
from hybridcc.usage.prices import catalog_file, shipped_catalog

DEFAULT_URL: Final = "https://openrouter.ai/api/v1/models"
_FIELDS: Final = (("prompt", "input"), ("completion", "output"),
                  ("input_cache_read", "cache_read"), ("input_cache_write", "cache_write"))  # fmt: skip


@dataclass(frozen=True)
class UpdateResult:
    path: Path
    version: str
    updated: int  # entries taken from the source
    total: int  # entries in the written catalog


def _per_million(value: object) -> float | None:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    # OpenRouter marks routers with variable prices as "-1": not a price.
    return float(d * 1_000_000) if d >= 0 else None


def from_openrouter(data: dict[str, Any], *, source: str, day: str, prefix: str = "openrouter") -> dict[str, Any]:
    """Catalog entries (``PREFIX/ID`` → price) from OpenRouter's model-list JSON."""
    out: dict[str, Any] = {}
    for model in data.get("data") or []:
        if not isinstance(model, dict) or not isinstance(model.get("id"), str):
            continue
        pricing = model.get("pricing")
        if not isinstance(pricing, dict):
            continue
        entry: dict[str, Any] = {}
        for theirs, ours in _FIELDS:
            if theirs in pricing:
                price = _per_million(pricing[theirs])
                if price is not None:
                    entry[ours] = price
        if "input" in entry and "output" in entry:
            out[f"{prefix}/{model['id']}"] = {**entry, "source": source, "date": day}
    return out


def _fetch(url: str, timeout: float) -> dict[str, Any]:
    import httpx

    try:
        resp = httpx.get(url, timeout=timeout, follow_redirects=True, headers={"accept": "application/json"})
        resp.raise_for_status()
        data = resp.json()
    except httpx.HTTPStatusError as exc:
        raise HybridccError(
            f"price source {url} answered HTTP {exc.response.status_code}",
            hint="try again later or pass another --url; the current catalog stays in use",
        ) from exc
    except httpx.HTTPError as exc:
        raise HybridccError(
            f"cannot reach the price source {url} ({type(exc).__name__})",
            hint="check the network (prices update needs to be online); the current catalog stays in use",
        ) from exc
    except ValueError as exc:
        raise HybridccError(f"price source {url} did not send JSON", hint="pass a JSON price list with --url") from exc
    if not isinstance(data, dict):
        raise HybridccError(
            f"price source {url} sent JSON of an unknown shape", hint="pass a JSON price list with --url"
        )
    return data


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".prices.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def update(*, url: str = DEFAULT_URL, timeout: float = 30.0, today: str | None = None) -> UpdateResult:
    """Fetch ``url`` and write the refreshed catalog; raise :class:`HybridccError` if nothing usable came."""
    data = _fetch(url, timeout)
    day = today or date.today().isoformat()
    shipped = shipped_catalog()
    models: dict[str, Any] = dict(shipped.models)
    providers: dict[str, Any] = dict(shipped.providers)
    if isinstance(data.get("models"), dict) and isinstance(data.get("version"), str):
        # A maintained table in our own shape.
        fetched = {k: v for k, v in data["models"].items() if isinstance(v, dict) and "input" in v and "output" in v}
        if isinstance(data.get("providers"), dict):
            providers.update(data["providers"])
        version = f"{data['version']}"
    else:
        fetched = from_openrouter(data, source=url, day=day)
        version = f"{shipped.version}+openrouter.{day}"
    if not fetched:
        raise HybridccError(
            f"price source {url} listed no model with an input and an output price",
            hint="point --url at OpenRouter's /api/v1/models or a hybridcc prices.json; the current catalog stays in use",
        )
    models.update(fetched)
    catalog = {
        "schema": 1,
        "version": version,
        "unit": "USD per million tokens",
        "source": url,
        "providers": providers,
        "models": dict(sorted(models.items())),
    }
    path = catalog_file()
    _write_atomic(path, json.dumps(catalog, indent=1) + "\n")
    return UpdateResult(path=path, version=version, updated=len(fetched), total=len(models))
