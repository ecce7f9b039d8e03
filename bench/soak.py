"""Soak the hybridcc proxy: many requests at high concurrency with ~10% injected upstream faults.

``python bench/soak.py`` (10,000 requests, concurrency 32; ``-n 1000`` for a short run). Starts the fake
upstream (bench/fake_upstream.py) and the proxy (``python -m hybridcc.proxy``) on 127.0.0.1 and sends
requests on both wires (profile ``oa``: OpenAI wire, translated; ``an``: Anthropic wire, passthrough),
streamed and not. A fault is one of: connection refused, reset mid-stream, 500, 429 with retry-after,
a malformed JSON chunk, a stream truncated without a finish, a slow first byte (which must still succeed).

Each answer is judged: **hung** (no complete answer within --timeout), **malformed** (breaks the SSE
grammar of bench/sse_check.py, a non-JSON or non-Anthropic-shaped body, or a connection dropped mid-answer)
and **wrong** (a fault reported as success, a success reported as a fault, or a stream that stops without
``message_stop`` or ``event: error``). Every 1,000 requests it prints the proxy's RSS and open file
descriptors; /health is polled throughout. Bounded by -n and --max-seconds; it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # `python bench/soak.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from bench import procs
from bench.client import Conn, Response
from bench.sse_check import check_stream, is_error_body, is_message_body, parse_json

FAULTS = ["refused", "reset", "http500", "http429", "malformed", "trunc", "slow"]
SUCCESS_KINDS = {"ok", "slow"}


@dataclass(frozen=True)
class Case:
    kind: str  # "ok" or one of FAULTS
    wire: str  # "oa" (translated) or "an" (passthrough)
    stream: bool

    def request(self, rng: random.Random) -> tuple[str, bytes]:
        profile = self.wire + ("dead" if self.kind == "refused" else "")
        marker = {"ok": f"deltas:{rng.randint(1, 60)}", "slow": "slow:800", "reset": f"reset:{rng.randint(0, 15)}"}
        text = f"soak @@bench:{marker.get(self.kind, self.kind)}@@ " + "context " * rng.randint(0, 200)
        body = {"model": "claude-sonnet-4-6", "max_tokens": 1024, "stream": self.stream,
                "messages": [{"role": "user", "content": text}]}  # fmt: skip
        return f"/p/{profile}/v1/messages", json.dumps(body).encode()


def judge(case: Case, r: Response) -> tuple[list[str], bool, str]:
    """(grammar problems, wrong?, what was seen) for one complete or cut response."""
    fault = case.kind not in SUCCESS_KINDS
    problems: list[str] = []
    if not r.complete:
        problems.append("connection dropped mid-answer")
    sse = r.headers.get("content-type", "").startswith("text/event-stream")
    if r.status == 200 and case.stream and sse:
        grammar, ended = check_stream(r.events, r.leftover)
        problems += grammar
        seen = f"200 stream ended {ended}"
        if ended == "error":
            err = r.events[-1].data.get("error", {}) if isinstance(r.events[-1].data, dict) else {}
            seen += f" ({err.get('type')})"
        wrong = ended == "cut" or (ended == "stop") == fault
        return problems, wrong, seen
    data = parse_json(r.body)
    if r.status == 200:
        if not is_message_body(data):
            problems.append(f"200 body is not a message: {r.body[:100]!r}")
        return problems, fault or not is_message_body(data), "200 message" if is_message_body(data) else "200 other"
    if not is_error_body(data):
        problems.append(f"HTTP {r.status} body is not an Anthropic error: {r.body[:100]!r}")
    etype = data["error"]["type"] if is_error_body(data) else "?"
    return problems, not fault, f"{r.status} {etype}"


class Soak:
    def __init__(self, args: argparse.Namespace, proxy: procs.Service) -> None:
        self.args = args
        self.proxy = proxy
        self.ps = psutil.Process(proxy.pid)
        self.rng = random.Random(args.seed)
        self.issued = 0
        self.done = 0
        self.t0 = time.perf_counter()
        self.totals: Counter[str] = Counter()
        self.by_case: dict[Case, Counter[str]] = defaultdict(Counter)
        self.seen: dict[Case, Counter[str]] = defaultdict(Counter)
        self.examples: list[str] = []
        self.health_fail = 0
        self.health_checks = 0
        self.health_worst = 0.0
        self.stop = False

    def next_case(self) -> Case | None:
        if self.issued >= self.args.n or time.perf_counter() - self.t0 > self.args.max_seconds:
            return None
        self.issued += 1
        kind = self.rng.choice(FAULTS) if self.rng.random() < self.args.fault_rate else "ok"
        return Case(kind, self.rng.choice(["oa", "an"]), self.rng.random() < 0.7)

    async def worker(self) -> None:
        conn = Conn(self.proxy.port)
        while (case := self.next_case()) is not None:
            path, body = case.request(self.rng)
            outcome: list[str] = []
            try:
                r = await asyncio.wait_for(
                    conn.request("POST", path, body, self.proxy.headers, keep_events=True), self.args.timeout
                )
                problems, wrong, seen = judge(case, r)
            except TimeoutError:
                await conn.close()
                problems, wrong, seen, outcome = [], False, "hung", ["hung"]
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                await conn.close()
                problems, wrong, seen = [f"no HTTP answer: {type(exc).__name__}"], True, "no answer"
            outcome += (["malformed"] if problems else []) + (["wrong"] if wrong else [])
            self.seen[case][seen] += 1
            for o in outcome or ["ok"]:
                self.totals[o] += 1
                self.by_case[case][o] += 1
            if outcome and len(self.examples) < 12:
                self.examples.append(f"{case}: {seen}; {'; '.join(problems[:2])}")
            self.done += 1
            if self.done % 1000 == 0 or self.done == self.args.n:
                self.report_row()
        await conn.close()

    def report_row(self) -> None:
        dt = time.perf_counter() - self.t0
        rss = self.ps.memory_info().rss / 2**20
        fds = self.ps.num_fds()
        t = self.totals
        print(f"| {self.done:,} | {dt:.0f} | {self.done / dt:.0f} | {rss:.1f} | {fds} | {t['hung']} | "
              f"{t['malformed']} | {t['wrong']} | {self.health_fail}/{self.health_checks} |", flush=True)  # fmt: skip

    async def health(self) -> None:
        conn = Conn(self.proxy.port)
        while not self.stop:
            t = time.perf_counter()
            try:
                r = await asyncio.wait_for(conn.request("GET", "/health"), 5)
                ok = r.status == 200
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                ok = False
                await conn.close()
            self.health_worst = max(self.health_worst, time.perf_counter() - t)
            self.health_checks += 1
            self.health_fail += not ok
            await asyncio.sleep(0.5)
        await conn.close()

    async def run(self) -> None:
        print("| requests | s | req/s | proxy RSS MB | proxy fds | hung | malformed | wrong | /health failed |")
        print("|---|---|---|---|---|---|---|---|---|")
        self.report_row_start()
        health = asyncio.create_task(self.health())
        await asyncio.gather(*(self.worker() for _ in range(self.args.concurrency)))
        self.stop = True
        await health

    def report_row_start(self) -> None:
        print(f"| 0 | 0 | - | {self.ps.memory_info().rss / 2**20:.1f} | {self.ps.num_fds()} | 0 | 0 | 0 | 0/0 |")


def breakdown(soak: Soak) -> str:
    lines = ["| case (kind, wire, stream) | n | ok | hung | malformed | wrong | answers seen |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for case in sorted(soak.by_case, key=lambda c: (c.kind != "ok", c.kind, c.wire, not c.stream)):
        c = soak.by_case[case]
        n = sum(soak.seen[case].values())
        seen = ", ".join(f"{k} ×{v}" for k, v in soak.seen[case].most_common(3))
        wire = "OpenAI (translated)" if case.wire == "oa" else "Anthropic (passthrough)"
        label = f"{case.kind}, {wire}, {'stream' if case.stream else 'non-stream'}"
        lines.append(f"| {label} | {n} | {c['ok']} | {c['hung']} | {c['malformed']} | {c['wrong']} | {seen} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=10_000, help="requests to send (default 10,000)")
    ap.add_argument("-c", "--concurrency", type=int, default=32, help="requests in flight (default 32)")
    ap.add_argument("--fault-rate", type=float, default=0.10, help="share of requests with a fault (default 0.10)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds before a request counts as hung (default 30)")
    ap.add_argument("--max-seconds", type=float, default=1200.0, help="stop issuing requests after this (default 1200)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    up = procs.start_upstream()
    proxy = procs.start_hybridcc(up.port)
    try:
        print(f"soak: {args.n:,} requests, concurrency {args.concurrency}, faults {args.fault_rate:.0%}, "
              f"seed {args.seed}, proxy pid {proxy.pid}\n")  # fmt: skip
        soak = Soak(args, proxy)
        asyncio.run(soak.run())
        alive = proxy.proc.poll() is None and procs.healthy(f"http://127.0.0.1:{proxy.port}/health")
    finally:
        proxy.stop()
        up.stop()
    t = soak.totals
    print(f"\n{soak.done:,} requests in {time.perf_counter() - soak.t0:.0f} s: hung {t['hung']}, "
          f"malformed {t['malformed']}, wrong {t['wrong']}; /health failed {soak.health_fail} of "
          f"{soak.health_checks} (slowest {soak.health_worst * 1000:.0f} ms); proxy alive at the end: {alive}\n")  # fmt: skip
    print(breakdown(soak))
    if soak.examples:
        print("\nfirst problems:\n" + "\n".join(f"- {e}" for e in soak.examples))
    sys.exit(1 if t["hung"] or t["malformed"] or t["wrong"] or not alive else 0)


if __name__ == "__main__":
    main()
