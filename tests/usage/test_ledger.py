"""The ledger writer: rows, batching, never blocking or raising, migrations, prune, crash loss."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from hybridcc.config.load import load_config
from hybridcc.usage import ledger
from hybridcc.usage.ledger import LedgerWriter
from hybridcc.usage.prices import Pricer, shipped_catalog
from tests.helpers import wait_for
from tests.usage.conftest import record


def rows(path: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute("SELECT * FROM requests ORDER BY id"))
    finally:
        conn.close()


def test_open_default_writes_priced_rows(db_path: Path) -> None:
    writer = LedgerWriter.open_default(load_config())
    assert writer is not None
    writer.submit(record(request_id="req_a", agent_id="agent-7", parent_agent_id="main-1",
                         cache_read_input_tokens=50_000, cache_creation_input_tokens=1000))  # fmt: skip
    writer.submit(record(request_id="req_b", status=500, error="upstream broke", input_tokens=None))
    writer.close()
    got = rows(db_path)
    assert [r["request_id"] for r in got] == ["req_a", "req_b"]
    a = got[0]
    assert (a["session_id"], a["agent_id"], a["parent_agent_id"], a["kind"]) == (
        "sess-1",
        "agent-7",
        "main-1",
        "subagent",
    )
    assert (a["profile"], a["provider"], a["wire"], a["stream"], a["status"]) == (
        "deepseek",
        "deepseek",
        "anthropic",
        1,
        200,
    )
    assert (a["input_tokens"], a["output_tokens"], a["cache_read_tokens"], a["cache_write_tokens"]) == (
        100_000,
        20_000,
        50_000,
        1000,
    )
    # DeepSeek's catalog price: 0.28 in, 0.42 out, 0.028 cache hit, 0.28 cache miss.
    assert a["cost_usd"] == pytest.approx((100_000 * 0.28 + 20_000 * 0.42 + 50_000 * 0.028 + 1000 * 0.28) / 1e6)
    assert a["baseline_model"] == "claude-sonnet-4-6"
    assert a["baseline_usd"] == pytest.approx((100_000 * 3 + 20_000 * 15 + 50_000 * 0.3 + 1000 * 3.75) / 1e6)
    assert a["price_catalog"] == shipped_catalog().version
    assert a["ttfb_ms"] == 120.5 and a["latency_ms"] == 900.0
    b = got[1]
    assert (b["status"], b["error"], b["kind"], b["input_tokens"]) == (500, "upstream broke", "main", None)
    assert b["fallback_from"] is None and b["served_by"] is None
    with closing(sqlite3.connect(db_path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == ledger.SCHEMA_VERSION


def test_disabled_ledger_is_none(tmp_path: Path) -> None:
    from tests.usage.conftest import write_config

    write_config("[usage]\nenabled = false\n")
    assert LedgerWriter.open_default(load_config()) is None


def test_rows_are_batched(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    writer = LedgerWriter(path, None, batch_rows=50, flush_interval=5.0)
    inserts: list[int] = []
    real = writer._write

    def spy(batch: list[dict[str, object]]) -> None:
        inserts.append(len(batch))
        real(batch)

    writer._write = spy  # type: ignore[method-assign]
    for i in range(120):
        writer.submit(record(request_id=f"r{i}"))
    # Two full batches go out without waiting for the 5 s interval; the rest waits for close().
    wait_for(lambda: writer.written >= 100, what="two full batches")
    writer.close()
    assert inserts[:2] == [50, 50] and sum(inserts) == 120
    assert len(rows(path)) == 120


def test_full_queue_drops_and_never_blocks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    busy = threading.Event()

    class Stuck(Pricer):
        def price_row(self, row):  # type: ignore[no-untyped-def]
            busy.set()
            release.wait(30)  # the writer thread is stuck on a slow disk
            return None, None, ""

    writer = LedgerWriter(tmp_path / "l.sqlite3", Stuck(load_config(), shipped_catalog()), queue_size=10, batch_rows=1)
    caplog.set_level(logging.WARNING, logger="hybridcc.proxy")
    writer.submit(record(request_id="first"))
    busy.wait(10)
    start = time.perf_counter()
    for _ in range(1000):
        writer.submit(record())
    elapsed = time.perf_counter() - start
    release.set()
    writer.close()
    assert writer.dropped == 990 and writer.written == 11
    assert elapsed < 0.5, f"1000 submits took {elapsed:.3f}s"
    drops = [r for r in caplog.records if "usage ledger: dropped" in r.getMessage()]
    assert len(drops) == 1, "one log line, not one per dropped row"


def test_unwritable_location_drops_without_raising(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    caplog.set_level(logging.WARNING, logger="hybridcc.proxy")
    writer = LedgerWriter(blocker / "usage.sqlite3", None, flush_interval=0.01)
    for i in range(50):
        writer.submit(record(request_id=f"r{i}"))
    assert writer.flush()
    writer.close()
    assert writer.written == 0 and writer.dropped == 50
    assert any("usage ledger: dropped" in r.getMessage() for r in caplog.records)


def test_read_only_directory_drops_without_raising(tmp_path: Path) -> None:
    # Root writes through directory permissions (and CI runs as root): there, /proc stands for a
    # read-only directory — no user, root included, can create a file in it.
    ro = tmp_path / "ro" if os.geteuid() != 0 else Path("/proc")
    if ro != Path("/proc"):
        ro.mkdir()
        ro.chmod(0o500)
    try:
        writer = LedgerWriter(ro / "usage.sqlite3", None, flush_interval=0.01)
        writer.submit(record())
        assert writer.flush()
        writer.close()
        assert writer.dropped == 1
    finally:
        if ro != Path("/proc"):
            ro.chmod(0o700)


def test_locked_database_never_delays_submit_and_recovers(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    ledger.connect(path).close()
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    writer = LedgerWriter(path, None, flush_interval=0.01, busy_timeout=0.05)
    try:
        worst = 0.0
        for i in range(200):
            t = time.perf_counter()
            writer.submit(record(request_id=f"locked{i}"))
            worst = max(worst, time.perf_counter() - t)
        assert writer.flush()
        assert worst < 0.02, f"a submit waited {worst * 1000:.1f} ms on the locked database"
        assert writer.dropped == 200 and writer.written == 0
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    writer.submit(record(request_id="after"))
    writer.close()
    assert [r["request_id"] for r in rows(path)] == ["after"]


def test_migration_from_version_1_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in ledger.MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO requests (ts, request_id, session_id) VALUES (1.0, 'old', 's')")
    conn.close()
    conn = ledger.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == ledger.SCHEMA_VERSION == 2
    assert conn.execute("SELECT request_id, kind FROM requests").fetchall() == [("old", None)]
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"requests_ts", "requests_session"} <= indexes
    conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    ledger.connect(path).close()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(ledger.LedgerError, match="newer"):
        ledger.connect(path)
    writer = LedgerWriter(path, None, flush_interval=0.01)
    writer.submit(record())
    assert writer.flush()
    writer.close()
    assert writer.dropped == 1


def test_prune_and_startup_prune(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    now = time.time()
    writer = LedgerWriter(path, None, retention_days=10, flush_interval=0.01)
    writer.submit(record(request_id="old", ts=now - 11 * 86400))
    writer.submit(record(request_id="new", ts=now))
    writer.close()
    # The first batch is written before the start-up prune, so the old row is gone only now:
    writer = LedgerWriter(path, None, retention_days=10, flush_interval=0.01)
    writer.submit(record(request_id="newer", ts=now))
    writer.close()
    assert [r["request_id"] for r in rows(path)] == ["new", "newer"]
    conn = ledger.connect(path)
    assert ledger.prune(conn, 0) == 0  # 0 days keeps everything
    assert ledger.prune(conn, 1, now=now + 2 * 86400) == 2
    conn.close()


def test_pricing_failure_keeps_the_row(tmp_path: Path) -> None:
    class Broken(Pricer):
        def price_row(self, row):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    path = tmp_path / "l.sqlite3"
    writer = LedgerWriter(path, Broken(load_config(), shipped_catalog()), flush_interval=0.01)
    writer.submit(record())
    writer.close()
    got = rows(path)
    assert len(got) == 1 and got[0]["cost_usd"] is None


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from hybridcc.usage.ledger import LedgerWriter
    writer = LedgerWriter(Path(sys.argv[1]), None)
    n = 0
    while True:
        for _ in range(20):
            writer.submit({"request_id": f"r{n}", "ts": time.time(), "status": 200})
            n += 1
        print(n, flush=True)
        time.sleep(0.005)
    """
)


def test_kill_9_under_load_loses_at_most_the_last_second(tmp_path: Path) -> None:
    """A child submits ~4000 rows/s and reports its count; SIGKILL it and compare with the file."""
    path = tmp_path / "crash.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    reports: list[tuple[float, int]] = []
    try:
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline()
            assert line, "the child died"
            reports.append((time.monotonic(), int(line)))
            if reports[-1][1] >= 8000 and reports[-1][0] - reports[0][0] > 1.5:
                break
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    written = len(rows(path))
    submitted = reports[-1][1]
    one_second_before = max((n for t, n in reports if t <= killed_at - 1.0), default=0)
    assert written >= one_second_before, (
        f"lost {submitted - written} of {submitted} rows; rows submitted over 1 s before the kill: {one_second_before}"
    )
    print(f"kill -9 under load: submitted {submitted}, on disk {written}, lost {submitted - written}")
