"""The team gateway for real: LiteLLM from PyPI (its own venv), Redis on loopback, our fake
OpenAI-wire upstream, the real `claude` through hybridcc (issue 18, part 2).

One module-scoped pair of LiteLLM instances sharing one Redis serves every test (LiteLLM needs
40-80 s to start on a busy 2-core machine). Tests run in file order; the last one kills an
instance and restarts it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from hybridcc import paths
from hybridcc.config import load_config
from hybridcc.gateway import litellm_config as lc
from hybridcc.gateway import supervise
from tests.conftest import CliResult, write_config
from tests.e2e.conftest import ClaudeRun, StartSession, releases_under_test
from tests.fakes.upstream import (
    FakeUpstream,
    RecordedRequest,
    Reply,
    openai_json,
    openai_text_stream,
    openai_tool_stream,
)
from tests.gateway.conftest import litellm_path, redis_path
from tests.helpers import IN_CI, free_port, wait_for
from tests.proxy.conftest import RunningProxy

# LiteLLM start-up (40-80 s for two instances here) counts against the first test that uses the fixture.
pytestmark = [pytest.mark.gateway, pytest.mark.timeout(420)]
KEY = "sk-fake-upstream-key-gateway"
COMMAND = "echo hybridcc-gateway-$((6*7))"
STREAM_ARGS = ["--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"]
PROMPT = "Run the marker command with Bash."
AGAIN = "Run the marker command again."


def _agent(r: RecordedRequest) -> Reply:
    """An OpenAI-wire model that calls Bash once per human turn, then reports what it printed."""
    body = r.json() or {}
    msgs = body.get("messages", [])
    stream = bool(body.get("stream"))
    if not body.get("tools"):  # titles, the rate-limited model, the latency probes
        return openai_text_stream(["plain answer"]) if stream else openai_json("plain answer")
    # The human turn is the last user message holding a prompt of ours: LiteLLM may put Claude
    # Code's reminders after a tool result as a user message of their own.
    turn = max((i for i, m in enumerate(msgs) if m.get("role") == "user" and any(
        p in json.dumps(m.get("content")) for p in (PROMPT, AGAIN))), default=0)  # fmt: skip
    results = [m for m in msgs[turn:] if m.get("role") == "tool"]
    if results:
        content = results[-1]["content"]
        text = content if isinstance(content, str) else "".join(c.get("text", "") for c in content)
        return openai_text_stream(["The command printed: ", text.strip()])
    call_id = f"call_gw_{turn}"  # one id per turn: a resumed session holds the earlier ones
    return openai_tool_stream("Bash", {"command": COMMAND, "description": "print a marker"}, call_id=call_id)


@dataclass
class Gateway:
    home: Path
    upstream: FakeUpstream
    redis_port: int
    urls: list[str]
    master: str
    pids: list[int]
    start_seconds: float
    config_path: Path
    litellm: str


def _wait_redis(port: int, proc: subprocess.Popen[bytes]) -> None:
    def pong() -> bool:
        assert proc.poll() is None, "redis-server exited at start"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_for(pong, timeout=30, what="redis-server to answer PING")


GATEWAY_CONFIG = """
[providers.fake-openai]
api = "openai"
base_url = "{url}/v1"
api_key_env = "FAKE_KEY"
[profiles.agent]
provider = "fake-openai"
model = "agent-big"
small_model = "agent-small"
[profiles.limited]
provider = "fake-openai"
model = "limited"
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    litellm, redis = litellm_path(), redis_path()
    root = tmp_path_factory.mktemp("gateway")
    redis_port = free_port()
    redis_proc = subprocess.Popen(
        [redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    upstream = FakeUpstream(_agent).__enter__()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HYBRIDCC_HOME", str(root / "hcc"))
        mp.setenv("FAKE_KEY", KEY)
        mp.delenv("LITELLM_MASTER_KEY", raising=False)
        try:
            _wait_redis(redis_port, redis_proc)
            write_config(GATEWAY_CONFIG.format(url=upstream.url))
            config = load_config()
            redis_url = f"redis://127.0.0.1:{redis_port}"
            # `gateway config` output for both profiles; only `limited` carries an rpm limit.
            data = lc.build(config, [config.profiles["agent"]], lc.GatewayOptions(redis_url=redis_url))
            limited = lc.build(config, [config.profiles["limited"]], lc.GatewayOptions(redis_url=redis_url, rpm=3))
            data["model_list"] += limited["model_list"]
            data["router_settings"] = limited["router_settings"]
            path = root / "litellm.yaml"
            path.write_text(lc.render(data))
            started = time.monotonic()
            instances = supervise.start(config=config, config_path=path, instances=2, port=0, litellm=litellm)
            seconds = time.monotonic() - started
            yield Gateway(root / "hcc", upstream, redis_port, [i.url for i in instances], supervise.master_key(),
                          [i.state.pid for i in instances], seconds, path, litellm)  # fmt: skip
        finally:
            supervise.stop(timeout=10)
            upstream.__exit__(None, None, None)
            redis_proc.terminate()
            redis_proc.wait(10)


@pytest.fixture
def claude_newest() -> str:
    """The newest release under test (tests/e2e/conftest.py): one release keeps the group short."""
    found = [s.path for s in releases_under_test() if s.path]
    if not found:
        msg = "the real `claude` CLI is required (bash .ci/run installs it; or HYBRIDCC_TEST_CLAUDE=PATH)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return found[-1]


def _team_profile(cli: Callable[..., CliResult], gw: Gateway, *, name: str = "team", model: str = "agent-big") -> None:
    write_config("[proxy]\nport = 0\n")
    args = [a for url in gw.urls for a in ("--gateway", url)]
    cli("profile", "add", name, *args, "--api-key-env", "TEAM_KEY", "--model", model, "--small-model",
        "agent-small" if model == "agent-big" else model)  # fmt: skip


def _session(start: StartSession, claude: str, gw: Gateway, args: list[str]) -> ClaudeRun:
    return start("team", args, claude=claude, extra_env={"TEAM_KEY": gw.master}).finish(180)


def _tool_round_trip_ok(run: ClaudeRun) -> None:
    assert run.code == 0, run.stderr[-2000:]
    assert run.result["subtype"] == "success" and run.result["is_error"] is False
    assert run.result["result"] == "The command printed: hybridcc-gateway-42"


def test_status_names_both_instances(gateway: Gateway, hybridcc_exe: list[str], figure: Callable[[str], None]) -> None:
    env = {**os.environ, "HYBRIDCC_HOME": str(gateway.home)}
    done = subprocess.run([*hybridcc_exe, "gateway", "status", "--json"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert [i["url"] for i in found] == gateway.urls and all(i["healthy"] for i in found)
    rss = [i["rss_mb"] for i in found]
    figure(f"LiteLLM start-up: {gateway.start_seconds:.1f} s for 2 instances started together; "
                   f"memory {', '.join(f'{m:.0f} MB' for m in rss)} (RSS)")  # fmt: skip


def test_claude_tool_round_trip_through_gateway(
    gateway: Gateway, cli: Callable[..., CliResult], start_session: StartSession, claude_newest: str
) -> None:
    _team_profile(cli, gateway)
    before = len(gateway.upstream.requests)
    run = _session(start_session, claude_newest, gateway, ["-p", PROMPT, *STREAM_ARGS])
    _tool_round_trip_ok(run)
    posts = [r for r in gateway.upstream.requests[before:] if r.method == "POST"]
    assert all(r.path == "/v1/chat/completions" for r in posts)  # chat completions, not the Responses API
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in posts)  # LiteLLM's own upstream key
    tool_msgs = [m for r in posts for m in (r.json() or {}).get("messages", []) if m.get("role") == "tool"]
    assert tool_msgs and tool_msgs[-1]["tool_call_id"].startswith("call_gw_")
    assert {(r.json() or {}).get("model") for r in posts} <= {"agent-big", "agent-small"}


def _messages(url: str, master: str, model: str, *, stream: bool = False) -> httpx.Response:
    body = {"model": model, "max_tokens": 32, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(url + "/v1/messages", json=body, headers={"authorization": f"Bearer {master}"}, timeout=60)


def _redis(port: int, *command: str) -> object:
    """One Redis command over RESP (no client library in our venv): the decoded reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s, s.makefile("rb") as f:
        s.sendall(f"*{len(command)}\r\n".encode() + b"".join(f"${len(c)}\r\n{c}\r\n".encode() for c in command))

        def read() -> object:
            line = f.readline().rstrip(b"\r\n")
            kind, rest = line[:1], line[1:]
            if kind == b"*":
                return [read() for _ in range(int(rest))]
            if kind == b"$":
                return None if int(rest) < 0 else f.read(int(rest) + 2)[:-2].decode()
            return int(rest) if kind == b":" else rest.decode()

        return read()


def _shared_count(port: int) -> int:
    """The rpm count LiteLLM's router keeps in Redis for the `limited` model (flushed in batches)."""
    keys = _redis(port, "KEYS", "global_router:*limited:rpm:*")
    values = _redis(port, "MGET", *keys) if isinstance(keys, list) and keys else []
    return sum(int(v) for v in values if isinstance(v, str)) if isinstance(values, list) else 0


def test_rpm_limit_is_shared_by_both_instances(
    gateway: Gateway, cli: Callable[..., CliResult], start_proxy: Callable[..., RunningProxy],
    monkeypatch: pytest.MonkeyPatch, figure: Callable[[str], None],
) -> None:  # fmt: skip
    # Counts are per clock minute: start early in one so the window does not roll over mid-test.
    wait_for(lambda: time.gmtime().tm_sec < 45, timeout=20, what="the start of a minute")
    statuses: list[int] = []
    for url in (gateway.urls[0], gateway.urls[0]):  # rpm is 3: LiteLLM's pre-routing check lets 2 pass
        res = _messages(url, gateway.master, "limited")
        statuses.append(res.status_code)
        assert res.status_code == 200, res.text
    # LiteLLM writes its counts to Redis in batches (every second): wait until both are there.
    wait_for(lambda: _shared_count(gateway.redis_port) >= 2, timeout=15, what="LiteLLM to flush its rpm count")
    for url in (gateway.urls[1], gateway.urls[1]):  # the other instance: alone it would let 2 through
        res = _messages(url, gateway.master, "limited")
        statuses.append(res.status_code)
        assert res.status_code == 429 and res.json()["error"]["type"] == "rate_limit_error", res.text
    # Through hybridcc (a fallback chain over both gateways): one clear 429 at once, no retry loop.
    _team_profile(cli, gateway, name="team", model="limited")
    monkeypatch.setenv("TEAM_KEY", gateway.master)
    proxy = start_proxy(Path(os.environ["HYBRIDCC_HOME"], "config.toml").read_text())
    sent = time.monotonic()
    answer = proxy.post("/p/team/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 20,
                                                "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
    took = time.monotonic() - sent
    assert answer.status_code == 429, answer.text
    error = answer.json()["error"]
    assert error["type"] == "rate_limit_error" and "limited" in error["message"]
    assert took < 10, f"hybridcc spent {took:.1f}s retrying a rate limit"
    figure(
        f"rpm 3 over 2 instances sharing Redis: {statuses} (A, A, B, B); through hybridcc a 429 in {took * 1000:.0f} ms"
    )


def _medians_ms(calls: list[Callable[[], httpx.Response]], n: int) -> list[float]:
    """Median wall time of each call, taken in turns (a busy machine's drift hits all alike)."""
    times: list[list[float]] = [[] for _ in calls]
    for i in range(n + 2):
        for call, bucket in zip(calls, times, strict=True):
            t = time.perf_counter()
            res = call()
            assert res.status_code == 200, res.text
            if i >= 2:  # the first two warm pools and caches up
                bucket.append((time.perf_counter() - t) * 1000)
    return [statistics.median(b) for b in times]


def test_latency_per_hop(
    gateway: Gateway, cli: Callable[..., CliResult], start_proxy: Callable[..., RunningProxy],
    monkeypatch: pytest.MonkeyPatch, figure: Callable[[str], None],
) -> None:  # fmt: skip
    n = 40
    chat = {"model": "agent-big", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}
    _team_profile(cli, gateway)
    monkeypatch.setenv("TEAM_KEY", gateway.master)
    proxy = start_proxy(Path(os.environ["HYBRIDCC_HOME"], "config.toml").read_text())
    to_litellm = {"authorization": f"Bearer {gateway.master}"}
    to_proxy = {"x-api-key": proxy.token, "anthropic-version": "2023-06-01"}
    with httpx.Client(timeout=60) as client:
        direct, via_litellm, via_both = _medians_ms(
            [
                lambda: client.post(gateway.upstream.url + "/v1/chat/completions", json=chat),
                lambda: client.post(gateway.urls[0] + "/v1/messages", json=chat, headers=to_litellm),
                lambda: client.post(proxy.url + "/p/team/v1/messages", json=chat, headers=to_proxy),
            ],
            n,
        )
    figure(
        f"latency, median of {n} non-streaming requests taken in turns: fake upstream {direct:.1f} ms; "
        f"through LiteLLM {via_litellm:.1f} ms (+{via_litellm - direct:.1f} ms); through hybridcc → LiteLLM "
        f"{via_both:.1f} ms ({via_both - via_litellm:+.1f} ms for hybridcc's hop)"
    )
    assert via_both < via_litellm + 200  # hybridcc's own hop stays small next to the gateway's


def test_key_create_without_database_names_the_fix(
    gateway: Gateway, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real key API without LiteLLM's database (it cannot start here: Prisma's engines are
    downloaded at first start): a clear error naming PostgreSQL, no key file, no secret shown."""
    monkeypatch.setenv("HYBRIDCC_HOME", str(gateway.home))
    res = cli("gateway", "key", "create", "--user", "carol", "--budget", "0.01", "--url", gateway.urls[1], code=6)
    assert "could not create a key (500" in res.err and "PostgreSQL" in res.err, res.err
    assert gateway.master not in res.out + res.err
    assert not (gateway.home / "state" / "gateway" / "keys" / "carol.key").exists()


def test_killed_instance_next_turn_served_by_the_other_then_restart(
    gateway: Gateway, cli: Callable[..., CliResult], start_session: StartSession, claude_newest: str,
    monkeypatch: pytest.MonkeyPatch, figure: Callable[[str], None],
) -> None:  # fmt: skip
    _team_profile(cli, gateway)
    first = _session(start_session, claude_newest, gateway, ["-p", PROMPT, *STREAM_ARGS])
    _tool_round_trip_ok(first)
    sid = first.result["session_id"]
    killed_at = time.time()
    os.kill(gateway.pids[0], signal.SIGKILL)
    wait_for(lambda: not psutil.pid_exists(gateway.pids[0]) or psutil.Process(gateway.pids[0]).status() == "zombie",
             timeout=10, what="the killed instance to go")  # fmt: skip
    before = len(gateway.upstream.requests)
    second = _session(start_session, claude_newest, gateway, ["--resume", sid, "-p", AGAIN, *STREAM_ARGS])
    _tool_round_trip_ok(second)
    assert len(gateway.upstream.requests) > before
    records = [json.loads(line) for line in paths.request_log_file().read_text().splitlines()]
    turn2 = [r for r in records if r.get("ts", 0) > killed_at and r.get("path") == "/v1/messages"]
    assert turn2 and all(r.get("served_by", "").startswith("team-2/") for r in turn2), turn2[-1]
    # The gateway restarted: `start` replaces the dead instance and keeps the healthy one.
    monkeypatch.setenv("HYBRIDCC_HOME", str(gateway.home))
    monkeypatch.setenv("FAKE_KEY", KEY)
    started = time.monotonic()
    again = supervise.start(config=load_config(), config_path=gateway.config_path, instances=2, port=0,
                            litellm=gateway.litellm)  # fmt: skip
    figure(f"LiteLLM restart of one instance: {time.monotonic() - started:.1f} s")
    assert [i.healthy for i in again] == [True, True]
    assert again[1].state.pid == gateway.pids[1] and again[0].state.pid != gateway.pids[0]
    assert _messages(again[0].url, gateway.master, "agent-big").status_code == 200
    supervise.stop(timeout=10)  # this test started it: gone before the test ends
