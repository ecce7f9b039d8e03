"""`hybridcc run -p` with a local provider tells stderr that the model is still reading the prompt
(issue 17): the real `claude` against a fake llama.cpp that reports prompt progress and holds
its first token until the line has been seen."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from hybridcc.runner import print_session
from tests.conftest import write_config
from tests.e2e.conftest import KEY, releases_under_test, session_env
from tests.fakes.upstream import FakeUpstream, RecordedRequest, Reply, openai_chunk, openai_json, sse
from tests.helpers import IN_CI

LINE = "hybridcc: the local model is reading the prompt: 50% (500/1k tokens, "


def test_print_session_only_in_print_mode() -> None:
    args, sid = print_session(["-p", "hi", "--output-format", "json"])
    assert sid and args[:2] == ["--session-id", sid] and args[2:] == ["-p", "hi", "--output-format", "json"]
    assert print_session(["hi"]) == (["hi"], None)  # the TUI: its status line shows progress, no stderr
    assert print_session(["--", "-p"]) == (["--", "-p"], None)
    assert print_session(["-p", "x", "--session-id", "abc"]) == (["-p", "x", "--session-id", "abc"], "abc")
    for resume in (["--resume", "abc"], ["-c"], ["--resume=abc"]):
        assert print_session(["-p", "x", *resume])[1] is None  # the resumed session's id is claude's


def _claude() -> str:
    found = [r.path for r in releases_under_test() if r.path]
    if not found:
        msg = "the real `claude` CLI is required (bash .ci/run installs it; or set HYBRIDCC_TEST_CLAUDE)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return found[-1]


def test_run_print_mode_shows_prefill_progress(isolated_env: Path, tmp_path: Path) -> None:
    claude = _claude()
    seen_line = threading.Event()
    streamed: list[dict[str, Any]] = []

    def handler(req: RecordedRequest) -> Reply:
        body = req.json() or {}
        if not body.get("stream"):
            return openai_json("ok")
        streamed.append(body)

        def chunks() -> Any:
            yield sse(openai_chunk({"role": "assistant", "content": None},
                                   prompt_progress={"total": 1000, "cache": 0, "processed": 0, "time_ms": 0}))  # fmt: skip
            yield sse(openai_chunk({"role": "assistant", "content": None},
                                   prompt_progress={"total": 1000, "cache": 0, "processed": 500, "time_ms": 900}))  # fmt: skip
            seen_line.wait(60)  # still "reading the prompt" until hybridcc said so on stderr
            for chunk in (openai_chunk({"content": "prefill-done"}), openai_chunk({}, "stop")):
                yield sse(chunk)
            yield sse("[DONE]")

        return Reply(headers={"content-type": "text/event-stream"}, chunks=chunks())

    with FakeUpstream(handler) as up:
        write_config(f'[proxy]\nport = 0\n[providers.loc]\napi = "openai"\nbase_url = "{up.url}/v1"\n'
                     'api_key_env = "FAKE_KEY"\nquirks = "llamacpp"\n'
                     '[profiles.loc]\nprovider = "loc"\nmodel = "m"\nsmall_model = "m"\n')  # fmt: skip
        env = session_env(claude, isolated_env)
        work = tmp_path / "work"
        work.mkdir()
        argv = [sys.executable, "-m", "hybridcc", "run", "-P", "loc", "--no-preflight", "--claude-path", claude,
                "--", "-p", "say hi", "--tools", ""]  # fmt: skip
        proc = subprocess.Popen(argv, env=env, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        err_lines: list[str] = []

        def read_err() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                err_lines.append(line)
                if line.startswith(LINE):
                    seen_line.set()

        reader = threading.Thread(target=read_err, daemon=True)
        reader.start()
        try:
            assert proc.stdout is not None
            out = proc.stdout.read()
            code = proc.wait(timeout=120)
        finally:
            seen_line.set()
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(Exception):
                subprocess.run([sys.executable, "-m", "hybridcc", "proxy", "stop"], env=env, capture_output=True,
                               timeout=60, check=False)  # fmt: skip
        reader.join(10)
    err = "".join(err_lines)
    assert code == 0, err
    assert "prefill-done" in out
    assert LINE in err, err
    assert err.count("reading the prompt") <= 2  # at most one line per ~10 s, and the answer came at once
    assert streamed and all(b.get("return_progress") is True for b in streamed)
    assert KEY not in err
