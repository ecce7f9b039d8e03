"""Reading the ledger: totals grouped by day/session/profile/provider/model/agent, one session, prune.

Results are plain dicts in the documented `--json` shape (README, "Cost and usage"); the CLI
only renders them. Readers open the database in WAL mode, so they never block the proxy's writer.
"""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from hybridcc.errors import ConfigError, HybridccError
from hybridcc.usage import ledger
from hybridcc.usage.prices import savings_pct

JSON_SCHEMA: Final = "hybridcc.usage/1"
By = Literal["day", "session", "profile", "provider", "model", "agent"]
BY: Final = ("day", "session", "profile", "provider", "model", "agent")
_KEYS: Final = {
    "day": "date(ts, 'unixepoch', 'localtime')",
    "session": "coalesce(session_id, '(none)')",
    "profile": "coalesce(profile, '')",
    "provider": "coalesce(provider, '')",
    "model": "coalesce(provider, '') || '/' || coalesce(model_used, model_requested, '')",
    "agent": "coalesce(agent_id, kind, 'main')",
}
# Savings count only requests whose cost and baseline are both known.
_SUMS: Final = """
    count(*) AS requests,
    sum(CASE WHEN status >= 400 OR status = 0 OR error IS NOT NULL THEN 1 ELSE 0 END) AS errors,
    coalesce(sum(input_tokens), 0) AS input_tokens,
    coalesce(sum(output_tokens), 0) AS output_tokens,
    coalesce(sum(cache_read_tokens), 0) AS cache_read_tokens,
    coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens,
    sum(cost_usd) AS cost_usd,
    sum(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) AS unpriced_requests,
    sum(baseline_usd) AS baseline_usd,
    sum(CASE WHEN cost_usd IS NOT NULL AND baseline_usd IS NOT NULL THEN baseline_usd - cost_usd END) AS savings_usd,
    sum(CASE WHEN cost_usd IS NOT NULL AND baseline_usd IS NOT NULL THEN baseline_usd END) AS _compared_usd
"""


def _error(exc: Exception, path: Path) -> HybridccError:
    return ConfigError(
        f"{path}: cannot read the usage ledger ({exc})",
        hint="if it was written by a newer hybridcc, upgrade; otherwise move the file aside to start a new ledger",
    )


def open_ledger(path: Path | None = None) -> sqlite3.Connection | None:
    """The ledger for reading (migrated if it is older), or None when nothing was recorded yet."""
    from hybridcc import paths

    path = path or paths.usage_db_file()
    if not path.exists():
        return None
    try:
        conn = ledger.connect(path)
    except (sqlite3.Error, ledger.LedgerError) as exc:
        raise _error(exc, path) from exc
    conn.row_factory = sqlite3.Row
    return conn


def parse_since(text: str, *, now: float | None = None) -> float:
    """``7d``, ``12h``, ``30m`` ago, or a date ``2026-11-01`` (local midnight) → a Unix time."""
    now = time.time() if now is None else now
    m = re.fullmatch(r"(\d+)([dhm])", text.strip())
    if m:
        return now - int(m.group(1)) * {"d": 86400, "h": 3600, "m": 60}[m.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(f"--since {text!r}: expected a duration (7d, 12h, 30m) or a date (2026-11-01)") from None


def _finish(row: sqlite3.Row | dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    compared = out.pop("_compared_usd", None)
    for key in ("cost_usd", "baseline_usd", "savings_usd"):
        if out.get(key) is not None:
            out[key] = round(float(out[key]), 6)
    out["savings_pct"] = savings_pct(compared - out["savings_usd"], compared) if compared else None
    out["errors"] = out.get("errors") or 0
    out["unpriced_requests"] = out.get("unpriced_requests") or 0
    return out


def summary(conn: sqlite3.Connection | None, *, since: float | None = None, by: By = "day") -> dict[str, Any]:
    """Totals per ``by`` key and overall, for requests at or after ``since``."""
    where, args = ("WHERE ts >= ?", (since,)) if since is not None else ("", ())
    rows: list[dict[str, Any]] = []
    total: dict[str, Any] = _finish(_empty())
    if conn is not None:
        key = _KEYS[by]
        sql = f"SELECT {key} AS key, {_SUMS} FROM requests {where} GROUP BY key ORDER BY key"  # noqa: S608 - keys are ours
        rows = [_finish(r) for r in conn.execute(sql, args)]
        total = _finish(conn.execute(f"SELECT {_SUMS} FROM requests {where}", args).fetchone())  # noqa: S608
        total["requests"] = total["requests"] or 0
    return {
        "schema": JSON_SCHEMA,
        "since": datetime.fromtimestamp(since).astimezone().isoformat(timespec="seconds") if since else None,
        "by": by,
        "rows": rows,
        "total": total,
    }


def _empty() -> dict[str, Any]:
    return {
        "requests": 0, "errors": 0, "input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0,
        "cache_write_tokens": 0, "cost_usd": None, "unpriced_requests": 0, "baseline_usd": None,
        "savings_usd": None, "_compared_usd": None,
    }  # fmt: skip


def latest_session(conn: sqlite3.Connection) -> str | None:
    row = conn.execute(
        "SELECT session_id FROM requests WHERE session_id IS NOT NULL ORDER BY ts DESC LIMIT 1"
    ).fetchone()
    return str(row[0]) if row else None


def session(conn: sqlite3.Connection | None, session_id: str | None = None) -> dict[str, Any] | None:
    """One Claude Code session (default: the most recent): totals, per agent and per model."""
    if conn is None:
        return None
    sid = session_id or latest_session(conn)
    if sid is None:
        return None
    span = conn.execute("SELECT min(ts), max(ts) FROM requests WHERE session_id = ?", (sid,)).fetchone()
    if span[0] is None:
        return None
    total = _finish(conn.execute(f"SELECT {_SUMS} FROM requests WHERE session_id = ?", (sid,)).fetchone())  # noqa: S608
    agents = [
        _finish(r)
        for r in conn.execute(
            f"""SELECT coalesce(kind, CASE WHEN agent_id IS NULL THEN 'main' ELSE 'subagent' END) AS kind,
                   agent_id, parent_agent_id, {_SUMS}
                FROM requests WHERE session_id = ?
                GROUP BY kind, agent_id ORDER BY min(ts)""",  # noqa: S608
            (sid,),
        )
    ]
    models = [
        _finish(r)
        for r in conn.execute(
            f"""SELECT provider, coalesce(model_used, model_requested) AS model, {_SUMS}
                FROM requests WHERE session_id = ? GROUP BY provider, model ORDER BY cost_usd DESC""",  # noqa: S608
            (sid,),
        )
    ]
    profiles = [r[0] for r in conn.execute("SELECT DISTINCT profile FROM requests WHERE session_id = ?", (sid,))]
    return {
        "schema": JSON_SCHEMA,
        "session_id": sid,
        "profiles": profiles,
        "first": datetime.fromtimestamp(span[0]).astimezone().isoformat(timespec="seconds"),
        "last": datetime.fromtimestamp(span[1]).astimezone().isoformat(timespec="seconds"),
        "total": total,
        "agents": agents,
        "models": models,
    }


def prune_ledger(retention_days: int, *, path: Path | None = None) -> int:
    """Delete rows older than ``retention_days`` and give the space back; return how many went."""
    conn = open_ledger(path)
    if conn is None:
        return 0
    try:
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            removed = ledger.prune(conn, retention_days)
        if removed:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return removed
    except sqlite3.Error as exc:
        raise _error(exc, path or Path("usage.sqlite3")) from exc
    finally:
        conn.close()


def daily_cost_by_provider(
    conn: sqlite3.Connection | None, *, since: float | None = None
) -> list[tuple[str, str, float]]:
    """(day, provider, cost) rows for the `--chart` bar chart; unknown costs are left out."""
    if conn is None:
        return []
    where, args = ("WHERE ts >= ? AND cost_usd IS NOT NULL", (since,)) if since else ("WHERE cost_usd IS NOT NULL", ())
    sql = f"""SELECT date(ts, 'unixepoch', 'localtime') AS day, coalesce(provider, '') AS provider,
                     sum(cost_usd) FROM requests {where} GROUP BY day, provider ORDER BY day, provider"""  # noqa: S608
    return [(str(r[0]), str(r[1]), float(r[2])) for r in conn.execute(sql, args)]
