"""The usage ledger: one SQLite row per proxied request, written off the request path.

The proxy calls :meth:`LedgerWriter.submit` once per request with the record it logs to
requests.jsonl. ``submit`` only puts the dict on a bounded queue: it never blocks and never
raises. A background thread prices the rows (hybridcc.usage.prices) and inserts them in
batches (every ``flush_interval`` seconds or ``batch_rows`` rows, whichever comes first). A full
queue, a locked or read-only database, or any other write failure drops rows, counts them and
logs one line — a request never waits for or fails because of the ledger (issue 14).

The database is in WAL mode with ``synchronous=NORMAL``: a committed batch survives the proxy
being killed, so a crash loses at most the rows of the current batch window.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from hybridcc.config.schema import Config
    from hybridcc.usage.prices import Pricer

log = logging.getLogger("hybridcc.proxy")

# Each entry upgrades the schema by one version; PRAGMA user_version records how far a file is.
MIGRATIONS: Final = (
    # 1: the requests table.
    """
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        request_id TEXT,
        session_id TEXT,
        agent_id TEXT,
        parent_agent_id TEXT,
        profile TEXT,
        provider TEXT,
        wire TEXT,
        path TEXT,
        model_requested TEXT,
        model_used TEXT,
        stream INTEGER,
        status INTEGER,
        upstream_status INTEGER,
        latency_ms REAL,
        ttfb_ms REAL,
        input_tokens INTEGER,
        output_tokens INTEGER,
        cache_read_tokens INTEGER,
        cache_write_tokens INTEGER,
        cost_usd REAL,
        baseline_usd REAL,
        baseline_model TEXT,
        price_catalog TEXT,
        error TEXT,
        fallback_from TEXT,
        served_by TEXT
    );
    CREATE INDEX requests_ts ON requests (ts);
    """,
    # 2: who sent it (main, subagent, background) and the per-session index the status line reads.
    """
    ALTER TABLE requests ADD COLUMN kind TEXT;
    CREATE INDEX requests_session ON requests (session_id, ts);
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)

COLUMNS: Final = (
    "ts", "request_id", "session_id", "agent_id", "parent_agent_id", "kind", "profile", "provider",
    "wire", "path", "model_requested", "model_used", "stream", "status", "upstream_status",
    "latency_ms", "ttfb_ms", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "cost_usd", "baseline_usd", "baseline_model", "price_catalog", "error", "fallback_from", "served_by",
)  # fmt: skip
_INSERT: Final = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608 - our own column names
# Record keys whose ledger column has a shorter name.
_RENAMED: Final = {"cache_read_tokens": "cache_read_input_tokens", "cache_write_tokens": "cache_creation_input_tokens"}


class LedgerError(Exception):
    """The ledger file cannot be used (newer schema, not a database). Readers turn it into a HybridccError."""


def connect(path: Path, *, timeout: float = 5.0) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the ledger at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn``'s schema to :data:`SCHEMA_VERSION`; return the version it had."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise LedgerError(f"usage ledger schema {version} is newer than this hybridcc reads ({SCHEMA_VERSION})")
    if version == SCHEMA_VERSION:
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for step in range(current, SCHEMA_VERSION):
            for statement in MIGRATIONS[step].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return version


def prune(conn: sqlite3.Connection, retention_days: int, *, now: float | None = None) -> int:
    """Delete rows older than ``retention_days``; return how many went. 0 days keeps everything."""
    if retention_days <= 0:
        return 0
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    return int(conn.execute("DELETE FROM requests WHERE ts < ?", (cutoff,)).rowcount)


def to_row(
    record: Mapping[str, Any], cost: float | None, baseline: float | None, base_model: str, catalog: str
) -> tuple[Any, ...]:
    values: dict[str, Any] = {c: record.get(_RENAMED.get(c, c)) for c in COLUMNS}
    ts = record.get("ts")
    values["ts"] = float(ts) if isinstance(ts, int | float) else time.time()
    values["stream"] = int(bool(record.get("stream")))
    if not values["kind"]:
        values["kind"] = "subagent" if record.get("agent_id") else "main"
    values.update(cost_usd=cost, baseline_usd=baseline, baseline_model=base_model or None, price_catalog=catalog)
    return tuple(values[c] for c in COLUMNS)


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


_STOP: Final = object()


class LedgerWriter:
    """Background writer for the ledger; see the module docstring. One per proxy process."""

    def __init__(
        self,
        path: Path,
        pricer: Pricer | None = None,
        *,
        retention_days: int = 180,
        queue_size: int = 10_000,
        batch_rows: int = 100,
        flush_interval: float = 0.2,
        busy_timeout: float = 0.5,
    ) -> None:
        self.path = path
        self.pricer = pricer
        self.retention_days = retention_days
        self.batch_rows = batch_rows
        self.flush_interval = flush_interval
        self.busy_timeout = busy_timeout
        self.written = 0
        self.dropped = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._conn: sqlite3.Connection | None = None
        self._retry_at = 0.0
        self._last_log = -1e9
        self._last_error = "the ledger is unavailable"
        self._count_lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="hybridcc-ledger", daemon=True)
        self._thread.start()

    @classmethod
    def open_default(cls, config: Config) -> LedgerWriter | None:
        """The writer for the data directory's ledger, or None when ``[usage] enabled = false``."""
        if not config.usage.enabled:
            return None
        from hybridcc import paths
        from hybridcc.usage.prices import Pricer

        # The catalog is read here, at start-up, not on the first request.
        return cls(paths.usage_db_file(), Pricer(config), retention_days=config.usage.retention_days)

    # -- the request path: never blocks, never raises ----------------------------------------
    def submit(self, row: Mapping[str, Any]) -> None:
        if self._closed:
            self._drop(1, "the writer is closed")
            return
        try:
            self._queue.put_nowait(dict(row))
        except queue.Full:
            self._drop(1, "the write queue is full")
        except Exception:  # noqa: BLE001 - a ledger fault must never fail a request
            self._drop(1, "the row could not be queued")

    # -- control ------------------------------------------------------------------------
    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row submitted so far is written or dropped (tests, `usage` in-process)."""
        marker = _Flush()
        try:
            self._queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread (proxy shutdown)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)

    # -- the writer thread --------------------------------------------------------------
    def _drop(self, n: int, reason: str) -> None:
        with self._count_lock:
            self.dropped += n
            total = self.dropped
            now = time.monotonic()
            # One line, then at most one a minute: a broken disk must not flood the log.
            should_log = now - self._last_log >= 60.0
            if should_log:
                self._last_log = now
        if should_log:
            log.warning(
                "usage ledger: dropped %d row(s) so far (%s; %s) — requests are unaffected; "
                "check that the data directory is writable",
                total,
                reason,
                self.path,
            )

    def _run(self) -> None:
        pruned = False
        while True:
            batch: list[dict[str, Any]] = []
            markers: list[object] = []
            first = self._queue.get()
            self._sort(first, batch, markers)
            deadline = time.monotonic() + self.flush_interval
            while first is not _STOP and len(batch) < self.batch_rows and not markers:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                self._sort(item, batch, markers)
            if batch:
                self._write(batch)
            if not pruned and self._conn is not None:
                pruned = True
                self._prune()
            stop = False
            for marker in markers:
                if isinstance(marker, _Flush):
                    marker.done.set()
                elif marker is _STOP:
                    stop = True
            if stop:
                self._drain_and_stop()
                return

    @staticmethod
    def _sort(item: object, batch: list[dict[str, Any]], markers: list[object]) -> None:
        if isinstance(item, dict):
            batch.append(item)
        else:
            markers.append(item)

    def _drain_and_stop(self) -> None:
        rest: list[dict[str, Any]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, dict):
                rest.append(item)
            elif isinstance(item, _Flush):
                item.done.set()
        if rest:
            self._write(rest)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _open(self) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        if time.monotonic() < self._retry_at:
            return None
        try:
            self._conn = connect(self.path, timeout=self.busy_timeout)
        except (sqlite3.Error, OSError, LedgerError) as exc:
            self._retry_at = time.monotonic() + 5.0
            self._last_error = f"cannot open it: {exc}"
            return None
        return self._conn

    def _rows(self, batch: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        rows = []
        catalog = self.pricer.version if self.pricer is not None else ""
        for record in batch:
            cost: float | None = None
            baseline: float | None = None
            base_model = ""
            if self.pricer is not None:
                try:
                    cost, baseline, base_model = self.pricer.price_row(record)
                except Exception:  # a pricing bug leaves the cost unknown; the row is kept
                    log.exception("usage ledger: could not price request %s", record.get("request_id"))
            rows.append(to_row(record, cost, baseline, base_model, catalog))
        return rows

    def _write(self, batch: list[dict[str, Any]]) -> None:
        conn = self._open()
        if conn is None:
            self._drop(len(batch), self._last_error)
            return
        try:
            rows = self._rows(batch)
            with conn:
                conn.execute("BEGIN")
                conn.executemany(_INSERT, rows)
            self.written += len(rows)
        except (sqlite3.Error, OSError) as exc:
            self._drop(len(batch), f"write failed: {exc}")
            if not isinstance(exc, sqlite3.OperationalError) or "locked" not in str(exc):
                # Anything but contention may be a broken handle: reopen later.
                conn.close()
                self._conn = None
                self._retry_at = time.monotonic() + 5.0

    def _prune(self) -> None:
        if self._conn is None:
            return
        try:
            with self._conn:
                self._conn.execute("BEGIN")
                prune(self._conn, self.retention_days)
        except sqlite3.Error as exc:
            log.warning("usage ledger: prune failed (%s); `hybridcc usage prune` retries", exc)
