"""`gateway start|status|stop` and `gateway key create`, with a stand-in `litellm` that serves
LiteLLM's documented health and key API on loopback (tests/gateway/fake_litellm.py)."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from hybridcc import paths
from hybridcc.gateway import supervise
from tests.conftest import CliResult, write_config

CONFIG = """
[providers.fake]
api = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "FAKE_KEY"
[providers.cmdprov]
api = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_cmd = "echo sk-from-a-command-SECRET"
[profiles.fake]
provider = "fake"
model = "m"
[profiles.cmd]
provider = "cmdprov"
model = "c"
"""
Cli = Callable[..., CliResult]


@pytest.fixture
def gateway_config(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_config(CONFIG)
    monkeypatch.setenv("FAKE_KEY", "sk-fake-upstream-key")
    cli("gateway", "config", "-P", "fake", "-P", "cmd")
    return paths.gateway_config_file()


def _status(cli: Cli) -> tuple[int, list[dict[str, object]]]:
    res = cli("gateway", "status", "--json", code=None)  # callers assert the code
    return res.code, json.loads(res.out)


def test_start_status_key_stop(cli: Cli, gateway_config: Path, fake_litellm: str) -> None:
    try:
        cli("gateway", "start", "--instances", "2", "--port", "0", "--litellm", fake_litellm)
        code, found = _status(cli)
        assert code == 0 and [i["instance"] for i in found] == [0, 1] and all(i["healthy"] for i in found)
        urls = [str(i["url"]) for i in found]
        assert all(u.startswith("http://127.0.0.1:") for u in urls) and urls[0] != urls[1]
        env = httpx.get(urls[0] + "/_fake/env", timeout=5).json()
        # Offline start, the provider key and the command's key in the env, the master key never in argv.
        assert env == {"LITELLM_LOCAL_MODEL_COST_MAP": True, "FAKE_KEY": True, "HYBRIDCC_GATEWAY_KEY_CMDPROV": True,
                       "master_key_ok": True, "argv_has_secret": False}  # fmt: skip
        master = paths.gateway_master_key_file()
        assert stat.S_IMODE(master.stat().st_mode) == 0o600
        # A second start keeps the healthy instances.
        cli("gateway", "start", "--instances", "2", "--port", "0", "--litellm", fake_litellm)
        assert _status(cli)[1][0]["pid"] == found[0]["pid"]

        made = cli("gateway", "key", "create", "--user", "alice", "--budget", "0.5")
        key_file = paths.gateway_key_file("alice")
        key = key_file.read_text().strip()
        assert key.startswith("sk-virtual-") and stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert key not in made.out + made.err and "$0.5" in made.err and str(key_file) in made.err
    finally:
        stopped = cli("gateway", "stop")
    assert "stopped 2" in stopped.err
    assert _status(cli) == (1, [])
    cli("gateway", "stop")  # not running is not an error


def test_key_create_without_database_or_with_a_wrong_master_key(
    cli: Cli, gateway_config: Path, fake_litellm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LITELLM_NO_DB", "1")
    try:
        cli("gateway", "start", "--port", "0", "--litellm", fake_litellm)
        url = str(_status(cli)[1][0]["url"])
        res = cli("gateway", "key", "create", "--user", "bob", code=6)
        assert "DB not connected" in res.err and "PostgreSQL" in res.err
        assert not paths.gateway_key_file("bob").exists()
        monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-not-the-gateways-master-key")
        res = cli("gateway", "key", "create", "--user", "bob", "--url", url, code=5)
        assert "refused the master key" in res.err and "sk-not-the" not in res.err
    finally:
        cli("gateway", "stop")


def test_documented_default_master_key_is_refused(
    cli: Cli, gateway_config: Path, fake_litellm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-1234")
    res = cli("gateway", "start", "--port", "0", "--litellm", fake_litellm, code=5)
    assert "unsafe" in res.err and "sk-1234" not in res.err
    assert _status(cli) == (1, [])


def test_missing_key_variable_fails_before_anything_starts(
    cli: Cli, gateway_config: Path, fake_litellm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAKE_KEY")
    res = cli("gateway", "start", "--port", "0", "--litellm", fake_litellm, code=5)
    assert "FAKE_KEY" in res.err
    assert _status(cli) == (1, [])


def test_missing_litellm_and_missing_config(cli: Cli, gateway_config: Path, tmp_path: Path) -> None:
    res = cli("gateway", "start", "--litellm", str(tmp_path / "nope"), code=7)
    assert "not an executable" in res.err and "litellm[proxy]" in res.err
    res = cli("gateway", "start", "--config", str(tmp_path / "none.yaml"), code=3)
    assert "gateway config" in res.err


def test_an_instance_that_exits_at_start_is_reported(cli: Cli, gateway_config: Path, tmp_path: Path) -> None:
    from tests.helpers import write_script

    broken = write_script(tmp_path / "bin" / "litellm", "echo 'ImportError: no module named fastapi'; exit 3\n")
    res = cli("gateway", "start", "--port", "0", "--litellm", str(broken), code=6)
    assert "exited during start-up" in res.err and "fastapi" in res.err
    assert supervise.status() == []
