"""Proxy benchmark: run by hand (`python bench/proxy_bench.py`), prints a table.

Starts a fast fake OpenAI upstream and the hybridcc proxy as child processes on 127.0.0.1 and
measures, in one run so the numbers compare: time-to-first-byte overhead over calling the
upstream directly (small and ~120 KB Claude-Code-shaped requests), streamed events per second
for one 5,000-delta response, 64 concurrent streams, start-up to a healthy /health, and RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 20) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        try:
            if httpx.get(url, timeout=0.5).status_code < 500:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            time.sleep(0.005)
    raise RuntimeError(f"{url} did not come up")


def claude_code_request(stream: bool = True) -> dict[str, Any]:
    """~120 KB: 3 system blocks, 24 tools with Claude-Code-like schemas, a long history."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": False,
        "properties": {f"p{i}": {"type": "string", "description": "parameter description " * 12} for i in range(8)},
        "required": ["p0"],
    }  # fmt: skip
    tools = [{"name": f"Tool{i}", "description": "Tool description. " * 60, "input_schema": schema} for i in range(24)]
    history: list[dict[str, Any]] = []
    for i in range(12):
        history.append({"role": "user", "content": [{"type": "text", "text": f"request {i} " + "context " * 150}]})
        history.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "ok"},
                    {"type": "tool_use", "id": f"toolu_{i}", "name": "Tool1", "input": {"p0": "x" * 200}},
                ],
            }
        )
        history.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": "result " * 200}],
            }
        )
    history.append({"role": "user", "content": "final question"})
    system = [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"}, {"type": "text", "text": "You are Claude Code. " * 200, "cache_control": {"type": "ephemeral"}},
              {"type": "text", "text": "Environment info. " * 100, "cache_control": {"type": "ephemeral"}}]  # fmt: skip
    return {"model": "claude-sonnet-4-6", "max_tokens": 32000, "stream": stream, "system": system, "tools": tools, "messages": history,
            "metadata": {"user_id": json.dumps({"device_id": "d" * 64, "session_id": "s"})}, "thinking": {"type": "adaptive"}}  # fmt: skip


def openai_equivalent(body: dict[str, Any]) -> dict[str, Any]:
    from hybridcc.providers import QUIRKS
    from hybridcc.proxy.translate.request import to_openai

    out, _ = to_openai(body, model="m", quirks=QUIRKS["generic"], stream=True)
    return out


def ttfb(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> float:
    t0 = time.perf_counter()
    dt = 0.0
    with client.stream("POST", url, content=body, headers=headers) as r:
        for _ in r.iter_raw():
            if not dt:
                dt = time.perf_counter() - t0
    return dt


def overhead(
    n: int, upstream: str, proxy: str, token: str, anthropic_body: dict[str, Any]
) -> tuple[list[float], list[float]]:
    direct_body = json.dumps(openai_equivalent(anthropic_body)).encode()
    proxy_body = json.dumps(anthropic_body).encode()
    hd = {"content-type": "application/json", "authorization": "Bearer x"}
    hp = {"content-type": "application/json", "x-api-key": token, "anthropic-version": "2023-06-01"}
    direct, via = [], []
    with httpx.Client(timeout=30) as c:
        for _ in range(20):  # warm-up: connections, caches
            ttfb(c, upstream + "/v1/chat/completions", direct_body, hd)
            ttfb(c, proxy + "/v1/messages", proxy_body, hp)
        for _ in range(n):  # interleaved so noise hits both alike
            direct.append(ttfb(c, upstream + "/v1/chat/completions", direct_body, hd))
            via.append(ttfb(c, proxy + "/v1/messages", proxy_body, hp))
    return direct, via


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def events_per_second(proxy: str, token: str, deltas: int) -> tuple[float, int]:
    body = {
        "model": f"deltas-{deltas}",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }
    hp = {"x-api-key": token, "anthropic-version": "2023-06-01"}
    best = 0.0
    events = 0
    with httpx.Client(timeout=60) as c:
        for _ in range(5):
            t0 = time.perf_counter()
            with c.stream("POST", proxy + "/p/bench-raw/v1/messages", json=body, headers=hp) as r:
                data = b"".join(r.iter_raw())
            dt = time.perf_counter() - t0
            events = data.count(b"\nevent: ") + 1
            best = max(best, events / dt)
    return best, events


async def concurrent(proxy: str, token: str, n: int) -> tuple[float, int]:
    hp = {"x-api-key": token, "anthropic-version": "2023-06-01"}
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }
    errors = 0
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=n)) as c:

        async def one() -> None:
            nonlocal errors
            try:
                async with c.stream("POST", proxy + "/v1/messages", json=body, headers=hp) as r:
                    data = b"".join([b async for b in r.aiter_raw()])
                if r.status_code != 200 or b"message_stop" not in data:
                    errors += 1
            except httpx.HTTPError:
                errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - t0, errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=300, help="requests per latency measurement")
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="hcc-bench-")
    env = {**os.environ, "HYBRIDCC_HOME": home, "BENCH_KEY": "sk-bench"}
    up_port, px_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    Path(home, "config.toml").write_text(
        f'default_profile = "bench"\n[providers.bench]\napi = "openai"\nbase_url = "{upstream}/v1"\napi_key_env = "BENCH_KEY"\n'
        '[profiles.bench]\nprovider = "bench"\nmodel = "m"\n'
        '[profiles.bench-raw]\nprovider = "bench"\nmodel = "deltas-5000"\n'
    )
    up = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fake_openai.py"), str(up_port)], env=env)
    procs = [up]
    try:
        wait_http(upstream + "/")
        t0 = time.perf_counter()
        px = subprocess.Popen(
            [sys.executable, "-m", "hybridcc.proxy", "--port", str(px_port)],  # what the daemon runs
            env=env,
            stderr=subprocess.DEVNULL,
        )
        procs.append(px)
        proxy = f"http://127.0.0.1:{px_port}"
        wait_http(proxy + "/health")
        startup = time.perf_counter() - t0
        token = Path(home, "state", "proxy.token").read_text().strip()
        rss_idle = psutil.Process(px.pid).memory_info().rss / 2**20

        small = {
            "model": "claude-sonnet-4-6",
            "max_tokens": 100,
            "stream": True,
            "messages": [{"role": "user", "content": "hello"}],
        }
        d_small, p_small = overhead(args.n, upstream, proxy, token, small)
        big = claude_code_request()
        size_kb = len(json.dumps(big)) / 1024
        d_big, p_big = overhead(max(50, args.n // 3), upstream, proxy, token, big)
        eps, events = events_per_second(proxy, token, 5000)
        wall, errors = asyncio.run(concurrent(proxy, token, 64))
        rss_load = psutil.Process(px.pid).memory_info().rss / 2**20

        def row(name: str, d: list[float], p: list[float]) -> str:
            ov50 = (pct(p, 0.5) - pct(d, 0.5)) * 1000
            ov99 = (pct(p, 0.99) - pct(d, 0.99)) * 1000
            return f"| {name} | {pct(d, 0.5) * 1000:.2f} | {pct(p, 0.5) * 1000:.2f} | {ov50:.2f} | {ov99:.2f} |"

        print(f"\nhybridcc proxy benchmark — {os.cpu_count()} cores, python {sys.version.split()[0]}, n={args.n}\n")
        print("| request | direct TTFB p50 ms | via proxy TTFB p50 ms | overhead p50 ms | overhead p99 ms |")
        print("|---|---|---|---|---|")
        print(row("small streaming", d_small, p_small))
        print(row(f"Claude-Code-shaped {size_kb:.0f} KB", d_big, p_big))
        print()
        print("| measure | value |")
        print("|---|---|")
        print(f"| streamed events/s (one 5,000-delta response, {events} events) | {eps:,.0f} |")
        print(f"| 64 concurrent streams: wall time | {wall * 1000:.0f} ms |")
        print(f"| 64 concurrent streams: errors | {errors} |")
        print(f"| start-up to healthy /health | {startup * 1000:.0f} ms |")
        print(f"| RSS idle | {rss_idle:.1f} MB |")
        print(f"| RSS after load | {rss_load:.1f} MB |")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)


if __name__ == "__main__":
    main()
