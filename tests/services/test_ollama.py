"""Ollama supervision against the fake `ollama` executable, run as a real child process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from hybridcc.config import load_config
from hybridcc.errors import ModelError, ServiceError
from hybridcc.services import ollama as svc
from tests.conftest import CliResult, write_config
from tests.helpers import wait_for

Cli = Callable[..., CliResult]
TOOLS = {"name": "qwen3-coder:30b", "capabilities": ["completion", "tools"], "context_length": 262144}
NO_TOOLS = {"name": "gemma:2b", "capabilities": ["completion"], "context_length": 8192}


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_start_managed_with_settings_then_stop(cli: Cli, fake_ollama: Callable[..., str]) -> None:
    url = fake_ollama(models=[TOOLS], FAKE_OLLAMA_START_DELAY="0.8")
    r = cli("ollama", "start")
    assert "ollama started" in r.err and "0.14.2" in r.err
    env = httpx.get(url + "/fake/env").json()
    assert env["OLLAMA_CONTEXT_LENGTH"] == "65536" and env["OLLAMA_HOST"] == url.split("//")[1]
    assert env["OLLAMA_KEEP_ALIVE"] == "5m" and env["OLLAMA_NUM_PARALLEL"] == "1"
    data = json.loads(cli("ollama", "status", "--json").out)
    assert data["status"] == "running" and data["managed"] is True and data["native_messages"] is True
    assert data["context_length"] == 65536 and data["models"] == ["qwen3-coder:30b"]
    assert "already running" in cli("ollama", "start").err
    r = cli("ollama", "stop")
    assert "stopped" in r.err
    assert svc.server_version(url) is None
    cli("ollama", "status", code=1)


def test_user_started_server_is_detected_never_stopped(
    cli: Cli, fake_ollama: Callable[..., str], tmp_path: Path
) -> None:
    url = fake_ollama(models=[TOOLS])
    env = {**os.environ, "OLLAMA_HOST": url.split("//")[1]}
    own = subprocess.Popen([str(tmp_path / "bin" / "ollama"), "serve"], env=env, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: svc.server_version(url) is not None, what="the user's own ollama to answer")
        r = cli("ollama", "start")
        assert "not started by hybridcc" in r.err
        assert "OLLAMA_CONTEXT_LENGTH=65536 ollama serve" in r.err  # warned about the unknown context
        assert "OLLAMA_CONTEXT_LENGTH" not in cli("ollama", "start").err  # once
        assert "left alone" in cli("ollama", "stop").err
        assert own.poll() is None and svc.server_version(url) is not None
        assert json.loads(cli("ollama", "status", "--json").out)["managed"] is False
    finally:
        own.terminate()
        own.wait(timeout=10)


def test_old_version_is_translated_mode(cli: Cli, fake_ollama: Callable[..., str]) -> None:
    fake_ollama(version="0.13.5")
    cli("ollama", "start")
    data = json.loads(cli("ollama", "status", "--json").out)
    assert data["version"] == "0.13.5" and data["native_messages"] is False
    cli("ollama", "stop")


def test_remote_host_never_started(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('[ollama]\nhost = "192.0.2.10:11434"\n')
    # No traffic may leave loopback: the probe is replaced, the decision is what is tested.
    monkeypatch.setattr(svc, "server_version", lambda url, timeout=1.0: None)
    with pytest.raises(ServiceError, match="remote host"):
        svc.start(load_config())


def test_missing_binary(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_config('[ollama]\nhost = "127.0.0.1:9"\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    r = cli("ollama", "start", code=7)
    assert "ollama is not installed" in r.err and "ollama.com" in r.err


def test_dead_server_reported_and_restarted(cli: Cli, fake_ollama: Callable[..., str]) -> None:
    fake_ollama()
    cli("ollama", "start")
    state = svc.status(load_config()).state
    assert state is not None
    os.kill(state.pid, signal.SIGKILL)
    wait_for(lambda: _gone(state.pid), what=f"the killed ollama (pid {state.pid}) to be gone")
    assert json.loads(cli("ollama", "status", "--json", code=1).out)["status"] == "stopped"
    assert "ollama started" in cli("ollama", "start").err
    cli("ollama", "stop")


def test_pull_with_progress_and_errors(cli: Cli, fake_ollama: Callable[..., str]) -> None:
    fake_ollama(
        catalog={
            "llama3.3": {"capabilities": ["completion", "tools"], "context_length": 131072},
            "broken": {"error": "disk full"},
        }
    )
    cli("ollama", "start")
    try:
        r = cli("ollama", "pull", "llama3.3")
        assert "llama3.3 is ready" in r.err
        models = json.loads(cli("ollama", "models", "--json").out)
        assert models == [{"name": "llama3.3", "tools": True, "context_length": 131072}]
        r = cli("ollama", "pull", "broken", code=8)
        assert "disk full" in r.err
        r = cli("ollama", "pull", "nope", code=8)
        assert "file does not exist" in r.err
    finally:
        cli("ollama", "stop")


def test_pull_progress_items(fake_ollama: Callable[..., str], cli: Cli) -> None:
    url = fake_ollama(catalog={"m": {"capabilities": ["tools"]}}, FAKE_OLLAMA_PULL_STEPS="4")
    cli("ollama", "start")
    try:
        items = list(svc.pull(url, "m"))
        done = [i.completed for i in items if i.completed]
        assert done == sorted(done) and done[-1] == items[1].total and items[-1].status == "success"
    finally:
        cli("ollama", "stop")


def test_pull_cancel_is_clean(
    hybridcc_exe: list[str], fake_ollama: Callable[..., str], cli: Cli, tmp_path: Path
) -> None:
    mark = tmp_path / "pulls"
    url = fake_ollama(
        catalog={"slow": {"capabilities": ["tools"]}},
        FAKE_OLLAMA_PULL_STEPS="50",
        FAKE_OLLAMA_PULL_DELAY="0.1",
        FAKE_OLLAMA_PULL_MARK=str(mark),
    )
    cli("ollama", "start")
    try:
        proc = subprocess.Popen([*hybridcc_exe, "ollama", "pull", "slow"], stderr=subprocess.PIPE, text=True)
        wait_for(mark.exists, timeout=30, what="the pull to be under way")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, err
        assert "cancelled" in err and "again to resume" in err and "Traceback" not in err
        assert "slow" not in svc.list_models(url)
    finally:
        cli("ollama", "stop")


def test_model_without_tools_refused_unless_forced(fake_ollama: Callable[..., str], cli: Cli) -> None:
    fake_ollama(models=[TOOLS, NO_TOOLS])
    cli("ollama", "start")
    try:
        config = load_config()
        with pytest.raises(ModelError) as info:
            svc.ensure_model(config, "gemma:2b")
        assert "cannot call tools" in info.value.message and "qwen3-coder:30b" in (info.value.hint or "")
        assert svc.ensure_model(config, "gemma:2b", force=True) is not None
        got: list[Any] = []
        assert svc.ensure_model(config, "qwen3-coder:30b", progress=got.append) is not None and got == []
    finally:
        cli("ollama", "stop")


def test_status_command_overview(cli: Cli, fake_ollama: Callable[..., str]) -> None:
    fake_ollama()
    r = cli("status", "--json")
    data = json.loads(r.out)
    assert data["proxy"]["status"] == "stopped" and data["ollama"]["status"] == "stopped"
    assert data["default_profile"] == "ollama" and "config.toml" in data["config"]
    cli("ollama", "start")
    cli("proxy", "start")
    data = json.loads(cli("status", "--json").out)
    assert data["proxy"]["status"] == "running" and data["ollama"]["managed"] is True
    r = cli("status")
    assert "proxy    running" in r.out and "ollama   running" in r.out
    cli("proxy", "stop")
    cli("ollama", "stop")
