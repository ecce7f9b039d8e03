"""`hybridcc run`: argument passthrough, env, --settings merging, discovery, child handling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hybridcc.claude import find_claude
from hybridcc.errors import MissingToolError
from hybridcc.run_args import split_args
from hybridcc.runner import exit_code_of, merge_settings, settings_conflicts
from tests.conftest import CliResult, write_config
from tests.helpers import wait_for

Cli = Callable[..., CliResult]
STANDIN = Path(__file__).resolve().parent / "fakes" / "standin_claude.py"


def standin(tmp_path: Path, name: str = "claude") -> Path:
    exe = tmp_path / "standin-bin" / name
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" "$@"\n')
    exe.chmod(0o755)
    return exe


# -- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "ours", "theirs"),
    [
        (["--provider", "ollama", "-p", "hello"], {"provider": "ollama"}, ["-p", "hello"]),
        (
            ["-p", "-starts with dash", "--output-format", "stream-json"],
            {},
            ["-p", "-starts with dash", "--output-format", "stream-json"],
        ),
        (
            ["--provider=x", "--resume", "abc", "--fork-session"],
            {"provider": "x"},
            ["--resume", "abc", "--fork-session"],
        ),
        (
            ["--model", "m1", "--", "--model", "m2", "--provider", "p", "--"],
            {"model": "m1"},
            ["--model", "m2", "--provider", "p", "--"],
        ),
        (["héllo wörld ✓", "--dangerously-skip-permissions"], {}, ["héllo wörld ✓", "--dangerously-skip-permissions"]),
        (
            ["--dry-run", "--small-model", "s", "--claude-path", "/x/claude", "--proxy", "--force"],
            {"dry_run": True, "small_model": "s", "claude_path": "/x/claude", "force_proxy": True, "force_model": True},
            [],
        ),
        (["--", "-h"], {"help": False}, ["-h"]),
    ],
)
def test_split_args(argv: list[str], ours: dict[str, Any], theirs: list[str]) -> None:
    opts = split_args(argv)
    assert opts.claude_args == theirs
    for key, value in ours.items():
        assert getattr(opts, key) == value


def test_split_args_missing_value() -> None:
    from hybridcc.errors import HybridccError

    with pytest.raises(HybridccError, match="--provider needs a value"):
        split_args(["--provider"])


def test_user_settings_merged_and_ours_win(tmp_path: Path) -> None:
    env = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:1/p/x", "CLAUDE_CODE_USE_BEDROCK": None}
    settings, rest = merge_settings(["-p", "hi"], env)
    assert settings == {"env": {"ANTHROPIC_BASE_URL": "http://127.0.0.1:1/p/x"}} and rest == ["-p", "hi"]
    user = {"model": "x", "env": {"FOO": "1", "ANTHROPIC_BASE_URL": "https://elsewhere"}}
    settings, rest = merge_settings(["--settings", json.dumps(user), "-p", "hi"], env)
    assert settings["model"] == "x"
    assert settings["env"] == {"FOO": "1", "ANTHROPIC_BASE_URL": "http://127.0.0.1:1/p/x"}
    assert "--settings" not in rest  # one settings source: ours, with the user's merged in
    f = tmp_path / "s.json"
    f.write_text(json.dumps({"permissions": {"allow": ["Bash"]}}))
    settings, _ = merge_settings([f"--settings={f}"], env)
    assert settings["permissions"] == {"allow": ["Bash"]} and "ANTHROPIC_BASE_URL" in settings["env"]


def test_settings_conflicts(isolated_env: Path, tmp_path: Path) -> None:
    (isolated_env / ".claude").mkdir()
    (isolated_env / ".claude" / "settings.json").write_text(
        json.dumps({"env": {"ANTHROPIC_BASE_URL": "http://other:3456", "FOO": "x"}})
    )
    project = tmp_path / "proj"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "settings.local.json").write_text(json.dumps({"env": {"CLAUDE_CODE_USE_VERTEX": "1"}}))
    found = settings_conflicts({"ANTHROPIC_BASE_URL": "http://127.0.0.1:1/p/x"}, project)
    assert any("settings.json: env.ANTHROPIC_BASE_URL" in f for f in found)
    assert any("settings.local.json: env.CLAUDE_CODE_USE_VERTEX" in f for f in found)
    assert not any("FOO" in f for f in found)


def test_exit_code_of() -> None:
    assert exit_code_of(0) == 0 and exit_code_of(3) == 3 and exit_code_of(-signal.SIGKILL) == 137


# -- finding claude ------------------------------------------------------------------------------


def test_discovery_order(tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = standin(tmp_path / "a")
    env_one = standin(tmp_path / "b")
    cfg_one = standin(tmp_path / "c")
    on_path = standin(tmp_path / "d")
    local = isolated_env / ".claude" / "local" / "claude"
    local.parent.mkdir(parents=True)
    local.write_text("#!/bin/sh\n")
    local.chmod(0o755)
    monkeypatch.setenv("PATH", str(on_path.parent))
    monkeypatch.setenv("HYBRIDCC_CLAUDE", str(env_one))
    assert find_claude(str(explicit), str(cfg_one)).path == explicit
    assert find_claude(None, str(cfg_one)).source == "HYBRIDCC_CLAUDE"
    monkeypatch.delenv("HYBRIDCC_CLAUDE")
    assert find_claude(None, str(cfg_one)).path == cfg_one
    assert find_claude(None, None).path == on_path
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_claude(None, None).path == local
    local.unlink()
    sdk = tmp_path / "site" / "claude_agent_sdk"
    (sdk / "_bundled").mkdir(parents=True)
    (sdk / "__init__.py").write_text("")
    bundled = sdk / "_bundled" / "claude"
    bundled.write_text("#!/bin/sh\n")
    bundled.chmod(0o755)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    # The real SDK may already be imported in this worker (tests/sdk): find the stand-in instead.
    for name in [m for m in sys.modules if m == "claude_agent_sdk" or m.startswith("claude_agent_sdk.")]:
        monkeypatch.delitem(sys.modules, name)
    assert find_claude(None, None).path == bundled
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "site" not in p or "packages" in p])
    monkeypatch.setitem(sys.modules, "claude_agent_sdk", None)  # the real SDK is installed in dev: hide it
    with pytest.raises(MissingToolError, match="not installed") as info:
        find_claude(None, None)
    assert "npm install -g @anthropic-ai/claude-code" in (info.value.hint or "")
    with pytest.raises(MissingToolError, match="not found at /nope"):
        find_claude("/nope/claude", None)


# -- through the CLI, with a stand-in claude -----------------------------------------------------


def _cfg(extra: str = "") -> None:
    write_config(f'[proxy]\nport = 0\n[providers.up]\napi = "openai"\nbase_url = "http://127.0.0.1:9/v1"\napi_key_env = "UP_KEY"\n'
                 f'[profiles.up]\nprovider = "up"\nmodel = "up-main"\nsmall_model = "up-small"\n{extra}')  # fmt: skip


def _run(
    hybridcc_exe: list[str], args: list[str], tmp_path: Path, mode: str = "exit:0", **kw: Any
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path / "standin.json"
    env = {**os.environ, "STANDIN_OUT": str(out), "STANDIN_MODE": mode, **kw.pop("env", {})}
    # --no-preflight: the provider here is a dead port; the pre-flight has its own tests
    done = subprocess.run([*hybridcc_exe, "run", "--no-preflight", "--claude-path", str(standin(tmp_path)), *args], env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, **kw)  # fmt: skip
    data = json.loads(out.read_text()) if out.exists() else {}
    return done, data


def test_run_passes_args_env_and_settings(hybridcc_exe: list[str], tmp_path: Path, isolated_env: Path) -> None:
    _cfg()
    (isolated_env / ".claude").mkdir()
    (isolated_env / ".claude" / "settings.json").write_text(
        json.dumps({"env": {"ANTHROPIC_BASE_URL": "http://127.0.0.1:3456"}})
    )
    args = ["--provider", "up", "-p", "-weird prompt ✓", "--output-format", "stream-json", "--", "--model", "x"]
    done, seen = _run(hybridcc_exe, args, tmp_path, env={"UP_KEY": "sk-up-secret-1", "CLAUDE_CODE_USE_BEDROCK": "1"})
    assert done.returncode == 0, done.stderr
    assert "overridden for this session" in done.stderr and "settings.json: env.ANTHROPIC_BASE_URL" in done.stderr
    assert seen["argv"][0] == "--settings" and not seen["argv"][1].startswith("{")  # a 0600 file, not argv
    # a local provider in -p mode: hybridcc names the session so it can show the prefill progress
    assert seen["argv"][2] == "--session-id"
    assert seen["argv"][4:] == ["-p", "-weird prompt ✓", "--output-format", "stream-json", "--model", "x"]
    env = seen["env"]
    settings = seen["settings"]["env"]
    assert env["ANTHROPIC_BASE_URL"].endswith("/p/up") and env["ANTHROPIC_BASE_URL"] == settings["ANTHROPIC_BASE_URL"]
    assert env["ANTHROPIC_API_KEY"] == "" and env["ANTHROPIC_AUTH_TOKEN"].startswith("hcc-")
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "up-small" and env["CLAUDE_CODE_SUBAGENT_MODEL"] == "up-main"
    assert "CLAUDE_CODE_USE_BEDROCK" not in env
    assert "sk-up-secret-1" not in json.dumps(seen["argv"]) + env.get("ANTHROPIC_AUTH_TOKEN", "")
    assert seen["stdin_isatty"] is False
    # the env is exactly `hybridcc env`'s (one code path)
    printed = json.loads(subprocess.run([*hybridcc_exe, "env", "--provider", "up", "-f", "json", "--no-start", "--port", "1"], capture_output=True, text=True,
                                        env={**os.environ, "UP_KEY": "k"}).stdout)  # fmt: skip
    for key, value in printed.items():
        if key != "ANTHROPIC_BASE_URL":
            assert env.get(key) == value if value is not None else key not in env, key


def test_run_exit_code_and_services_released(hybridcc_exe: list[str], tmp_path: Path) -> None:
    _cfg()
    done, _ = _run(hybridcc_exe, ["--provider", "up"], tmp_path, mode="exit:3", env={"UP_KEY": "k"})
    assert done.returncode == 3
    from hybridcc.services.state import read_state

    assert read_state("proxy") is None  # started for the session, stopped after it
    done, _ = _run(
        hybridcc_exe, ["--provider", "up"], tmp_path, mode=f"kill:{int(signal.SIGKILL)}", env={"UP_KEY": "k"}
    )
    assert done.returncode == 128 + signal.SIGKILL


def test_run_fails_fast(hybridcc_exe: list[str], tmp_path: Path) -> None:
    _cfg()
    done, seen = _run(hybridcc_exe, ["--provider", "up"], tmp_path)
    assert done.returncode == 5 and "UP_KEY" in done.stderr and seen == {}
    done = subprocess.run([*hybridcc_exe, "run", "--provider", "up", "--claude-path", "/nope/claude"], capture_output=True, text=True,
                          env={**os.environ, "UP_KEY": "k"})  # fmt: skip
    assert done.returncode == 2 and "/nope/claude: does not exist" in done.stderr  # a bad flag value: usage
    done = subprocess.run([*hybridcc_exe, "run", "--provider", "ghost"], capture_output=True, text=True)
    assert done.returncode == 4


def test_dry_run(hybridcc_exe: list[str], tmp_path: Path) -> None:
    _cfg()
    done, seen = _run(
        hybridcc_exe, ["--provider", "up", "--dry-run", "-p", "x"], tmp_path, env={"UP_KEY": "sk-up-topsecret"}
    )
    assert done.returncode == 0 and seen == {}  # nothing ran
    assert "profile   up" in done.stdout and "proxy: would start" in done.stdout
    assert "ANTHROPIC_AUTH_TOKEN=hcc-" in done.stdout and "…" in done.stdout
    token = (Path(os.environ["HYBRIDCC_HOME"]) / "state" / "proxy.token").read_text().strip()
    assert token not in done.stdout and "sk-up-topsecret" not in done.stdout


def test_anthropic_without_key_runs_claude_untouched(hybridcc_exe: list[str], tmp_path: Path) -> None:
    done, seen = _run(
        hybridcc_exe,
        ["--provider", "anthropic", "-p", "hi"],
        tmp_path,
        env={"ANTHROPIC_BASE_URL": "https://mine.example"},
    )
    assert done.returncode == 0
    assert seen["argv"] == ["-p", "hi"] and seen["env"]["ANTHROPIC_BASE_URL"] == "https://mine.example"
    assert "own login" in done.stderr


def test_signals_forwarded_and_sigint_ignored(hybridcc_exe: list[str], tmp_path: Path) -> None:
    _cfg()
    out = tmp_path / "standin.json"
    env = {**os.environ, "STANDIN_OUT": str(out), "STANDIN_MODE": "trap", "UP_KEY": "k"}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        for p in tmp_path.glob("standin.json*"):
            p.unlink()
        proc = subprocess.Popen([*hybridcc_exe, "run", "--no-preflight", "--provider", "up", "--claude-path", str(standin(tmp_path))], env=env,
                                stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
        wait_for(Path(f"{out}.ready").exists, timeout=30, what="the stand-in claude to be ready")
        os.kill(proc.pid, signal.SIGINT)  # hybridcc ignores it while claude runs
        time.sleep(0.3)
        assert proc.poll() is None
        os.kill(proc.pid, sig)
        proc.communicate(timeout=30)
        assert Path(f"{out}.sig").read_text() == str(int(sig))
        assert proc.returncode == 100 + sig


def test_ollama_profile_starts_and_releases_services(
    hybridcc_exe: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import free_port
    from tests.services.conftest import install_fake_ollama

    install_fake_ollama(tmp_path / "ollama-bin")
    port = free_port()
    write_config(
        f'[proxy]\nport = 0\n[ollama]\nhost = "127.0.0.1:{port}"\n[profiles.ollama]\nmodel = "qwen3-coder:30b"\n'
    )
    models = [{"name": "qwen3-coder:30b", "capabilities": ["completion", "tools"], "context_length": 262144},
              {"name": "gemma:2b", "capabilities": ["completion"]}]  # fmt: skip
    env = {"PATH": f"{tmp_path / 'ollama-bin'}:{os.environ['PATH']}", "FAKE_OLLAMA_MODELS": json.dumps(models)}
    done, _ = _run(hybridcc_exe, ["--provider", "ollama"], tmp_path, mode="request", env=env)
    assert done.returncode == 0, done.stderr
    assert "fake ollama reply" in done.stdout  # claude → proxy → Ollama's native /v1/messages
    from hybridcc.services.state import read_state

    assert read_state("proxy") is None and read_state("ollama") is None  # both were started for the session
    done, _ = _run(hybridcc_exe, ["--provider", "ollama", "--model", "gemma:2b"], tmp_path, env=env)
    assert done.returncode == 8 and "cannot call tools" in done.stderr and "qwen3-coder:30b" in done.stderr


def test_proxy_killed_mid_session_comes_back(hybridcc_exe: list[str], tmp_path: Path) -> None:
    """kill -9 of the proxy during `hybridcc run`: same port, same token, the client's retry succeeds."""
    from hybridcc.services.state import read_state
    from tests.fakes.upstream import FakeUpstream, openai_json

    with FakeUpstream(lambda r: openai_json("alive")) as up:
        write_config(
            f'[proxy]\nport = 0\n[providers.up]\napi = "openai"\nbase_url = "{up.url}/v1"\n[profiles.up]\nprovider = "up"\nmodel = "m"\n'
        )
        out = tmp_path / "standin.json"
        env = {**os.environ, "STANDIN_OUT": str(out), "STANDIN_MODE": "twice"}
        proc = subprocess.Popen([*hybridcc_exe, "run", "--no-preflight", "--provider", "up", "--claude-path", str(standin(tmp_path))], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        wait_for(Path(f"{out}.first").exists, timeout=30, what="the stand-in claude's first request")
        before = read_state("proxy")
        assert before is not None
        os.kill(before.pid, signal.SIGKILL)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5:
            now = read_state("proxy")
            if now is not None and now.pid != before.pid:
                break
            time.sleep(0.05)
        recovered_in = time.monotonic() - t0
        Path(f"{out}.go").write_text("1")
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert recovered_in < 2.5, recovered_in
    assert now is not None and now.port == before.port
    assert stdout.count("alive") == 2  # the request after the crash went through, with the same token
    assert "restarted it on port" in stderr
    assert read_state("proxy") is None
