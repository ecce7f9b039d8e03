"""`hybridcc statusline`: a real status-line JSON in, one line out, fast on a big ledger."""

from __future__ import annotations

import io
import json
import os
import shlex
import sqlite3
import statistics
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from hybridcc.config.load import load_config
from hybridcc.usage import ledger
from hybridcc.usage.ledger import COLUMNS, LedgerWriter
from hybridcc.usage.statusline import main, settings_entry
from tests.usage.conftest import record

# The shape Claude Code 2.1.x sends (shared/GATEWAY.md, "Status line").
SAMPLE = {
    "session_id": "sess-42",
    "transcript_path": "/tmp/x.jsonl",
    "model": {"id": "qwen3-coder:30b", "display_name": "qwen3-coder:30b"},
    "version": "2.1.332",
    "cost": {"total_cost_usd": 0.054, "total_duration_ms": 1000, "total_api_duration_ms": 800},
    "context_window": {
        "total_input_tokens": 30_000,
        "total_output_tokens": 2000,
        "context_window_size": 200_000,
        "used_percentage": 9,
        "current_usage": {"input_tokens": 1000, "output_tokens": 200, "cache_read_input_tokens": 15_000,
                          "cache_creation_input_tokens": 375},
    },
    "exceeds_200k_tokens": False,
}  # fmt: skip
ENV = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:8787/p/deepseek", "CLAUDE_CODE_MAX_CONTEXT_TOKENS": "65536"}


def run_line(data: object, env: dict[str, str]) -> str:
    out = io.StringIO()
    assert main(io.StringIO(json.dumps(data)), out, env, argv=[]) == 0
    return out.getvalue()


def test_statusline_shows_session_cost_savings_and_real_context() -> None:
    writer = LedgerWriter.open_default(load_config())
    assert writer is not None
    writer.submit(record(session_id="sess-42", request_id="a"))
    writer.submit(record(session_id="sess-42", request_id="b", model_used="deepseek-chat", agent_id="sub"))
    writer.submit(record(session_id="other", request_id="c"))
    writer.close()
    line = run_line(SAMPLE, ENV)
    cost = 2 * (100_000 * 0.28 + 20_000 * 0.42) / 1e6  # $0.0728 on DeepSeek vs $1.20 on Sonnet 4.6
    assert line == f"deepseek · deepseek/deepseek-chat · ${cost:.2f} saved $1.13 (94%) · ctx 25% of 65.5k\n"


def test_statusline_without_ledger_or_env() -> None:
    assert run_line(SAMPLE, {}) == "hybridcc · qwen3-coder:30b · $0.00 · ctx 8% of 200k\n"
    assert run_line({}, {}) == "hybridcc · $0.00\n"
    out = io.StringIO()
    assert main(io.StringIO("not json"), out, {}, argv=[]) == 0
    assert out.getvalue() == "hybridcc · $0.00\n"


def test_statusline_unknown_price_is_not_zero() -> None:
    writer = LedgerWriter.open_default(load_config())
    assert writer is not None
    writer.submit(record(session_id="sess-42", model_used="mystery"))
    writer.close()
    assert "cost unknown" in run_line(SAMPLE, ENV)


def test_settings_entry_runs_the_lean_script(db_path: Path) -> None:
    entry = settings_entry(python="/opt/py env/bin/python")
    argv = shlex.split(entry["command"])
    assert argv[:3] == ["/opt/py env/bin/python", "-I", "-S"]
    assert argv[3].endswith("hybridcc/usage/statusline.py") and argv[4:] == ["--db", str(db_path)]
    assert entry["type"] == "command" and entry["padding"] == 0


def test_statusline_cli_command(hybridcc_exe: list[str]) -> None:
    proc = subprocess.run([*hybridcc_exe, "statusline"], input=json.dumps(SAMPLE), capture_output=True, text=True,
                          env={**os.environ, **ENV}, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "deepseek · qwen3-coder:30b · $0.00 · ctx 25% of 65.5k\n"


def _big_ledger(path: Path, n: int) -> None:
    conn = ledger.connect(path)
    now = time.time()
    base = record()
    rows = []
    for i in range(n):
        r = dict(base, request_id=f"r{i}", session_id=f"s{i % 500}", ts=now - i)
        rows.append(ledger.to_row(r, 0.01, 0.1, "claude-sonnet-4-6", "test"))
    sql = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
    with conn:
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
    conn.close()


def test_statusline_is_fast_on_a_100k_row_ledger(db_path: Path) -> None:
    """End to end as Claude Code runs it: a new Python process reading stdin. Budget: 50 ms (issue 14)."""
    _big_ledger(db_path, 100_000)
    data = json.dumps(dict(SAMPLE, session_id="s7"))
    env = {**os.environ, **ENV}
    cmd = shlex.split(settings_entry(python=sys.executable)["command"])
    timings = []
    for _ in range(7):
        start = time.perf_counter()
        proc = subprocess.run(cmd, input=data, capture_output=True, text=True, env=env, check=False)
        timings.append(time.perf_counter() - start)
        assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("deepseek · deepseek/deepseek-chat · $2.00 saved $18.00 (90%)")
    median = statistics.median(timings)
    print(f"statusline on 100k rows: median {median * 1000:.1f} ms, best {min(timings) * 1000:.1f} ms")
    # The 50 ms budget is checked on a quiet machine by the benchmark; a shared CI box gets slack.
    assert min(timings) < 0.25
    with closing(sqlite3.connect(db_path)) as conn:
        plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN SELECT * FROM requests WHERE session_id = 's7'"))
    assert "requests_session" in plan


def test_user_statusline_is_detected(tmp_path: Path, isolated_env: Path) -> None:
    from hybridcc.usage.statusline import user_statusline

    project = tmp_path / "proj"
    (project / ".claude").mkdir(parents=True)
    assert user_statusline(project) is None
    (project / ".claude" / "settings.json").write_text('{"statusLine": {"type": "command", "command": "x"}}')
    assert user_statusline(project) == project / ".claude" / "settings.json"
    user = isolated_env / ".claude" / "settings.json"
    user.parent.mkdir()
    user.write_text("{not json")  # a broken file is not a status line
    assert user_statusline(project) == project / ".claude" / "settings.json"
