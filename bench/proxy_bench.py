"""Proxy benchmark, run by hand: ``python bench/proxy_bench.py [-n 400]``; prints a Markdown table.

Starts a fake upstream (bench/fake_upstream.py: each SSE event its own flushed write) and the hybridcc
proxy (``python -m hybridcc.proxy``) on 127.0.0.1, and claude-code-router 2.0.0 beside it when installed
(``npm install --prefix ~/.cache/hybridcc-bench/ccr @musistudio/claude-code-router@2.0.0``), so every
figure is a ratio from one run. The client (bench/client.py) parses every SSE event; TTFB is the first
body byte; direct, hybridcc and ccr requests are interleaved (order rotated) so noise hits all alike.

``--ledger-compare`` instead compares the proxy with and without its usage ledger in one run, and times
the status line on a 100k-row ledger (see bench/ledger_bench.py).
``--profile FILE`` instead records the hybridcc proxy with py-spy while it streams (see bench/profile.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/proxy_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import procs
from bench.client import Conn, Response
from bench.procs import Service

UPSTREAM_PATH = "/v1/chat/completions"


def body(text: str, *, stream: bool = True, **extra: Any) -> bytes:
    msg = {"model": "claude-sonnet-4-6", "max_tokens": 1024, "stream": stream,
           "messages": [{"role": "user", "content": text}], **extra}  # fmt: skip
    return json.dumps(msg).encode()


def claude_code_request() -> bytes:
    """~120 KB as Claude Code sends it: 3 system blocks, 24 tools with its schemas, a 37-message history."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": False,
        "properties": {f"p{i}": {"type": "string", "description": "parameter description " * 12} for i in range(8)},
        "required": ["p0"],
    }  # fmt: skip
    tools = [{"name": f"Tool{i}", "description": "Tool description. " * 60, "input_schema": schema} for i in range(24)]
    history: list[dict[str, Any]] = []
    for i in range(12):
        history.append({"role": "user", "content": [{"type": "text", "text": f"request {i} " + "context " * 150}]})
        history.append({"role": "assistant", "content": [
            {"type": "text", "text": "ok"},
            {"type": "tool_use", "id": f"toolu_{i}", "name": "Tool1", "input": {"p0": "x" * 200}}]})  # fmt: skip
        history.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": "result " * 200}]})  # fmt: skip
    history.append({"role": "user", "content": "final question"})
    system = [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"},
              {"type": "text", "text": "You are Claude Code. " * 200, "cache_control": {"type": "ephemeral"}},
              {"type": "text", "text": "Environment info. " * 100, "cache_control": {"type": "ephemeral"}}]  # fmt: skip
    msg = {"model": "claude-sonnet-4-6", "max_tokens": 32000, "stream": True, "system": system, "tools": tools,
           "messages": history, "metadata": {"user_id": json.dumps({"device_id": "d" * 64, "session_id": "s"})},
           "thinking": {"type": "enabled", "budget_tokens": 4000}}  # fmt: skip
    return json.dumps(msg).encode()


class Target:
    """Where a request goes: the upstream itself ("direct") or a proxy in front of it."""

    def __init__(self, service: Service, direct: bool = False) -> None:
        self.service = service
        self.name = "direct" if direct else service.name
        self.path = UPSTREAM_PATH if direct else "/v1/messages"
        self.conn = Conn(service.port)

    async def send(self, payload: bytes) -> Response:
        return await self.conn.request("POST", self.path, payload, self.service.headers)


def ok_stream(r: Response, min_events: int) -> bool:
    last = r.events[-1].data if r.events else None
    done = last == "[DONE]" or (isinstance(last, dict) and last.get("type") == "message_stop")
    return r.status == 200 and r.complete and done and r.event_count >= min_events and not r.leftover


async def interleaved(targets: list[Target], payload: bytes, n: int, pick: Callable[[Response], float]) -> dict[str, list[float]]:  # fmt: skip
    """n rounds, each target once a round, order rotated; 10 warm-up rounds first (connections, caches)."""
    out: dict[str, list[float]] = {t.name: [] for t in targets}
    for i in range(10 + n):
        k = i % len(targets)
        for t in targets[k:] + targets[:k]:
            r = await t.send(payload)
            if r.status != 200 or not r.complete:
                raise RuntimeError(f"{t.name}: HTTP {r.status} {r.body[:200]!r}")
            if i >= 10:
                out[t.name].append(pick(r))
    return out


async def events_per_second(targets: list[Target], deltas: int, runs: int) -> dict[str, float]:
    """Median events/s over ``runs`` streams of ``deltas`` text deltas per target, runs alternated."""
    payload = body(f"go @@bench:deltas:{deltas}@@")
    rates: dict[str, list[float]] = {t.name: [] for t in targets}
    for i in range(runs + 1):
        for t in targets:
            r = await t.send(payload)
            if not ok_stream(r, deltas):
                raise RuntimeError(f"{t.name}: bad stream: HTTP {r.status}, {r.event_count} events")
            if i:  # the first run warms up
                rates[t.name].append(r.event_count / r.elapsed)
    return {name: statistics.median(v) for name, v in rates.items()}


async def concurrent(target: Target, streams: int, deltas: int) -> tuple[float, int]:
    """Wall time of ``streams`` simultaneous streams of ``deltas`` deltas each (new connections), and errors."""
    payload = body(f"go @@bench:deltas:{deltas}@@")
    conns = [Conn(target.service.port) for _ in range(streams)]

    async def one(c: Conn) -> bool:
        try:
            return ok_stream(await c.request("POST", target.path, payload, target.service.headers), deltas)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            return False
        finally:
            await c.close()

    t0 = asyncio.get_running_loop().time()
    results = await asyncio.gather(*(one(c) for c in conns))
    return asyncio.get_running_loop().time() - t0, results.count(False)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


Row = tuple[str, dict[str, float], str, str]  # measure, value per target, number format, goal


async def measure(args: argparse.Namespace, up: Service, proxies: list[Service]) -> list[Row]:
    """Every figure for the upstream alone and for every proxy, as table rows."""
    direct = Target(up, direct=True)
    targets = [direct, *(Target(p) for p in proxies)]
    ms = 1000.0
    rows: list[Row] = []

    def overhead_rows(label: str, data: dict[str, list[float]], goal50: str, goal99: str) -> None:
        rows.append((f"{label}: p50 ms", {k: pct(v, 0.5) * ms for k, v in data.items()}, "{:.2f}", ""))
        d50, d99 = pct(data["direct"], 0.5), pct(data["direct"], 0.99)
        over50 = {k: (pct(v, 0.5) - d50) * ms for k, v in data.items() if k != "direct"}
        over99 = {k: (pct(v, 0.99) - d99) * ms for k, v in data.items() if k != "direct"}
        rows.append((f"{label}: overhead p50 ms", over50, "{:.2f}", goal50))
        rows.append((f"{label}: overhead p99 ms", over99, "{:.2f}", goal99))

    small = body("hello")
    overhead_rows("small streaming TTFB", await interleaved(targets, small, args.n, lambda r: r.ttfb), "≤ 1", "")
    small_ns = body("hello", stream=False)
    data = await interleaved(targets, small_ns, args.n, lambda r: r.elapsed)
    overhead_rows("small non-streaming, whole response", data, "", "")
    big = claude_code_request()
    label = f"{len(big) / 1024:.0f} KB Claude-Code-shaped TTFB"
    overhead_rows(label, await interleaved(targets, big, max(30, args.n // 4), lambda r: r.ttfb), "≤ ccr", "")
    eps = await events_per_second(targets, args.deltas, args.runs)
    rows.append((f"streamed events/s, one {args.deltas:,}-delta stream (median of {args.runs})", eps, "{:,.0f}", "≥ 1.5× ccr"))  # fmt: skip
    walls: dict[str, list[float]] = {t.name: [] for t in targets}
    errors: dict[str, float] = {t.name: 0 for t in targets}
    for _ in range(3):
        for t in targets:
            wall, errs = await concurrent(t, args.streams, 200)
            walls[t.name].append(wall * ms)
            errors[t.name] += errs
    rows.append((f"{args.streams} concurrent 200-delta streams: wall ms (median of 3)",
                 {k: statistics.median(v) for k, v in walls.items()}, "{:.0f}", "≤ ccr"))  # fmt: skip
    rows.append((f"{args.streams} concurrent streams: errors (of {3 * args.streams})", errors, "{:.0f}", "0"))
    for t in targets:
        await t.conn.close()
    return rows


def render(rows: list[Row], names: list[str]) -> str:
    """Markdown table: one column per target, then hybridcc÷ccr and the goal with ✓/✗."""
    has_ccr = "ccr" in names
    head = ["measure", *names] + (["hybridcc ÷ ccr"] if has_ccr else []) + ["goal"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for measure, vals, fmt, goal in rows:
        cells = [fmt.format(vals[n]) if n in vals else "" for n in names]
        ratio = ""
        if has_ccr and "hybridcc" in vals and "ccr" in vals and vals["ccr"]:
            ratio = f"{vals['hybridcc'] / vals['ccr']:.2f}×"
        lines.append("| " + " | ".join([measure, *cells] + ([ratio] if has_ccr else []) + [verdict(goal, vals)]) + " |")
    return "\n".join(lines)


def verdict(goal: str, vals: dict[str, float]) -> str:
    if not goal or "hybridcc" not in vals:
        return goal
    h, c = vals["hybridcc"], vals.get("ccr")
    if goal.startswith("≥ 1.5× ccr"):
        met = c is not None and h >= 1.5 * c
    elif goal == "≤ ccr":
        met = c is not None and h <= c
    else:
        met = h <= float(goal.split()[-1])
    if c is None and "ccr" in goal:
        return goal + " (ccr not installed)"
    return f"{goal} {'✓' if met else '✗'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=400, help="interleaved rounds per latency measurement (default 400)")
    ap.add_argument("--deltas", type=int, default=5000, help="deltas in the events/s stream (default 5000)")
    ap.add_argument("--runs", type=int, default=5, help="events/s streams per target (default 5)")
    ap.add_argument("--streams", type=int, default=64, help="concurrent streams (default 64)")
    ap.add_argument("--startups", type=int, default=3, help="start-ups per proxy, median reported (default 3)")
    ap.add_argument("--no-ccr", action="store_true", help="leave claude-code-router out even when installed")
    ap.add_argument("--profile", metavar="FILE", help="py-spy the hybridcc proxy while streaming, write FILE")
    ap.add_argument("--ledger-compare", action="store_true", help="hybridcc with vs without the usage ledger only")
    ap.add_argument("--statusline-rows", type=int, default=100_000, help="ledger rows for the status-line timing")
    ap.add_argument("--statusline-runs", type=int, default=30, help="status-line runs timed (default 30)")
    args = ap.parse_args()
    if args.ledger_compare:
        from bench.ledger_bench import run

        print(f"usage ledger on vs off: {os.cpu_count()} cores, Python {sys.version.split()[0]}, n={args.n}\n")
        print(run(args))
        return
    if args.profile:
        from bench.profile import profile_streaming

        profile_streaming(Path(args.profile), args.deltas)
        return
    use_ccr = procs.ccr_installed() and not args.no_ccr
    if not use_ccr and not args.no_ccr:
        print(f"claude-code-router not installed (for the side-by-side column: {procs.CCR_INSTALL})\n")
    up = procs.start_upstream()
    proxies: list[Service] = []
    try:
        starters: list[Callable[[int], Service]] = [procs.start_hybridcc] + ([procs.start_ccr] if use_ccr else [])
        startup: dict[str, list[float]] = {}
        rss_idle: dict[str, float] = {}
        for i in range(args.startups):  # alternated, the last instance of each kept for the run
            for start in starters:
                svc = start(up.port)
                startup.setdefault(svc.name, []).append(svc.startup * 1000)
                if i == args.startups - 1:
                    rss_idle[svc.name] = procs.rss_mb(svc.pid)
                    proxies.append(svc)
                else:
                    svc.stop()
        raw = asyncio.run(measure(args, up, proxies))
        rss_load = {p.name: procs.rss_mb(p.pid) for p in proxies}
    finally:
        for p in proxies:
            p.stop()
        up.stop()
    extra: list[Row] = [
        (f"start-up to healthy /health: ms (median of {args.startups})",
         {k: statistics.median(v) for k, v in startup.items()}, "{:.0f}", "≤ ccr"),
        ("RSS idle (after start-up), MB", rss_idle, "{:.1f}", "≤ 45"),
        ("RSS after load, MB", rss_load, "{:.1f}", ""),
    ]  # fmt: skip
    names = ["direct", *(p.name for p in proxies)]
    print(f"hybridcc proxy benchmark: {os.cpu_count()} cores, Python {sys.version.split()[0]}, n={args.n}"
          + (f", claude-code-router {procs.CCR_VERSION} (node {node_version()})" if use_ccr else ""))  # fmt: skip
    print()
    print(render(raw + extra, names))


def node_version() -> str:
    import subprocess

    return subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()


if __name__ == "__main__":
    main()
