"""claude-code-router supervised by hybridcc: the real ccr 2.0.0 in front of our fake OpenAI upstream."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from hybridcc import engines
from hybridcc.config import load_config
from hybridcc.config.schema import Config
from hybridcc.engines import ccr
from hybridcc.errors import ConfigError, MissingToolError
from hybridcc.services.state import read_state
from tests.conftest import write_config
from tests.fakes.upstream import FakeUpstream, Handler, RecordedRequest, Reply, openai_json, openai_text_stream

Up = Callable[[Handler], FakeUpstream]
KEY = "sk-upstream-key-for-ccr"


def _config(url: str) -> Config:
    write_config(f"""
[providers.up]
engine = "ccr"
base_url = "{url}/v1"
api_key_env = "UP_KEY"
[profiles.up]
provider = "up"
model = "fake-big"
small_model = "fake-small"
""")
    return load_config()


def _answer(r: RecordedRequest) -> Reply:
    if (r.json() or {}).get("stream"):
        return openai_text_stream(["hello ", "from upstream"])
    return openai_json("hello from upstream")


def _ask(env: dict[str, str | None], *, key: str | None = None) -> httpx.Response:
    body = {"model": env["ANTHROPIC_MODEL"], "max_tokens": 50, "stream": False,
            "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    token = key or env["ANTHROPIC_AUTH_TOKEN"]
    assert env["ANTHROPIC_BASE_URL"] and token
    return httpx.post(f"{env['ANTHROPIC_BASE_URL']}/v1/messages", json=body, timeout=60,
                      headers={"authorization": f"Bearer {token}"})  # fmt: skip


def test_session_starts_ccr_routes_through_it_and_stops_it(
    ccr_cli: str, upstream: Up, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    up = upstream(_answer)
    monkeypatch.setenv("UP_KEY", KEY)
    config = _config(up.url)
    provider = config.providers["up"]
    said: list[str] = []
    with engines.session(config, config.profiles["up"], report=said.append) as env:
        assert said and said[0].startswith("claude-code-router started on port")
        assert env["ANTHROPIC_MODEL"] == "up,fake-big" and env["ANTHROPIC_SMALL_FAST_MODEL"] == "up,fake-small"
        assert env["UP_KEY"] is None and KEY not in json.dumps(env)  # claude never holds the provider key
        res = _ask(env)
        assert res.status_code == 200, res.text
        assert "from upstream" in json.dumps(res.json())
        assert _ask(env, key="wrong").status_code == 401  # ccr asks its own key of every client
        cfg = ccr.config_path(provider)
        assert stat.S_IMODE(cfg.stat().st_mode) == 0o600 and KEY not in cfg.read_text()  # key only in ccr's env
        state = read_state(ccr.service_name(provider))
        assert state is not None and state.owner == "session"
        assert psutil.Process(state.pid).environ()["HOME"] == str(cfg.parent.parent)
    post = next(r for r in up.requests if r.method == "POST")
    assert post.path == "/v1/chat/completions" and post.headers["authorization"] == f"Bearer {KEY}"
    assert post.json()["model"] == "fake-big"
    assert not (isolated_env / ".claude-code-router").exists()  # the user's own ccr folder is never touched
    assert read_state(ccr.service_name(provider)) is None and not psutil.pid_exists(state.pid)


_INNER = """
import json
from hybridcc import engines
from hybridcc.config import load_config
c = load_config()
said = []
with engines.session(c, c.profiles["up"], report=said.append) as env:
    print(json.dumps({"url": env["ANTHROPIC_BASE_URL"], "said": said}))
"""


def test_sessions_share_one_ccr_and_the_last_one_stops_it(
    ccr_cli: str, upstream: Up, monkeypatch: pytest.MonkeyPatch
) -> None:
    up = upstream(_answer)
    monkeypatch.setenv("UP_KEY", KEY)
    config = _config(up.url)
    profile, provider = config.profiles["up"], config.providers["up"]
    with engines.session(config, profile) as outer:
        first = read_state(ccr.service_name(provider))
        # Another `hybridcc run` (its own process, its own lease) shares it and leaves it running.
        done = subprocess.run([sys.executable, "-c", _INNER], capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        inner = json.loads(done.stdout)
        assert inner == {"url": outer["ANTHROPIC_BASE_URL"], "said": []}  # reused, nothing said
        assert ccr.status(provider).healthy  # this session still holds it
        assert _ask(outer).status_code == 200
    assert first is not None and not psutil.pid_exists(first.pid)


def test_a_crashed_ccr_is_replaced_by_the_next_session(
    ccr_cli: str, upstream: Up, monkeypatch: pytest.MonkeyPatch
) -> None:
    up = upstream(_answer)
    monkeypatch.setenv("UP_KEY", KEY)
    config = _config(up.url)
    provider = config.providers["up"]
    state, what = ccr.start(config, provider, owner="user")
    assert what == "started"
    psutil.Process(state.pid).kill()
    psutil.Process(state.pid).wait(5)
    assert not ccr.status(provider).running
    with engines.session(config, config.profiles["up"]) as env:
        assert _ask(env).status_code == 200
        again = read_state(ccr.service_name(provider))
        assert again is not None and again.pid != state.pid
    assert read_state(ccr.service_name(provider)) is None  # session-started: stopped with the session


def test_a_user_started_ccr_outlives_sessions(ccr_cli: str, upstream: Up, monkeypatch: pytest.MonkeyPatch) -> None:
    up = upstream(_answer)
    monkeypatch.setenv("UP_KEY", KEY)
    config = _config(up.url)
    provider = config.providers["up"]
    state, _ = ccr.start(config, provider, owner="user")
    try:
        with engines.session(config, config.profiles["up"]):
            pass
        assert ccr.status(provider).healthy
    finally:
        assert ccr.stop(provider)
    assert not psutil.pid_exists(state.pid) and ccr.stop(provider) is False


def test_missing_ccr_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("UP_KEY", KEY)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HYBRIDCC_CCR", str(tmp_path / "nope" / "cli.js"))
    config = _config("http://127.0.0.1:9")
    with pytest.raises(MissingToolError) as err, engines.session(config, config.profiles["up"]):
        pass
    assert "claude-code-router is not installed" in err.value.message and "npm install" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('engine = "ccrx"\napi = "openai"\nbase_url = "http://h/v1"', 'providers.p.engine: expected "ccr" or "external"'),
        ('engine = "ccr"\napi = "anthropic"\nbase_url = "http://h"', 'providers.p.api: engine = "ccr" needs api = "openai"'),
        ('api = "openai"\nbase_url = "http://h/v1"\ndirect = true', 'providers.p.direct: only for engine = "external"'),
    ],
)  # fmt: skip
def test_engine_keys_are_validated(table: str, problem: str) -> None:
    write_config(f'[providers.p]\n{table}\n[profiles.p]\nprovider = "p"\nmodel = "m"\n')
    with pytest.raises(ConfigError) as err:
        load_config()
    assert problem in err.value.message


def test_external_implies_the_anthropic_wire() -> None:
    write_config('[providers.gw]\nengine = "external"\nbase_url = "https://gw.example.com"\napi_key_env = "GW"\n'
                 '[profiles.gw]\nprovider = "gw"\nmodel = "m"\n')  # fmt: skip
    provider = load_config().providers["gw"]
    assert (provider.api, provider.engine, provider.direct) == ("anthropic", "external", False)
    assert engines.bypasses_proxy(provider) is False  # through hybridcc's proxy unless direct = true


def test_direct_external_session_env(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config('[providers.gw]\nengine = "external"\nbase_url = "http://127.0.0.1:9"\napi_key_env = "GW_KEY"\n'
                 'direct = true\n[profiles.gw]\nprovider = "gw"\nmodel = "m"\nprivacy = "local"\n')  # fmt: skip
    monkeypatch.setenv("GW_KEY", KEY)
    config = load_config()
    with engines.session(config, config.profiles["gw"]) as env:
        # bearer: the quirks default for a generic gateway; the key is what the user asked claude to hold
        assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9" and env["ANTHROPIC_AUTH_TOKEN"] == KEY
        assert env["ANTHROPIC_MODEL"] == "m" and env["DISABLE_AUTOUPDATER"] == "1"  # privacy = "local" kept


def test_doctor_checks_the_engines(ccr_cli: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from hybridcc.doctor.model import Context
    from hybridcc.engines.doctor import check_engines

    write_config('[providers.up]\nengine = "ccr"\nbase_url = "http://127.0.0.1:9/v1"\n'
                 '[providers.gw]\nengine = "external"\nbase_url = "http://127.0.0.1:9"\ndirect = true\n'
                 '[profiles.up]\nprovider = "up"\nmodel = "m"\n[profiles.gw]\nprovider = "gw"\nmodel = "m"\n')  # fmt: skip
    config = load_config()
    ctx = Context(config, None, profiles=[config.profiles["up"], config.profiles["gw"]])
    found = {c.id: (c.status, c.message) for c in check_engines(ctx)}
    assert found["engine.up.installed"] == ("ok", f"claude-code-router 2.0.0 at {ccr_cli}")
    assert found["engine.up.running"][0] == "ok" and found["engine.gw.direct"][0] == "warn"
    monkeypatch.setenv("HYBRIDCC_CCR", str(tmp_path / "missing.js"))
    missing = {c.id: c for c in check_engines(ctx)}["engine.up.installed"]
    assert missing.status == "fail" and "npm install" in missing.fix
