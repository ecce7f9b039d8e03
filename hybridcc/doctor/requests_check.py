"""Doctor: what the proxy's request log says about recent requests (issue 13).

An unknown model name (``gpt-4o`` asked of a profile that has no such model) is served by the
profile's main model: never an error, so a user may not notice that a subagent or a setting
names a model that is not there. The proxy writes ``model_note`` into requests.jsonl for those
(hybridcc/proxy/app.py ``_fallback_noted``); this check reads the recent ones and names them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from hybridcc.doctor.model import Check, Context
from hybridcc.proxy.models import UNKNOWN_NOTE

RECENT_S: Final = 24 * 3600  # "recent": what the user may still be running into
# The log's tail that is read: thousands of requests, a bounded cost for doctor.
_TAIL_BYTES: Final = 1 << 20
_SHOWN: Final = 5  # names listed in the message; the rest are counted


@dataclass
class _Seen:
    count: int = 0
    served_by: str = ""


def check_recent_requests(ctx: Context) -> Iterator[Check]:
    """Warn about unknown model names in the last day of requests, unless a profile knows them now."""
    from hybridcc import paths

    records = [r for r in _recent(paths.request_log_file()) if r.get("path") in (None, "/v1/messages")]
    if not records:
        return  # no proxy traffic lately: nothing to say
    seen: dict[tuple[str, str], _Seen] = {}
    for r in records:
        note, name, profile = r.get("model_note"), r.get("model_requested"), str(r.get("profile") or "?")
        if not (isinstance(note, str) and note.startswith(UNKNOWN_NOTE) and isinstance(name, str) and name):
            continue
        if _known_now(ctx, profile, name):
            continue  # fixed since: the config names it now
        entry = seen.setdefault((profile, name), _Seen())
        entry.count += 1
        entry.served_by = str(r.get("model_used") or entry.served_by)
    if not seen:
        yield Check("requests.models", "proxy", "ok", f"every model name in the last {len(records)} requests is known")
        return
    items = sorted(seen.items(), key=lambda kv: -kv[1].count)
    shown = [
        f'"{name}" ({s.count}× on profile {profile}, served by {s.served_by or "its main model"})'
        for (profile, name), s in items[:_SHOWN]
    ]
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    example = items[0][0][1]
    yield Check(
        "requests.models",
        "proxy",
        "warn",
        "recent requests named models no profile has, so the profile's main model answered them: "
        + "; ".join(shown)
        + more,
        "add the model to the profile in config.toml (model, small_model or big_model), or name it "
        f'with its provider as "provider/model" (e.g. `/model PROVIDER/{example}` in Claude Code)',
    )


def _known_now(ctx: Context, profile_name: str, requested: str) -> bool:
    from hybridcc.proxy.models import unknown_model

    config = ctx.config
    profile = config.profiles.get(profile_name) if config is not None else None
    if config is None or profile is None:
        return False
    return not unknown_model(config, profile, requested)


def _recent(path: Path, *, now: float | None = None) -> list[dict[str, Any]]:
    """The request records of the last :data:`RECENT_S` seconds at the end of ``path``."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - _TAIL_BYTES))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    since = (time.time() if now is None else now) - RECENT_S
    lines = data.splitlines()
    if size > _TAIL_BYTES:
        lines = lines[1:]  # the first line is cut
    out: list[dict[str, Any]] = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("ts"), (int, float)) and record["ts"] >= since:
            out.append(record)
    return out
