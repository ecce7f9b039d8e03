"""What routing costs per request: ``python -m bench.routing_bench`` (run by hand; prints a table).

Scenario rules + the fallback chain on a long Claude Code session's body (20 tools, 200 turns,
a 10k-character system prompt), with and without a rule that needs the token estimate. Goal
(issue 16): well under a millisecond, so rules never show in time-to-first-byte.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

CONFIG = """
[providers.up]
api = "openai"
base_url = "http://127.0.0.1:9/v1"
[profiles.main]
provider = "up"
model = "big"
small_model = "small"
[[profiles.main.routes]]
when = "custom"
match = {{ {match} }}
use = "up/other"
[[profiles.main.routes]]
when = "background"
use = "up/small"
"""


def body() -> dict[str, Any]:
    tools = [{"name": f"Tool{i}", "description": "d" * 800, "input_schema": {"type": "object"}} for i in range(20)]
    turns = [
        {"role": ("user", "assistant")[i % 2], "content": [{"type": "text", "text": "z" * 600}]} for i in range(200)
    ]
    return {"model": "big", "tools": tools, "messages": turns, "system": [{"type": "text", "text": "s" * 10_000}]}


def measure(match: str) -> float:
    """Median of 5 medians of 200 runs, in milliseconds."""
    from hybridcc.config import load_config
    from hybridcc.proxy.routing import chain
    from hybridcc.proxy.rules import first_match

    Path(os.environ["HYBRIDCC_CONFIG"]).write_text(CONFIG.format(match=match), encoding="utf-8")
    config = load_config()
    profile, request = config.profiles["main"], body()
    headers = {"x-claude-code-session-id": "s", "user-agent": "claude-cli/2.1.332", "x-team": "web"}

    def once() -> float:
        start = time.perf_counter()
        got = first_match(profile, request, headers, config=config)
        chain(config, profile, "big", first=got[0].use if got else None)
        return time.perf_counter() - start

    return statistics.median(statistics.median(once() for _ in range(200)) for _ in range(5)) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="hcc-routing-bench-") as home:
        os.environ["HYBRIDCC_CONFIG"] = str(Path(home) / "config.toml")
        rows = [
            ("rules without a token condition", measure('tool = "Missing"')),
            ("a min_tokens rule (token estimate)", measure("min_tokens = 200000")),
        ]
    print(f"{'routing, per request':<40} {'median ms':>10}")
    for name, ms in rows:
        print(f"{name:<40} {ms:>10.3f}")


if __name__ == "__main__":
    main()
