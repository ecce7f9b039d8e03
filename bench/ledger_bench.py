"""The usage ledger's cost on the request path: ``python bench/proxy_bench.py --ledger-compare``.

Two hybridcc proxies in front of the same fake upstream, one with the ledger (the default) and one
with ``[usage] enabled = false``, measured in the same run with requests interleaved (order rotated)
so machine noise hits both alike: streaming TTFB for a small and a Claude-Code-sized request, and
events/s of one long stream. The ledger-on proxy's database is counted at the end, to show it did
write a row per request. Then the status line (``hybridcc statusline``'s script, as Claude Code runs
it) is timed end to end on a ledger of ``--statusline-rows`` rows (issue 14: under 50 ms at 100k).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench import procs
from bench.procs import Service
from bench.proxy_bench import Row, Target, body, claude_code_request, events_per_second, interleaved, pct

ON, OFF = "ledger on", "ledger off"
DISABLED = "\n[usage]\nenabled = false\n"
SESSION = "bench-session-0001"


def ledger_rows(service: Service) -> int:
    """Rows in a proxy's ledger (its HYBRIDCC_HOME/data/usage.sqlite3), 0 when there is none."""
    db = service.log / "data" / "usage.sqlite3" if service.log is not None else None
    if db is None or not db.is_file():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM requests").fetchone()[0])
    finally:
        conn.close()


async def compare(args: argparse.Namespace, on: Service, off: Service) -> list[Row]:
    targets = [Target(on), Target(off)]
    for t in targets:  # as Claude Code sends it: the ledger keys rows (and the status line) on it
        t.service.headers["x-claude-code-session-id"] = SESSION
    rows: list[Row] = []
    ms = 1000.0

    def latency(label: str, data: dict[str, list[float]]) -> None:
        for q in (0.5, 0.99):
            vals = {k: pct(v, q) * ms for k, v in data.items()}
            vals["Δ on − off"] = vals[ON] - vals[OFF]
            rows.append((f"{label}: p{round(q * 100)} ms", vals, "{:.2f}", "Δ ≈ 0" if q == 0.5 else ""))

    latency("small streaming TTFB", await interleaved(targets, body("hello"), args.n, lambda r: r.ttfb))
    big = claude_code_request()
    data = await interleaved(targets, big, max(30, args.n // 4), lambda r: r.ttfb)
    latency(f"{len(big) / 1024:.0f} KB Claude-Code-shaped TTFB", data)
    eps = await events_per_second(targets, args.deltas, args.runs)
    eps["Δ on − off"] = eps[ON] - eps[OFF]
    rows.append((f"streamed events/s, one {args.deltas:,}-delta stream (median of {args.runs})", eps, "{:,.0f}",
                 "Δ ≈ 0"))  # fmt: skip
    for t in targets:
        await t.conn.close()
    return rows


def fill_ledger(db: Path, n: int) -> None:
    """``n`` ledger rows over 200 sessions (the status line reads one through the session index)."""
    from hybridcc.usage import ledger

    conn = ledger.connect(db)
    now = time.time()
    record = {"request_id": "req_b", "path": "/v1/messages", "profile": "oa", "provider": "oa", "wire": "openai",
              "model_requested": "bench-model", "model_used": "bench-model", "stream": True, "status": 200,
              "latency_ms": 900.0, "ttfb_ms": 120.0, "input_tokens": 20_000, "output_tokens": 800}  # fmt: skip
    rows = [ledger.to_row({**record, "session_id": f"s{i % 200}", "ts": now - n + i}, 0.01, 0.08, "claude-sonnet-4-6",
                          "bench") for i in range(n)]  # fmt: skip
    with conn:
        conn.execute("BEGIN")
        conn.executemany(ledger._INSERT, rows)  # the writer's own statement, not a second copy
    conn.close()


def _spawn_ms(argv: list[str], payload: bytes, env: dict[str, str]) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    out = subprocess.run(argv, input=payload, capture_output=True, env=env, check=True).stdout
    return (time.perf_counter() - t0) * 1000, out


def statusline_ms(rows: int, runs: int) -> tuple[list[float], list[float]]:
    """ms of the status-line command end to end as Claude Code spawns it, and of ``python -I -S -c pass``
    (the interpreter's own start-up, the floor) alternated with it."""
    import shlex

    from hybridcc.usage.statusline import settings_entry

    with tempfile.TemporaryDirectory(prefix="hcc-bench-sl-") as tmp:
        db = Path(tmp) / "usage.sqlite3"
        fill_ledger(db, rows)
        argv = shlex.split(str(settings_entry(db)["command"]))
        payload = json.dumps({"session_id": "s7", "model": {"id": "bench-model"},
                              "context_window": {"context_window_size": 200_000,
                                                 "current_usage": {"input_tokens": 50_000}}}).encode()  # fmt: skip
        env = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:1/p/oa", "PATH": "/usr/bin:/bin"}
        times: list[float] = []
        floor: list[float] = []
        for i in range(runs + 1):  # the first round warms the page cache
            ms, line = _spawn_ms(argv, payload, env)
            if b"saved" not in line:
                raise RuntimeError(f"the status line read no cost from the ledger: {line!r}")
            base, _ = _spawn_ms([argv[0], "-I", "-S", "-c", "pass"], b"", env)
            if i:
                times.append(ms)
                floor.append(base)
    return times, floor


def run(args: argparse.Namespace) -> str:
    up = procs.start_upstream()
    services: list[Service] = []
    try:
        on = procs.start_hybridcc(up.port, name=ON)
        services.append(on)
        off = procs.start_hybridcc(up.port, name=OFF, extra_config=DISABLED)
        services.append(off)
        rows = asyncio.run(compare(args, on, off))
        sent = (10 + args.n) + (10 + max(30, args.n // 4)) + args.runs + 1  # per proxy, warm-ups included
        deadline = time.monotonic() + 10
        while ledger_rows(on) < sent and time.monotonic() < deadline:  # the writer batches every 0.2 s
            time.sleep(0.05)
        written = {ON: float(ledger_rows(on)), OFF: float(ledger_rows(off))}
    finally:
        for s in services:
            s.stop()
        up.stop()
    rows.append((f"ledger rows written (of {sent} requests)", written, "{:.0f}", f"on = {sent}, off = 0"))
    line, floor = statusline_ms(args.statusline_rows, args.statusline_runs)
    names = [ON, OFF, "Δ on − off"]
    lines = ["| measure | " + " | ".join(names) + " | goal |", "|" + "---|" * (len(names) + 2)]
    for measure, vals, fmt, goal in rows:
        lines.append(f"| {measure} | " + " | ".join(fmt.format(vals[n]) if n in vals else "" for n in names)
                     + f" | {goal} |")  # fmt: skip
    med = statistics.median(line)
    lines += ["", f"| status line, end to end (n={args.statusline_runs}) | median ms | max ms | goal |", "|---|---|---|---|",
              f"| `python -I -S statusline.py`, ledger of {args.statusline_rows:,} rows | {med:.1f} | {max(line):.1f} "
              f"| < 50 {'✓' if med < 50 else '✗'} |",
              f"| `python -I -S -c pass` (interpreter floor, same run) | {statistics.median(floor):.1f} "
              f"| {max(floor):.1f} | |"]  # fmt: skip
    return "\n".join(lines)
