"""`hybridcc statusline`: Claude Code's status-line JSON on stdin → one line on stdout.

    deepseek · deepseek/deepseek-chat · $0.07 saved $1.13 (94%) · ctx 25% of 65.5k

When the session's last request was served by a fallback entry (issue 16), the model reads
``sec/s-model via fallback``.

Claude Code runs the command on every status refresh, so this file is a lean script: it imports
only ``math``, ``os``, ``sys`` and ``sqlite3`` — even the JSON is read with SQLite's ``json_extract``
(importing ``json`` costs more than the query). :func:`settings_entry` runs it as
``python -I -S statusline.py --db LEDGER``: no site-packages, no package import, the ledger path
fixed by `run` from hybridcc.paths. It reads the ledger read-only through the per-session index.

The profile and the real context window come from the environment Claude Code inherited from
`hybridcc run` (``ANTHROPIC_BASE_URL`` ends in ``/p/PROFILE``; ``CLAUDE_CODE_MAX_CONTEXT_TOKENS``),
because Claude Code's own ``context_window_size`` is a guess for models it does not know.
The line never fails: a missing ledger or odd input prints what is known.

While a request of the session waits for its first token (a local model reading a long prompt),
the line ends with ``reading prompt 45% (8.4k/18.7k)`` or ``waiting 1m20s``, asked from the proxy
(``GET /_hybridcc/progress``) over loopback within :data:`PROGRESS_TIMEOUT` (issue 17).
"""

from __future__ import annotations

import math
import os
import sqlite3
import sys

TYPE_CHECKING = False  # typing costs milliseconds to import; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path
    from typing import Any, TextIO

_SESSION = """SELECT sum(cost_usd), sum(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END),
    sum(CASE WHEN cost_usd IS NOT NULL AND baseline_usd IS NOT NULL THEN baseline_usd - cost_usd END),
    sum(CASE WHEN cost_usd IS NOT NULL AND baseline_usd IS NOT NULL THEN baseline_usd END), count(*)
    FROM requests WHERE session_id = ?"""
_LAST = "SELECT profile, provider, model_used, served_by FROM requests WHERE session_id = ? ORDER BY ts DESC LIMIT 1"
_FIELDS = (
    ("session_id", "$.session_id"),
    ("model", "$.model.id"),
    ("window", "$.context_window.context_window_size"),
    ("input", "$.context_window.current_usage.input_tokens"),
    ("cache_read", "$.context_window.current_usage.cache_read_input_tokens"),
    ("cache_write", "$.context_window.current_usage.cache_creation_input_tokens"),
    ("used_pct", "$.context_window.used_percentage"),
)
_PARSE = "SELECT " + ", ".join(f"json_extract(?1, '{path}')" for _, path in _FIELDS)
_PROGRESS = ("SELECT json_extract(?1, '$.phase'), json_extract(?1, '$.elapsed_s'), "
             "json_extract(?1, '$.processed'), json_extract(?1, '$.total')")  # fmt: skip
PROGRESS_TIMEOUT = 0.15  # seconds for the whole loopback request: a status line must stay quick
WAIT_SHOWN_AFTER = 3.0  # a plain "waiting" shows only after this long (every request waits a little)
LOCAL_REFRESH_S = 5  # `run` re-runs the line this often for local providers (a silent prefill has no events)


def settings_entry(db: Path | None = None, python: str | None = None, *, local: bool = False) -> dict[str, Any]:
    """The ``statusLine`` value for Claude Code settings (for `run`): this script on the ledger ``db``.

    ``local``: also re-run every :data:`LOCAL_REFRESH_S` seconds (``refreshInterval``, seconds,
    accepted by both pinned Claude Code releases), so the prefill progress moves while nothing
    else happens.
    """
    import shlex
    from pathlib import Path

    if db is None:
        from hybridcc import paths

        db = paths.usage_db_file()
    script = Path(__file__).resolve()
    exe = python or sys.executable
    command = f"{shlex.quote(exe)} -I -S {shlex.quote(str(script))} --db {shlex.quote(str(db))}"
    entry: dict[str, Any] = {"type": "command", "command": command, "padding": 0}
    if local:
        entry["refreshInterval"] = LOCAL_REFRESH_S
    return entry


def user_statusline(cwd: Path) -> Path | None:
    """The settings file (user, project, local) that already sets a ``statusLine``, if any.

    `run` passes its settings with ``--settings``, which outranks those files: adding ours
    when the user has one would silently replace theirs (README shows how to combine them).
    """
    import json

    from hybridcc import paths

    for path in paths.claude_settings_files(cwd):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("statusLine"):
            return path
    return None


def parse(text: str) -> dict[str, Any]:
    """The few fields we show, from Claude Code's status-line JSON ({} when it is not JSON)."""
    if not text.strip():
        return {}
    conn = sqlite3.connect(":memory:")
    try:
        row = conn.execute(_PARSE, (text,)).fetchone()
    except sqlite3.Error:
        return {}
    finally:
        conn.close()
    return {name: value for (name, _), value in zip(_FIELDS, row, strict=True) if value is not None}


def session_costs(db: Path | str, session_id: str) -> dict[str, Any] | None:
    """This session's totals from the ledger (read-only), or None when there are none yet."""
    if not os.path.exists(db):  # noqa: PTH110 - pathlib is an import we do not need here
        return None
    try:
        uri = str(db).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
        conn = sqlite3.connect(f"file:{uri}?mode=ro", uri=True, timeout=0.2)
    except sqlite3.Error:
        return None
    try:
        cost, unpriced, saved, compared, count = conn.execute(_SESSION, (session_id,)).fetchone()
        last = conn.execute(_LAST, (session_id,)).fetchone() if count else None
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if not count or last is None:
        return None
    return {"cost": cost, "unpriced": unpriced or 0, "saved": saved, "compared": compared,
            "profile": last[0], "provider": last[1], "model": last[2], "fallback": bool(last[3])}  # fmt: skip


def _loopback(base_url: str) -> tuple[str, int] | None:
    """(host, port) of ``http://127.0.0.1:PORT/…`` (or localhost); None for anything else."""
    if not base_url.startswith("http://"):
        return None
    host, _, port = base_url[7:].partition("/")[0].rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        return None
    return host, int(port)


def fetch_progress(env: Mapping[str, str], session: str, timeout: float = PROGRESS_TIMEOUT) -> str | None:
    """The proxy's progress JSON for ``session``, or None (no proxy, no answer in time, odd reply)."""
    import socket
    import time

    where = _loopback(env.get("ANTHROPIC_BASE_URL", ""))
    token = env.get("ANTHROPIC_AUTH_TOKEN", "")
    safe = session.replace("-", "").replace("_", "")
    if where is None or not token or not safe.isalnum() or not safe.isascii() or "\r" in token or "\n" in token:
        return None
    deadline = time.monotonic() + timeout
    request = (f"GET /_hybridcc/progress?session={session} HTTP/1.1\r\nHost: {where[0]}:{where[1]}\r\n"
               f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n").encode()  # fmt: skip
    chunks: list[bytes] = []
    try:
        with socket.create_connection(where, timeout=timeout) as sock:
            sock.sendall(request)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                sock.settimeout(left)
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
                if _complete(b"".join(chunks)):  # a keep-alive server need not close first
                    break
    except OSError:
        return None
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
        return None
    return body.decode("utf-8", "replace")


def _complete(raw: bytes) -> bool:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
    return False


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s}s" if s < 60 else f"{s // 60}m{s % 60:02d}s"


def _progress(text: str | None) -> tuple[float, int | None, int | None] | None:
    """(elapsed seconds, processed, total) while in prefill, from the proxy's JSON; else None."""
    if not text:
        return None
    conn = sqlite3.connect(":memory:")
    try:
        phase, elapsed, processed, total = conn.execute(_PROGRESS, (text,)).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if phase != "prefill" or not isinstance(elapsed, int | float):
        return None
    return float(elapsed), _int(processed), _int(total) or None


def progress_suffix(text: str | None) -> str | None:
    """``reading prompt 45% (8.4k/18.7k)`` / ``waiting 1m20s`` from the proxy's JSON, else None."""
    found = _progress(text)
    if found is None:
        return None
    elapsed, processed, total = found
    if total and processed is not None:
        return f"reading prompt {min(100, 100 * processed // total)}% ({_k(processed)}/{_k(total)})"
    return f"waiting {_duration(elapsed)}" if elapsed >= WAIT_SHOWN_AFTER else None


def progress_line(text: str | None, min_wait: float = WAIT_SHOWN_AFTER) -> str | None:
    """The same for `run -p` on stderr (hybridcc.runner), with the time spent so far."""
    found = _progress(text)
    if found is None:
        return None
    elapsed, processed, total = found
    if total and processed is not None:
        pct = min(100, 100 * processed // total)
        return (f"the local model is reading the prompt: {pct}% "
                f"({_k(processed)}/{_k(total)} tokens, {_duration(elapsed)})")  # fmt: skip
    if elapsed < min_wait:
        return None
    return f"waiting for the local model's first token ({_duration(elapsed)})"


def _money(value: float) -> str:
    if value == 0:
        return "$0.00"
    return f"${value:.4f}" if abs(value) < 0.01 else f"${value:.2f}"


def _k(tokens: int) -> str:
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.3g}M"
    return f"{tokens / 1000:.3g}k" if tokens >= 1000 else str(tokens)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _context(fields: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    window = _int(fields.get("window"))
    real = env.get("CLAUDE_CODE_MAX_CONTEXT_TOKENS", "")
    if real.isdigit() and int(real) > 0:
        window = int(real)
    parts = [_int(fields.get(k)) for k in ("input", "cache_read", "cache_write")]
    if window and any(p is not None for p in parts):
        used = sum(p or 0 for p in parts)
        return f"ctx {min(999, round(100 * used / window))}% of {_k(window)}"
    pct = fields.get("used_pct")
    if isinstance(pct, int | float) and not isinstance(pct, bool):
        return f"ctx {round(pct)}%"
    return None


def render(fields: Mapping[str, Any], env: Mapping[str, str], db: Path | str) -> str:
    marker = env.get("ANTHROPIC_BASE_URL", "").rstrip("/").rpartition("/p/")
    profile = marker[2] if marker[1] else None
    model = str(fields.get("model") or "")
    sid = fields.get("session_id")
    costs = session_costs(db, sid) if isinstance(sid, str) and sid else None
    if costs:
        profile = profile or costs["profile"]
        if costs["provider"] and costs["model"]:
            model = f"{costs['provider']}/{costs['model']}"
        if costs["fallback"]:
            model = f"{model or '?'} via fallback"
    parts = [profile or "hybridcc"]
    if model:
        parts.append(model)
    if costs is None:
        parts.append("$0.00")
    else:
        money = _money(costs["cost"]) if costs["cost"] is not None else "cost unknown"
        if costs["cost"] is not None and costs["unpriced"]:
            money += f" +{costs['unpriced']} unpriced"
        if costs["saved"] is not None and costs["compared"]:
            # Same rounding as hybridcc.usage.prices.savings_pct: an exact half rounds down.
            pct = math.ceil(round(100 * costs["saved"] / costs["compared"], 6) - 0.5)
            money += f" saved {_money(costs['saved'])} ({pct}%)"
        parts.append(money)
    ctx = _context(fields, env)
    if ctx:
        parts.append(ctx)
    if isinstance(sid, str) and sid:
        waiting = progress_suffix(fetch_progress(env, sid))
        if waiting:
            parts.append(waiting)
    return " · ".join(parts)


def main(
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    env: Mapping[str, str] | None = None,
    db: Path | str | None = None,
    argv: Sequence[str] | None = None,
) -> int:
    """Read the JSON, print the line; always exit 0 (a status line must not show an error dump)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if db is None and len(args) >= 2 and args[0] == "--db":
        db = args[1]
    if db is None:
        from hybridcc import paths

        db = paths.usage_db_file()
    try:
        text = (stdin or sys.stdin).read()
    except (OSError, ValueError):
        text = ""
    sink = stdout or sys.stdout
    sink.write(render(parse(text), os.environ if env is None else env, db) + "\n")
    sink.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
