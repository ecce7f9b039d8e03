"""`env --port` and `env --no-start` with `port = 0` (issue 12 item 3)."""

from __future__ import annotations

from hybridcc.config import load_config
from tests.conftest import write_config
from tests.helpers import free_port


def test_env_port_starts_the_proxy_there(cli) -> None:  # type: ignore[no-untyped-def]
    from hybridcc.services import proxy as proxy_svc

    write_config("[proxy]\nport = 0\n")
    port = free_port()
    try:
        r = cli("env", "-P", "openrouter", "--port", str(port))
        assert f"http://127.0.0.1:{port}/p/openrouter" in r.out
    finally:
        assert proxy_svc.stop()


def test_env_no_start_with_port_zero_says_why(cli) -> None:  # type: ignore[no-untyped-def]
    write_config("[proxy]\nport = 0\n")
    r = cli("env", "-P", "openrouter", "--no-start", code=6)
    assert "port = 0" in r.err and ":0/" not in r.out


def test_env_port_out_of_range_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    cli("env", "--port", "70000", code=2)


def test_env_full_json_and_lease(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json
    import os
    import stat
    import subprocess
    import sys
    from pathlib import Path

    from hybridcc.services import leases
    from hybridcc.services import proxy as proxy_svc

    write_config("[proxy]\nport = 0\n")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-secret")
    monkeypatch.setenv("CLAUDE_CODE_USE_BEDROCK", "1")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        r = cli("env", "-P", "openrouter", "-f", "json", "--full", "--lease", str(holder.pid))
        data = json.loads(r.out)
        env = data["env"]
        assert "OPENROUTER_API_KEY" not in env and "CLAUDE_CODE_USE_BEDROCK" not in env
        assert env["ANTHROPIC_BASE_URL"].endswith("/p/openrouter") and env["PATH"] == os.environ["PATH"]
        settings = Path(data["settings"])
        assert stat.S_IMODE(settings.stat().st_mode) == 0o600
        assert json.loads(settings.read_text())["env"]["ANTHROPIC_BASE_URL"] == env["ANTHROPIC_BASE_URL"]
        assert [lease.pid for lease in leases.active("proxy")] == [holder.pid]
    finally:
        holder.kill()
        holder.wait()
    assert leases.active("proxy") == []  # reaped once the holder is gone
    proxy_svc.release_if_unused(load_config())
    assert not proxy_svc.status(load_config()).running


def test_env_full_needs_json_and_lease_a_live_pid(cli) -> None:  # type: ignore[no-untyped-def]
    write_config("[proxy]\nport = 0\n")
    cli("env", "--full", code=2)
    cli("env", "--lease", "999999", "--no-start", code=2)
