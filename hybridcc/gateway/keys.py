"""Virtual keys through LiteLLM's key API (``POST /key/generate`` with the master key).

LiteLLM keeps keys, budgets and spend in its PostgreSQL database: a gateway started without one
answers this API with a 500 ("DB not connected"), and its database layer (Prisma) downloads
engine binaries at first start, which a machine without internet access cannot do. The new key
is a secret: it is written to a 0600 file and never printed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from hybridcc import httpprobe, paths
from hybridcc.errors import AuthError, ServiceError, UsageError
from hybridcc.fsutil import atomic_write

GENERATE_PATH: Final = "/key/generate"
DB_HINT: Final = (
    "LiteLLM's virtual keys need its PostgreSQL database: set general_settings.database_url (or "
    "DATABASE_URL) for every instance and install `prisma` in LiteLLM's venv; its engine binaries "
    "are downloaded at first start, so that start needs internet access (README, Team gateway)"
)


@dataclass(frozen=True)
class CreatedKey:
    user: str
    path: Path  # where the key was written (0600)
    budget: float | None
    alias: str | None
    expires: str | None


def _detail(body: bytes) -> str:
    """LiteLLM's error text: ``{"error": {"message": …}}`` or ``{"detail": {"error": …}}``."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:300]
    for key in ("error", "detail"):
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, dict):
            value = value.get("message") or value.get("error") or value
        if value:
            return str(value)[:300]
    return json.dumps(data)[:300]


def create_key(
    url: str,
    master: str,
    *,
    user: str,
    budget: float | None = None,
    out: Path | None = None,
    timeout: float = 30.0,
) -> CreatedKey:
    """Ask the gateway at ``url`` for a key owned by ``user`` with at most ``budget`` USD of spend."""
    if not user.strip():
        raise UsageError("--user: expected a non-empty name")
    if budget is not None and budget <= 0:
        raise UsageError(f"--budget {budget}: expected a positive number of USD")
    body: dict[str, Any] = {"user_id": user, "key_alias": f"hybridcc-{user}", "metadata": {"created_by": "hybridcc"}}
    if budget is not None:
        body["max_budget"] = budget
    headers = {"authorization": f"Bearer {master}"}
    res = httpprobe.request("POST", url.rstrip("/") + GENERATE_PATH, timeout=timeout, headers=headers, body=body)
    if res is None:
        raise ServiceError(
            f"the gateway at {url} does not answer", hint="start it with `hybridcc gateway start`, or pass --url"
        )
    if res.status in (401, 403):
        raise AuthError(
            f"the gateway at {url} refused the master key ({res.status}: {_detail(res.body)})",
            hint="set LITELLM_MASTER_KEY to the master key the gateway was started with",
        )
    if res.status != 200:
        detail = _detail(res.body)
        db = res.status >= 500 or "DB" in detail or "database" in detail.lower()
        raise ServiceError(
            f"the gateway at {url} could not create a key ({res.status}: {detail})",
            hint=DB_HINT if db else "see the gateway's log (`hybridcc gateway status` names it)",
        )
    try:
        data = json.loads(res.body)
        key = str(data["key"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ServiceError(f"the gateway at {url} answered {GENERATE_PATH} without a key") from exc
    path = out or paths.gateway_key_file(user)
    atomic_write(path, key + "\n", mode=0o600)
    return CreatedKey(
        user=user, path=path, budget=data.get("max_budget", budget), alias=data.get("key_alias"),
        expires=data.get("expires"),
    )  # fmt: skip
