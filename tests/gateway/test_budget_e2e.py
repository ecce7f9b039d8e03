"""A virtual key with a tiny budget, for real: LiteLLM from PyPI (its own venv) with a throw-away
PostgreSQL cluster from Debian's packages, our fake OpenAI-wire upstream, hybridcc's proxy in
front (issue 18, part 2, "Virtual keys and budgets").

LiteLLM's database layer (Prisma) downloads its engine binaries at first start. Where that
download is blocked the proxy exits, and this one test is reported as not run with the error line
from LiteLLM's log — the single allowed exception to "fail, don't skip, under CI", reached only
after PostgreSQL was started and answered and LiteLLM was started with its URL. A missing
PostgreSQL or LiteLLM still FAILS under CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hybridcc import paths
from hybridcc.config import load_config
from hybridcc.errors import ServiceError
from hybridcc.gateway import litellm_config as lc
from hybridcc.gateway import supervise
from tests.conftest import CliResult, write_config
from tests.fakes.upstream import FakeUpstream, RecordedRequest, Reply, openai_json
from tests.gateway.conftest import litellm_path
from tests.helpers import free_port, require_tool
from tests.proxy.conftest import RunningProxy

pytestmark = [pytest.mark.gateway, pytest.mark.timeout(300)]
LITELLM_START = 120.0  # seconds: LiteLLM's start-up with its database set-up, bounded
KEY = "sk-fake-upstream-key-budget"
CONFIG = """
[providers.fake-openai]
api = "openai"
base_url = "{url}/v1"
api_key_env = "FAKE_KEY"
[profiles.agent]
provider = "fake-openai"
model = "agent-big"
"""
# The lines of LiteLLM's log that say Prisma could not fetch what it needs (engines, its CLI).
# Name lookups only: the database is 127.0.0.1, so a refused or timed-out connection is a real
# failure of ours, never a reason to skip.
_PRISMA_FETCH = re.compile(
    r"binaries\.prisma\.sh|ENOTFOUND|EAI_AGAIN|getaddrinfo|prisma.*(download|fetch)|(download|fetch).*prisma",
    re.IGNORECASE,
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d [\d:,.]+ - \S+ - [A-Z]+ - ")  # Python logging's time - name - level


@dataclass
class Postgres:
    url: str  # postgresql://litellm@127.0.0.1:PORT/litellm (trust auth, loopback only: no secret)
    port: int
    root: Path


def _pg_bin() -> Path:
    """Debian's PostgreSQL binaries (/usr/lib/postgresql/N/bin); a missing one FAILS under CI."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    initdb = require_tool("initdb", str(found[-1]) if found else None)
    return Path(initdb).resolve().parent


def postgres_version() -> str:
    return _pg_bin().parts[-2]


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    """A throw-away cluster on 127.0.0.1 and a free port, removed afterwards.

    PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user
    (Debian's package creates it), in a directory of our own it can enter (pytest's tmp_path
    sits under a 0700 directory of root's)."""
    bindir = _pg_bin()
    as_user: list[str] = []
    if os.geteuid() == 0:
        runuser = require_tool("runuser")
        as_user = [runuser, "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="hybridcc-pg-"))
    try:
        if as_user:
            shutil.chown(root, "postgres", "postgres")
        data, log, port = root / "data", root / "postgres.log", free_port()

        def run(*argv: str, timeout: float = 60) -> None:
            done = subprocess.run([*as_user, *argv], capture_output=True, text=True, timeout=timeout, check=False)
            assert done.returncode == 0, f"{argv[0]} failed: {done.stderr[-1500:]}"

        run(str(bindir / "initdb"), "-D", str(data), "-U", "litellm", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off"
        try:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
            # Reachable over TCP on loopback, as LiteLLM will reach it; the database LiteLLM uses.
            run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "litellm", "litellm")
            yield Postgres(f"postgresql://litellm@127.0.0.1:{port}/litellm", port, root)
        finally:
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60, check=False)  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)  # mkdtemp's own directory, nothing else


def _priced_upstream(r: RecordedRequest) -> Reply:
    return openai_json("within budget")


def _start_gateway(upstream: FakeUpstream, database_url: str, root: Path) -> str:
    """One LiteLLM instance with the database; its URL, or the skip/fail the brief asks for."""
    write_config(CONFIG.format(url=upstream.url))
    config = load_config()
    data = lc.build(config, [config.profiles["agent"]], lc.GatewayOptions())
    for entry in data["model_list"]:  # a price, so each call spends (unknown models cost 0)
        entry["litellm_params"].update(input_cost_per_token=0.001, output_cost_per_token=0.001)
    path = root / "litellm.yaml"
    path.write_text(lc.render(data))
    env = {**os.environ, "DATABASE_URL": database_url, "FAKE_KEY": KEY,
           # Prisma's own bootstrap budget (600 s by default) inside ours.
           "LITELLM_PRISMA_BOOTSTRAP_TIMEOUT": str(int(LITELLM_START - 20))}  # fmt: skip
    started = time.monotonic()
    try:
        (inst,) = supervise.start(config=config, config_path=path, port=0, litellm=litellm_path(), env=env,
                                  timeout=LITELLM_START)  # fmt: skip
    except ServiceError as exc:
        took = time.monotonic() - started
        log = paths.service_log_file(supervise.service_name(0))
        lines = [_PREFIX.sub("", _ANSI.sub("", line)).strip() for line in log.read_text(errors="replace").splitlines()]
        hits = [line for line in lines if _PRISMA_FETCH.search(line)]
        if not hits:
            pytest.fail(f"LiteLLM with a database did not start, and not for Prisma's download: {exc}")
        how = "exited" if "exited" in exc.message else f"did not answer within {LITELLM_START:.0f} s"
        pytest.skip(
            f"not run: LiteLLM's database layer cannot start here (PostgreSQL {postgres_version()} answered on "
            f"127.0.0.1; LiteLLM {how} after {took:.0f} s): {hits[-1][:300]}"
        )
    return inst.url


def test_tiny_budget_exhausted_is_a_clear_error_not_a_retry_loop(
    postgres: Postgres, cli: Callable[..., CliResult], start_proxy: Callable[..., RunningProxy],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, figure: Callable[[str], None],
) -> None:  # fmt: skip
    monkeypatch.delenv("LITELLM_MASTER_KEY", raising=False)
    with FakeUpstream(_priced_upstream) as upstream:
        try:
            url = _start_gateway(upstream, postgres.url, tmp_path)
            key_file = tmp_path / "u.key"
            res = cli("gateway", "key", "create", "--user", "u", "--budget", "0.000001", "--url", url,
                      "--out", str(key_file))  # fmt: skip
            assert res.code == 0, res.err
            key = key_file.read_text().strip()
            assert key.startswith("sk-") and key not in res.out + res.err
            assert supervise.master_key(create=False) not in res.out + res.err

            write_config(CONFIG.format(url=upstream.url) + "[proxy]\nport = 0\n")
            res = cli("profile", "add", "team", "--gateway", url, "--api-key-env", "TEAM_KEY", "--model", "agent-big")
            assert res.code == 0, res.err
            monkeypatch.setenv("TEAM_KEY", key)
            proxy = start_proxy(paths.config_file().read_text())
            body = {"model": "claude-sonnet-4-6", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}

            def refused() -> tuple[float, int, httpx.Response] | None:
                """The first answer that is not a 200, with its time and the upstream calls it made."""
                before, sent = len(upstream.requests), time.monotonic()
                answer = proxy.post("/p/team/v1/messages", body, timeout=60)
                if answer.status_code == 200:
                    return None
                return time.monotonic() - sent, len(upstream.requests) - before, answer

            # LiteLLM counts the spend after each call: the first call spends past 0.000001 USD.
            served = len(upstream.requests)
            took, calls, answer = _wait(refused)
            served = len(upstream.requests) - served
            assert calls == 0, "the refused request still reached the upstream"
            assert answer.status_code in (400, 429), answer.text
            error = answer.json()["error"]
            assert "budget" in error["message"].lower(), error
            assert answer.headers.get("x-should-retry") == "false", answer.headers
            assert took < 10, f"hybridcc spent {took:.1f}s on a refused budget"
            assert key not in answer.text
            figure(f"budget 0.000001 USD: {served} call(s) served, then {answer.status_code} "
                   f"{error.get('type')} through hybridcc in {took * 1000:.0f} ms, nothing sent upstream")  # fmt: skip
        finally:
            supervise.stop(timeout=10)


def _wait(refused: Callable[[], tuple[float, int, httpx.Response] | None]) -> tuple[float, int, httpx.Response]:
    deadline = time.monotonic() + 60
    while True:
        found = refused()
        if found is not None:
            return found
        assert time.monotonic() < deadline, "the key's budget of 0.000001 USD was never enforced within 60 s"
