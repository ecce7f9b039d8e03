"""`hybridcc profile add NAME --gateway URL [--gateway URL2] --api-key-env VAR`: a passthrough
profile to the team gateway whose extra URLs form the fallback chain (issue 16's machinery)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable

import pytest

from hybridcc import paths
from hybridcc.config import load_config
from hybridcc.proxy.routing import chain
from tests.conftest import CliResult
from tests.fakes.upstream import FakeUpstream, Handler, RecordedRequest, Reply, anthropic_json, error_reply
from tests.helpers import free_port
from tests.proxy.conftest import RunningProxy

Cli = Callable[..., CliResult]
Up = Callable[[Handler], FakeUpstream]


def test_two_gateways_become_a_fallback_chain(cli: Cli) -> None:
    res = cli("profile", "add", "team", "--gateway", "https://gw1.example.com/v1/", "--gateway",
              "https://gw2.example.com", "--api-key-env", "TEAM_KEY", "--model", "gw-main", "--small-model", "gw-small")  # fmt: skip
    assert "fallback: team-2" in res.err
    data = tomllib.loads(paths.config_file().read_text())
    assert data["providers"]["team"] == {"api": "anthropic", "base_url": "https://gw1.example.com",
                                         "api_key_env": "TEAM_KEY", "auth": "bearer"}  # fmt: skip
    assert data["providers"]["team-2"]["base_url"] == "https://gw2.example.com"
    assert data["profiles"]["team"]["fallback"] == ["team-2"]
    config = load_config()
    routes = chain(config, config.profiles["team"], "claude-haiku-4-5")
    assert [(r.base_url, r.model) for r in routes] == [("https://gw1.example.com", "gw-small"),
                                                       ("https://gw2.example.com", "gw-small")]  # fmt: skip
    # A second add of the same name is refused; --force replaces it.
    again = cli("profile", "add", "team", "--gateway", "https://gw3.example.com", "--model", "m", code=3)
    assert "--force" in again.err
    cli("profile", "add", "team", "--gateway", "https://gw3.example.com", "--model", "m", "--force")


def test_remove_takes_the_fallback_profiles_along(cli: Cli) -> None:
    args = ["--gateway", "https://gw1.example.com", "--gateway", "https://gw2.example.com", "--gateway",
            "https://gw3.example.com", "--model", "m"]  # fmt: skip
    cli("profile", "add", "team", *args)
    assert load_config().profiles["team"].fallback == ("team-2", "team-3")
    res = cli("profile", "remove", "team")
    assert "team-2, team-3" in res.err
    data = tomllib.loads(paths.config_file().read_text())
    assert not set(data.get("profiles", {})) & {"team", "team-2", "team-3"}
    assert not set(data.get("providers", {})) & {"team", "team-2", "team-3"}


def test_model_taken_from_the_gateway(cli: Cli, upstream: Up, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[RecordedRequest] = []

    def models(r: RecordedRequest) -> Reply:
        seen.append(r)
        return Reply(headers={"content-type": "application/json"},
                     body=b'{"object": "list", "data": [{"id": "gw-coder"}, {"id": "gw-fast"}]}')  # fmt: skip

    up = upstream(models)
    monkeypatch.setenv("TEAM_KEY", "sk-team-virtual-key-SECRET")
    res = cli("profile", "add", "team", "--gateway", up.url, "--api-key-env", "TEAM_KEY")
    assert load_config().profiles["team"].model == "gw-coder" and "gw-fast" in res.err
    assert seen[0].path == "/v1/models" and seen[0].headers["authorization"] == "Bearer sk-team-virtual-key-SECRET"
    assert "SECRET" not in res.out + res.err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--gateway", "http://127.0.0.1:{dead}"], "--model"),
        (["--gateway", "https://bob:hunter2@gw.example.com", "--model", "m"], "secret"),
        (["--gateway", "ftp://gw", "--model", "m"], "not an http(s) URL"),
        (["--gateway", "https://gw.example.com", "--base-url", "https://x", "--model", "m"], "--base-url"),
        (["--model", "m"], "--base-url"),
    ],
)
def test_usage_errors(cli: Cli, args: list[str], needle: str) -> None:
    res = cli("profile", "add", "team", *[a.replace("{dead}", str(free_port())) for a in args], code=2)
    assert needle in res.err and "hunter2" not in res.err
    assert not paths.config_file().exists()


def test_plain_add_still_works(cli: Cli) -> None:
    cli("profile", "add", "lm", "--base-url", "http://127.0.0.1:1234/v1", "--api", "openai", "--model", "q")
    assert load_config().profiles["lm"].model == "q"


def test_proxy_moves_to_the_next_gateway_when_one_is_down(
    cli: Cli, upstream: Up, start_proxy: Callable[..., RunningProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    def gateway(r: RecordedRequest) -> Reply:
        if r.headers.get("authorization") != "Bearer sk-team-key":
            return error_reply(401, {"type": "error", "error": {"type": "authentication_error", "message": "no"}})
        return anthropic_json("served by the second gateway", model=(r.json() or {}).get("model", "?"))

    second = upstream(gateway)
    monkeypatch.setenv("TEAM_KEY", "sk-team-key")
    cli("profile", "add", "team", "--gateway", f"http://127.0.0.1:{free_port()}", "--gateway", second.url,
        "--api-key-env", "TEAM_KEY", "--model", "gw-main")  # fmt: skip
    proxy = start_proxy(paths.config_file().read_text())
    answer = proxy.post("/p/team/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 20,
                                                "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["content"][0]["text"] == "served by the second gateway"
    assert [r.json()["model"] for r in second.requests] == ["gw-main"]
