"""`doctor --privacy` (issue 18): the strace log parser, the recorder, and each check's states."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hybridcc.doctor.privacy import Attempt, egress_attempts, record
from hybridcc.envplan import PRIVACY_DENIED_TOOLS, PRIVACY_SWITCHES
from tests.conftest import CliResult, write_config
from tests.fakes.upstream import FakeUpstream, RecordedRequest, Reply, openai_json, openai_text_stream
from tests.helpers import require_tool, write_script

Cli = Callable[..., CliResult]
Doctor = Callable[..., tuple[int, dict[str, dict[str, str]]]]
STANDIN = Path(__file__).resolve().parents[1] / "fakes" / "standin_claude.py"

# Real strace 6.1 lines (`strace -f -e trace=connect,sendto,sendmsg,sendmmsg`), taken in a network
# namespace; the last four show a call interrupted by another thread and its resumption.
LOG = """\
528   sendto(3, "x", 1, 0, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("127.0.0.1")}, 16) = 1
528   connect(3, {sa_family=AF_INET6, sin6_port=htons(9), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0
528   connect(3, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 EADDRNOTAVAIL (Cannot assign requested address)
528   connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("192.0.2.1")}, 16) = -1 ENETUNREACH (Network is unreachable)
528   sendmsg(3, {msg_name={sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("192.0.2.7")}, msg_namelen=16, msg_iov=[{iov_base="q", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = -1 ENETUNREACH (Network is unreachable)
528   sendto(4, "x", 1, 0, {sa_family=AF_INET6, sin6_port=htons(9), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}, 28) = 1
528   connect(5, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, 16) = 0
528   connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 23) = -1 ENOENT (No such file or directory)
528   connect(6, {sa_family=AF_UNIX, sun_path="/run/user/0/bus"}, 110) = 0
528   sendto(7, "{\\"sa_family=AF_INET\\"}", 20, MSG_NOSIGNAL, NULL, 0) = 20
530   connect(8, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110 <unfinished ...>
531   connect(9, {sa_family=AF_INET, sin_port=htons(8787), sin_addr=inet_addr("127.0.0.1")}, 16 <unfinished ...>
530   <... connect resumed>) = 0
531   <... connect resumed>) = -1 EINPROGRESS (Operation now in progress)
"""


def test_parser_counts_only_what_leaves_the_machine() -> None:
    found = egress_attempts(LOG)
    assert [(a.call, a.family, a.address) for a in found] == [
        ("connect", "AF_INET6", "[2001:db8::1]:443"),
        ("connect", "AF_INET", "192.0.2.1:80"),
        ("sendmsg", "AF_INET", "192.0.2.7:53"),
        ("connect", "AF_INET", "127.0.0.53:53"),  # DNS, even to a loopback resolver
        ("sendto", "AF_INET?", found[4].address),  # a line naming AF_INET that could not be parsed: counted
        ("connect", "AF_UNIX", "/var/run/nscd/socket"),  # a reached name-service daemon (the result follows)
    ]
    assert found[1].result.startswith("-1 ENETUNREACH") and found[5].result == "0" and found[5].pid == 530
    assert (
        str(found[0])
        == "pid 528 connect AF_INET6 [2001:db8::1]:443 = -1 EADDRNOTAVAIL (Cannot assign requested address)"
    )


def test_parser_a_call_killed_mid_way_still_counts() -> None:
    log = '7 connect(3, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("203.0.113.9")}, 16 <unfinished ...>\n'
    assert egress_attempts(log) == [Attempt(7, "connect", "AF_INET", "203.0.113.9:443", "")]


def test_record_follows_the_whole_tree(tmp_path: Path) -> None:
    """A grandchild's connect to port 53 on loopback (nothing leaves the machine) is seen."""
    strace = require_tool("strace")
    child = (
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('127.0.0.1', 53)); "
        "t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); t.connect(('127.0.0.1', 9))"
    )
    argv = [
        sys.executable,
        "-c",
        f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], check=True)",
    ]
    rec = record(argv, env=dict(os.environ), cwd=tmp_path, timeout=60, strace=strace)
    assert rec.code == 0, rec.stderr
    assert [a.address for a in rec.attempts] == ["127.0.0.1:53"] and rec.processes >= 1


# --- the checks -----------------------------------------------------------------------------


@pytest.fixture
def doctor(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Doctor]:
    """`hybridcc doctor --json --privacy …` with a stand-in `claude` first on PATH, in a fresh cwd."""
    bin_dir = tmp_path / "bin"
    write_script(bin_dir / "claude", f'exec "{sys.executable}" "{STANDIN}" "$@"\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("FAKE_KEY", "sk-fake")

    def run(*args: str) -> tuple[int, dict[str, dict[str, str]]]:
        r = cli("doctor", "--json", "--privacy", *args, code=None)  # callers assert the code
        data = json.loads(r.out)
        return r.code, {c["id"]: c for c in data["checks"] if c["area"] == "privacy"}

    yield run


def _config(url: str = "http://127.0.0.1:9", *, privacy: bool = True, profile_extra: str = "", extra: str = "") -> None:
    write_config(f"""
default_profile = "loc"
[proxy]
port = 0
[providers.loc]
api = "openai"
base_url = "{url}/v1"
api_key_env = "FAKE_KEY"
[providers.far]
api = "openai"
base_url = "https://api.example.com/v1"
api_key_env = "FAKE_KEY"
[profiles.loc]
provider = "loc"
model = "m"
{'privacy = "local"' if privacy else ""}
{profile_extra}
{extra}
""")


def test_privacy_profile_all_ok(doctor: Doctor) -> None:
    _config()
    _, checks = doctor()
    assert {k: c["status"] for k, c in checks.items()} == {
        "privacy.loc.mode": "ok",
        "privacy.loc.providers": "ok",
        "privacy.loc.switches": "ok",
        "privacy.loc.tools": "ok",
    }
    assert f"{len(PRIVACY_SWITCHES)} switches" in checks["privacy.loc.switches"]["message"]
    assert all(t in checks["privacy.loc.tools"]["message"] for t in PRIVACY_DENIED_TOOLS)


def test_not_in_privacy_mode_fails_with_the_fix(doctor: Doctor, cli: Cli) -> None:
    _config(privacy=False)
    code, checks = doctor()
    assert code == 1 and checks["privacy.loc.mode"]["status"] == "fail"
    assert (
        'privacy = "local"' in checks["privacy.loc.mode"]["fix"] and "--local-only" in checks["privacy.loc.mode"]["fix"]
    )
    plain = json.loads(cli("doctor", "--json").out)
    assert not [c for c in plain["checks"] if c["area"] == "privacy"]  # only with --privacy


def test_sensitive_project_counts_as_privacy_mode(doctor: Doctor) -> None:
    _config(privacy=False)
    Path(".hybridcc.toml").write_text("sensitive = true\n", encoding="utf-8")
    _, checks = doctor()
    assert checks["privacy.loc.mode"]["status"] == "ok" and ".hybridcc.toml" in checks["privacy.loc.mode"]["message"]


def test_remote_fallback_and_route_are_named(doctor: Doctor) -> None:
    _config(profile_extra='fallback = ["far/big"]\nroutes = [{when = "background", use = "far/small"}]')
    code, checks = doctor()
    c = checks["privacy.loc.providers"]
    assert (
        code == 1 and c["status"] == "fail" and "far (api.example.com)" in c["message"] and "local = true" in c["fix"]
    )
    _config(profile_extra='fallback = ["far/big"]', extra="")
    write_config(Path(os.environ["HYBRIDCC_HOME"], "config.toml").read_text().replace(
        'base_url = "https://api.example.com/v1"', 'base_url = "https://api.example.com/v1"\nlocal = true'))  # fmt: skip
    _, checks = doctor()
    assert checks["privacy.loc.providers"]["status"] == "ok"


def test_remote_main_provider_cannot_start_a_local_session(doctor: Doctor) -> None:
    _config(extra='[profiles.cloud]\nprovider = "far"\nmodel = "x"\nprivacy = "local"')
    code, checks = doctor("-P", "cloud")
    assert code == 1
    assert checks["privacy.cloud.providers"]["status"] == "fail"
    assert (
        checks["privacy.cloud.session"]["status"] == "fail"
        and "not local" in checks["privacy.cloud.session"]["message"]
    )


def test_probe_without_strace_says_how_to_install_it(
    doctor: Doctor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # the stand-in claude, no strace
    _, checks = doctor("--probe")
    c = checks["privacy.loc.egress"]
    assert c["status"] == "warn" and "strace" in c["message"] and "apt-get install strace" in c["fix"]


def _ok(r: RecordedRequest) -> Reply:
    return openai_text_stream(["OK"]) if (r.json() or {}).get("stream") else openai_json("OK")


def test_probe_records_a_clean_local_session(doctor: Doctor, monkeypatch: pytest.MonkeyPatch) -> None:
    require_tool("strace")
    with FakeUpstream(_ok) as up:
        _config(up.url)
        monkeypatch.setenv("STANDIN_MODE", "request")  # the stand-in sends one message through the proxy
        _, checks = doctor("--probe")
        assert any(r.method == "POST" for r in up.requests)  # the recorded session did talk to the model
    c = checks["privacy.loc.egress"]
    assert c["status"] == "ok" and "0 connection attempts" in c["message"], c


def test_probe_reports_what_the_session_contacted(doctor: Doctor, tmp_path: Path) -> None:
    require_tool("strace")
    # A `claude` that looks a name up on a loopback resolver port: counted, and nothing leaves.
    write_script(
        tmp_path / "bin" / "claude",
        f"""exec "{sys.executable}" -c "
import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('127.0.0.1', 53))"
""",
    )
    with FakeUpstream(_ok) as up:
        _config(up.url)
        code, checks = doctor("--probe")
    c = checks["privacy.loc.egress"]
    assert code == 1 and c["status"] == "fail" and "127.0.0.1:53" in c["message"], c
