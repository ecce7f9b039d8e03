"""`hybridcc usage`, `usage session`, `usage prune`, `cost` and `prices update`: output and --json schemas."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hybridcc.config.load import load_config
from hybridcc.usage.ledger import LedgerWriter
from tests.usage.conftest import DESIGN_PRICES, record, write_config

TOTAL_KEYS = {
    "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "cost_usd", "unpriced_requests", "baseline_usd", "savings_usd", "savings_pct",
}  # fmt: skip


def fill(*records: dict[str, Any]) -> None:
    writer = LedgerWriter.open_default(load_config())
    assert writer is not None
    for r in records:
        writer.submit(r)
    writer.close()
    assert writer.written == len(records)


@pytest.fixture
def ledger_rows() -> None:
    now = time.time()
    fill(
        record(request_id="a", ts=now - 3 * 86400, session_id="s-old"),
        record(request_id="b", ts=now - 60, session_id="s-new"),
        record(request_id="c", ts=now - 50, session_id="s-new", agent_id="ag-1", parent_agent_id="root",
               input_tokens=1000, output_tokens=100),
        record(request_id="d", ts=now - 40, session_id="s-new", provider="ollama", profile="ollama",
               model_used="qwen3-coder:30b", model_requested="qwen3-coder:30b"),
        record(request_id="e", ts=now - 30, session_id="s-new", model_used="mystery-model", status=502, error="bad gateway"),
    )  # fmt: skip


def test_usage_json_schema_and_totals(cli, ledger_rows: None) -> None:  # type: ignore[no-untyped-def]
    res = cli("usage", "--by", "provider", "--json")
    data = json.loads(res.out)
    assert data["schema"] == "hybridcc.usage/1" and data["by"] == "provider" and data["since"] is None
    assert set(data["total"]) == TOTAL_KEYS
    by = {r["key"]: r for r in data["rows"]}
    assert set(by) == {"deepseek", "ollama"}
    assert set(by["deepseek"]) == TOTAL_KEYS | {"key"}
    t = data["total"]
    assert (t["requests"], t["errors"], t["unpriced_requests"]) == (5, 1, 1)
    # Priced: 2 × (100k/20k on DeepSeek) + the 1k/100 subagent call + Ollama at $0.
    ds = (100_000 * 0.28 + 20_000 * 0.42) / 1e6
    assert t["cost_usd"] == pytest.approx(2 * ds + (1000 * 0.28 + 100 * 0.42) / 1e6, abs=1e-6)
    assert by["ollama"]["cost_usd"] == 0 and by["ollama"]["savings_pct"] == 100
    assert t["savings_usd"] == pytest.approx(t["baseline_usd"] - 0.60 - t["cost_usd"], abs=1e-6)  # mystery: no saving


def test_usage_since_and_by_session(cli, ledger_rows: None) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(cli("usage", "--since", "1d", "--by", "session", "--json").out)
    assert [r["key"] for r in data["rows"]] == ["s-new"]
    assert data["total"]["requests"] == 4
    day = datetime.now().date().isoformat()
    data = json.loads(cli("usage", "--since", day, "--json").out)
    assert [r["key"] for r in data["rows"]] == [day]


def test_usage_text_table_and_chart(cli, ledger_rows: None) -> None:  # type: ignore[no-untyped-def]
    res = cli("usage", "--by", "model", "--chart")
    lines = res.out.splitlines()
    assert lines[0] == "Usage by model"
    assert lines[1].split() == [
        "model",
        "requests",
        "errors",
        "input",
        "output",
        "cache",
        "rd",
        "cache",
        "wr",
        "cost",
        "baseline",
        "saved",
    ]
    assert any(line.startswith("deepseek/mystery-model") and "unknown" in line for line in lines)
    total = next(line for line in lines if line.startswith("total"))
    assert "+1?" in total
    assert "1 request(s) have no known price" in res.out
    assert "Cost per day by provider" in res.out and "█ deepseek" in res.out


def test_usage_with_no_ledger(cli) -> None:  # type: ignore[no-untyped-def]
    res = cli("usage", "--json")
    assert json.loads(res.out)["total"]["requests"] == 0
    res = cli("usage")
    assert "No requests recorded yet" in res.err


def test_usage_bad_options_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    cli("usage", "--by", "colour", code=2)
    cli("usage", "--since", "last tuesday", code=2)
    cli("cost", "--input", "lots", code=2)


def test_usage_session_default_latest(cli, ledger_rows: None) -> None:  # type: ignore[no-untyped-def]
    res = cli("usage", "session", "--json")
    data = json.loads(res.out)
    assert data["session_id"] == "s-new"
    assert data["total"]["requests"] == 4
    kinds = {(a["kind"], a["agent_id"]): a["requests"] for a in data["agents"]}
    assert kinds == {("main", None): 3, ("subagent", "ag-1"): 1}
    assert {(m["provider"], m["model"]) for m in data["models"]} == {
        ("deepseek", "deepseek-chat"), ("ollama", "qwen3-coder:30b"), ("deepseek", "mystery-model"),
    }  # fmt: skip
    text = cli("usage", "session", "s-old")
    assert text.out.startswith("Session s-old (deepseek)")
    missing = cli("usage", "session", "nope", code=4)
    assert "hybridcc usage --by session" in missing.err


def test_usage_prune(cli, ledger_rows: None, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = cli("usage", "prune", "--older-than", "2")
    assert "removed 1 row(s) older than 2 days" in res.err
    with closing(sqlite3.connect(db_path)) as conn:
        assert conn.execute("SELECT count(*) FROM requests").fetchone()[0] == 4
    assert "removed 0" in cli("usage", "prune").err  # default: 180 days


def test_cost_reproduces_the_design_table(cli) -> None:  # type: ignore[no-untyped-def]
    write_config(DESIGN_PRICES)
    res = cli("cost", "--input", "100k", "--output", "20k")
    lines = {line.split()[1]: line.split()[2:] for line in res.out.splitlines()[2:]}
    assert lines["anthropic/claude-sonnet-4-5"] == ["$0.60", "baseline"]
    assert lines["anthropic/claude-opus-4-1"] == ["$3.00"]
    assert lines["gemini/gemini-2.5-pro"] == ["$0.225", "62%"]
    assert lines["deepseek/deepseek-chat"] == ["$0.049", "92%"]
    assert lines["openrouter/meta-llama/llama-3.3-70b-instruct"] == ["$0.043", "93%"]
    assert lines["ollama/qwen3-coder:30b"][:2] == ["$0.00", "100%"]


def test_cost_json_schema(cli) -> None:  # type: ignore[no-untyped-def]
    write_config(DESIGN_PRICES + '\n[profiles.mystery]\nprovider = "openai"\nmodel = "gpt-99"\n')
    data = json.loads(cli("cost", "--input", "1.5M", "--output", "0", "--cache-read", "10k", "--json").out)
    assert data["schema"] == "hybridcc.cost/1"
    assert data["scenario"] == {"input_tokens": 1_500_000, "output_tokens": 0, "cache_read_tokens": 10_000}
    assert [b["model"] for b in data["baselines"]] == ["claude-sonnet-4-5", "claude-opus-4-1"]
    by = {p["profile"]: p for p in data["profiles"]}
    assert set(by["llama"]) == {"profile", "provider", "model", "cost_usd", "savings_pct", "local", "price_source"}
    assert by["mystery"]["cost_usd"] is None and by["mystery"]["savings_pct"] is None
    assert by["ollama"]["local"] is True
    text = cli("cost").out
    assert "gpt-99" in text and "unknown" in text and "no price: add [prices] in config" in text


class _Source(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def price_server() -> Iterator[tuple[str, type[_Source]]]:
    handler = type("Handler", (_Source,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/models", handler
    server.shutdown()
    server.server_close()
    thread.join()


def test_prices_update_from_an_openrouter_shaped_list(cli, price_server) -> None:  # type: ignore[no-untyped-def]
    url, handler = price_server
    handler.body = json.dumps(
        {
            "data": [
                {"id": "qwen/qwen3-coder", "pricing": {"prompt": "0.00000022", "completion": "0.00000095",
                                                       "input_cache_read": "0.00000002"}},
                {"id": "new/model", "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
                {"id": "openrouter/auto", "pricing": {"prompt": "-1", "completion": "-1"}},
                {"id": "broken"},
            ]
        }
    ).encode()  # fmt: skip
    res = cli("prices", "update", "--url", url)
    assert "2 prices from" in res.err
    from hybridcc.usage.prices import Pricer, load_catalog

    catalog = load_catalog()
    assert "+openrouter." in catalog.version
    entry = catalog.models["openrouter/qwen/qwen3-coder"]
    assert (entry["input"], entry["output"], entry["cache_read"]) == (0.22, 0.95, 0.02)
    assert entry["source"] == url
    assert "openrouter/openrouter/auto" not in catalog.models
    assert "anthropic/claude-sonnet-4-6" in catalog.models  # the shipped entries stay
    price = Pricer(load_config(), catalog).price("openrouter", "new/model")
    assert price is not None and price.fee_pct == 5.5
    # A source with nothing usable leaves the refreshed catalog as it was.
    handler.body = b'{"data": []}'
    res = cli("prices", "update", "--url", url, code=1)
    assert "listed no model" in res.err
    assert load_catalog().models["openrouter/new/model"]["input"] == 1.0


def test_prices_update_offline_keeps_the_catalog(cli) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import free_port

    res = cli("prices", "update", "--url", f"http://127.0.0.1:{free_port()}/models", "--timeout", "2", code=1)
    assert "cannot reach the price source" in res.err and "the current catalog stays in use" in res.err


def test_concurrent_usage_reads_while_the_writer_writes(cli, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    writer = LedgerWriter.open_default(load_config())
    assert writer is not None
    stop = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set():
            writer.submit(record(request_id=f"w{i}"))
            i += 1
            if i % 10 == 0:
                time.sleep(0.002)  # a busy proxy: a few thousand requests a second at most

    thread = threading.Thread(target=produce)
    thread.start()
    try:
        seen: list[int] = []
        deadline = time.monotonic() + 30
        # Read while rows keep landing, until several batches have been seen.
        while len(seen) < 20 or seen[-1] < 1000:
            assert time.monotonic() < deadline, f"the ledger did not grow while read: {seen[-5:]}"
            res = cli("usage", "--json")
            seen.append(json.loads(res.out)["total"]["requests"])
    finally:
        stop.set()
        thread.join()
        writer.close()
    assert seen == sorted(seen) and seen[-1] > 0
    assert writer.dropped == 0, "readers must never make the writer drop rows (WAL: readers do not block it)"
