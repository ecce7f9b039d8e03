"""Where the hybridcc proxy spends its time per streamed event: py-spy on the streaming benchmark.

``python bench/proxy_bench.py --profile /tmp/stream.txt`` starts the fake upstream and the proxy, streams
5,000-delta responses through it while ``py-spy record --format raw`` samples the proxy, then prints the
top functions by own time and by inclusive time (share of samples, and µs per streamed event from the
proxy's CPU time) and writes the collapsed stacks (FILE) for flame graph tools. Needs ``pip install py-spy``
and ptrace rights (root, or ``kernel.yama.ptrace_scope = 0``).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil

from bench import procs
from bench.client import Conn

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _short(frame: str) -> str:
    """``send (…/site-packages/uvicorn/protocols/http/httptools_impl.py:512)`` → ``send (uvicorn/…/httptools_impl.py)``."""
    m = FRAME.match(frame)
    if not m:
        return frame
    path = m["file"]
    for anchor in ("site-packages/", "/hybridcc/", "/lib/python3"):
        if anchor in path:
            path = path.split(anchor, 1)[1]
            path = ("hybridcc/" + path) if anchor == "/hybridcc/" else path
            break
    return f"{m['func']} ({path})"


def summarise(raw: str, us_per_event: float, top: int = 25) -> str:
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";")]
        # py-spy's first frame names the thread/process; the leaf is the last one.
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
        total += n
    if not total:
        return "no samples"
    out = [f"{total} samples; {us_per_event:.2f} µs of proxy CPU per streamed event", ""]
    for title, counter in (("own time (leaf frame)", own), ("inclusive time", incl)):
        out += [f"| {title} | % | µs/event |", "|---|---|---|"]
        for name, n in counter.most_common(top):
            out.append(f"| `{name}` | {100 * n / total:.1f} | {us_per_event * n / total:.2f} |")
        out.append("")
    return "\n".join(out)


async def _stream_for(port: int, headers: dict[str, str], deltas: int, seconds: float) -> int:
    payload = json.dumps({"model": "claude-sonnet-4-6", "max_tokens": 1024, "stream": True,
                          "messages": [{"role": "user", "content": f"@@bench:deltas:{deltas}@@"}]}).encode()  # fmt: skip
    conn = Conn(port)
    events = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        r = await conn.request("POST", "/v1/messages", payload, headers)
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}: {r.body[:200]!r}")
        events += r.event_count
    await conn.close()
    return events


def profile_streaming(out: Path, deltas: int, seconds: float = 20.0) -> None:
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    up = procs.start_upstream()
    hcc = procs.start_hybridcc(up.port)
    try:
        asyncio.run(_stream_for(hcc.port, hcc.headers, deltas, 1.0))  # warm-up
        spy = subprocess.Popen([pyspy, "record", "-p", str(hcc.pid), "-r", "250", "--format", "raw", "-o", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        time.sleep(1.0)  # py-spy attaches
        cpu0 = psutil.Process(hcc.pid).cpu_times()
        events = asyncio.run(_stream_for(hcc.port, hcc.headers, deltas, seconds))
        cpu1 = psutil.Process(hcc.pid).cpu_times()
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=60)
        if not out.exists():
            raise SystemExit(f"py-spy wrote nothing: {err.decode(errors='replace')[-500:]}")
    finally:
        hcc.stop()
        up.stop()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    us = cpu / events * 1e6
    print(f"{events:,} events in {seconds:.0f} s; proxy CPU {cpu:.2f} s (user {cpu1.user - cpu0.user:.2f}, "
          f"system {cpu1.system - cpu0.system:.2f}); collapsed stacks in {out}\n")  # fmt: skip
    print(summarise(out.read_text(), us))
