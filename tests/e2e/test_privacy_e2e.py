"""Proof of no egress (issue 18): the real `claude` in a local-only session contacts nothing but loopback.

Each session runs a Bash tool round trip against a fake model on 127.0.0.1 — once with
``claude -p``, once interactively in a pseudo-terminal (where Claude Code also starts its
background work: plugin marketplace, update checks) — under ``strace -f`` (the recorder of
``hybridcc doctor --privacy --probe``), which logs every connect/sendto/sendmsg/sendmmsg of the
whole process tree: hybridcc, its proxy, `claude` and the commands it runs. Anything addressed off
loopback, anything on port 53 and a reached name-service socket counts.

Every session runs in a network namespace whose only interface is loopback (``unshare -n``, root),
where the resolver of /etc/resolv.conf is played by a recorder that logs each name asked for and
answers "no such name": nothing can leave even if the recorder missed a call or privacy mode
regressed, and the run without privacy mode (which does try to reach the internet) sends nothing
out. The fake model and the session run in a driver (this module run as a script) inside the
namespace, because a server in the pytest process would be unreachable from it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hybridcc.doctor.privacy import Recording
from tests.e2e.conftest import session_env
from tests.fakes.upstream import FakeUpstream
from tests.helpers import IN_CI, require_tool

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
PROMPT = "Run the marker command with Bash."
TIMEOUT = 240.0


@functools.cache
def netns_works() -> bool:
    """``unshare -n`` (a fresh network namespace) is allowed here: root, or a permissive sandbox."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    done = subprocess.run([unshare, "-n", "--", "true"], capture_output=True, timeout=30, check=False)
    return done.returncode == 0


def _drive(mode: str, claude: str, home: Path, tmp_path: Path, *, netns: bool) -> dict[str, Any]:
    """One session (``mode``: "local-only", "local-only-interactive" or "plain") in the driver."""
    strace = require_tool("strace")
    out = tmp_path / f"{mode}.json"
    spec = {"mode": mode, "claude": claude, "strace": strace, "netns": netns, "out": str(out)}
    spec_file = tmp_path / f"{mode}-spec.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    env = session_env(claude, home)
    # The proof is about what hybridcc sets: the test's own environment switches nothing off.
    env.pop("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", None)
    env["PYTHONPATH"] = str(REPO)
    argv = [sys.executable, "-m", "tests.e2e.test_privacy_e2e", str(spec_file)]
    if netns:
        argv = [shutil.which("unshare") or "unshare", "-n", "--", *argv]
    workdir = tmp_path / f"work-{mode}"
    workdir.mkdir()
    done = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True, timeout=TIMEOUT + 60, check=False)
    assert done.returncode == 0, f"driver failed ({done.returncode}): {done.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


def _describe(report: dict[str, Any]) -> str:
    from collections import Counter

    lines = [f"{n} × {a}" for a, n in Counter(report["attempts"]).items()]
    names = ", ".join(report["dns_names"]) or "none"
    return "\n  ".join([f"{len(report['attempts'])} attempts:", *lines, f"names looked up: {names}"])


def _assert_round_trip(report: dict[str, Any]) -> None:
    assert report["tool_results"] >= 1, report["screen"][-2000:]  # the Bash tool's output went back to the model
    if report["mode"].endswith("interactive"):
        assert report["answered"], report["screen"][-2000:]
        return
    assert report["code"] == 0, f"session failed ({report['code']}): {report['stderr'][-2000:]}"
    results = [e for e in report["events"] if e.get("type") == "result"]
    assert results and results[-1]["result"] == "The command printed: hybridcc-e2e-42", report["stdout"][-2000:]


@pytest.fixture
def netns() -> bool:
    if not netns_works():
        # Without the namespace a session that (wrongly) reaches out would really contact the internet.
        msg = "needs `unshare -n` (root): the sessions run in a loopback-only network namespace"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return True


@pytest.mark.parametrize("kind", ["print", "interactive"])
def test_local_only_session_contacts_nothing_but_loopback(
    kind: str, netns: bool, claude_exe: str, isolated_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``claude -p`` and an interactive session through `hybridcc run --local-only`."""
    mode = "local-only" if kind == "print" else "local-only-interactive"
    report = _drive(mode, claude_exe, isolated_env, tmp_path, netns=netns)
    _assert_round_trip(report)
    with capsys.disabled():
        print(f"\n{mode} session ({report['processes']} processes traced): {_describe(report)}")
    # hybridcc, its proxy and claude all made (loopback) calls: the whole tree was recorded.
    assert report["processes"] >= 3, report["attempts"]
    assert report["attempts"] == [], _describe(report)


def test_without_privacy_mode_claude_tries_to_reach_out(
    netns: bool, claude_exe: str, isolated_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The recorder works: plain `claude` on the same proxy and model does try to leave the machine."""
    report = _drive("plain", claude_exe, isolated_env, tmp_path, netns=netns)
    _assert_round_trip(report)
    with capsys.disabled():
        print(f"\nwithout privacy mode ({report['processes']} processes traced): {_describe(report)}")
    assert report["attempts"], "plain claude made no attempt at all: is the recorder blind?"
    assert report["dns_names"], "the DNS recorder heard nothing: is the namespace's resolver address on lo?"


# --- the driver (runs inside the namespace) ---------------------------------------------------


def _loopback_up() -> None:
    """``ip link set lo up`` without needing iproute2: a new namespace starts with lo down."""
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up, size = 0x8913, 0x8914, 0x1, 40  # struct ifreq is 40 bytes
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh", b"lo", 0).ljust(size, b"\0")
        flags = struct.unpack_from("16sh", fcntl.ioctl(s, siocgifflags, req))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up).ljust(size, b"\0"))


class DnsRecorder:
    """The resolver of /etc/resolv.conf, played inside the namespace: its address is put on lo,
    each query's name is recorded and answered NXDOMAIN, so the log shows *what* was looked up."""

    def __init__(self) -> None:
        import re
        import socket
        import threading

        self.names: list[str] = []
        self.sockets: list[socket.socket] = []
        text = Path("/etc/resolv.conf").read_text(encoding="utf-8") if Path("/etc/resolv.conf").exists() else ""
        ip = shutil.which("ip")
        for server in re.findall(r"^nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$", text, re.M):
            if not server.startswith("127.") and ip:
                subprocess.run([ip, "addr", "add", f"{server}/32", "dev", "lo"], check=False, capture_output=True)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((server, 53))
            except OSError:
                sock.close()
                continue
            self.sockets.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: Any) -> None:
        while True:
            try:
                data, peer = sock.recvfrom(4096)
            except OSError:
                return
            labels, i = [], 12
            while i < len(data) and data[i]:
                labels.append(data[i + 1 : i + 1 + data[i]].decode("ascii", "replace"))
                i += 1 + data[i]
            self.names.append(".".join(labels))
            question = data[12 : i + 5]  # the name, its terminator, QTYPE and QCLASS
            sock.sendto(data[:2] + b"\x81\x83\x00\x01\x00\x00\x00\x00\x00\x00" + question, peer)  # NXDOMAIN


def _interactive(argv: list[str], *, cwd: Path, strace: str, up: FakeUpstream) -> Recording:
    """`hybridcc run` in a pseudo-terminal under strace: wait for the prompt, type the task, wait
    for the tool round trip and the answer, then Ctrl-C twice (Claude Code's way out)."""
    import pty
    import select
    import signal
    import tempfile
    import time

    from hybridcc.doctor.privacy import recording_of, strace_argv

    # A finished first run (theme picked, folder trusted): otherwise the first screen is a dialog.
    trust = {"hasCompletedOnboarding": True, "theme": "dark",
             "projects": {str(cwd): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}}}  # fmt: skip
    (Path(os.environ["HOME"]) / ".claude.json").write_text(json.dumps(trust), encoding="utf-8")
    screen = bytearray()
    status: list[int] = []
    with tempfile.TemporaryDirectory(prefix="privacy-e2e-") as folder:
        log = Path(folder) / "strace.log"
        pid, fd = pty.fork()
        if pid == 0:  # the child: strace, in the terminal's foreground
            os.chdir(cwd)
            try:
                os.execv(strace, strace_argv(strace, log, argv))  # noqa: S606 - argv, no shell
            finally:
                os._exit(127)  # never run the rest of pytest's driver in the child

        def exited() -> bool:
            if not status:
                done, code = os.waitpid(pid, os.WNOHANG)
                if done:
                    status.append(os.waitstatus_to_exitcode(code))
            return bool(status)

        closed: list[bool] = []

        def until(condition: Any, what: str, timeout: float = 90.0) -> None:
            deadline = time.monotonic() + timeout
            while not condition():
                if time.monotonic() > deadline or (closed and exited()):
                    raise TimeoutError(f"screen tail: {bytes(screen[-1000:])!r}\ngave up waiting for {what}")
                if closed:
                    time.sleep(0.05)  # the terminal is gone: poll for the exit status
                elif select.select([fd], [], [], 0.2)[0]:
                    try:
                        screen.extend(os.read(fd, 65536))
                    except OSError:  # EIO: every process let go of the terminal
                        closed.append(True)

        def answered() -> bool:
            tools = [
                r for r in up.requests if any(m.get("role") == "tool" for m in (r.json() or {}).get("messages", []))
            ]
            return bool(tools) and up.completed >= len([r for r in up.requests if r.method == "POST"])

        try:
            until(lambda: "❯".encode() in screen or b"? for shortcuts" in screen, "the input prompt")
            mark = len(screen)
            os.write(fd, PROMPT.encode())
            until(lambda: b"Bash." in screen[mark:], "the typed task on screen")
            os.write(fd, b"\r")
            until(answered, "the tool round trip")  # the screen redraws by difference: not greppable
            for _ in range(6):  # the first Ctrl-C shows "Press Ctrl-C again to exit" for a moment
                if exited():
                    break
                seen = len(screen)
                os.write(fd, b"\x03")
                with contextlib.suppress(TimeoutError):
                    until(lambda seen=seen: exited() or b"Ctrl-C" in screen[seen:], "the exit hint", timeout=3)
            until(exited, "the session to end", timeout=60)
        finally:
            if not exited():
                os.killpg(pid, signal.SIGKILL)  # the terminal's process group: strace and what it started
                status.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
            os.close(fd)
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return recording_of(text, code=status[0], stdout=screen.decode("utf-8", "replace"))


def _session(spec: dict[str, Any], cwd: Path, up: FakeUpstream) -> Recording:
    from hybridcc.doctor.privacy import record
    from tests.e2e.test_claude_e2e import STREAM_ARGS

    claude = spec["claude"]
    hybridcc = [sys.executable, "-m", "hybridcc"]
    local = [*hybridcc, "run", "--local-only", "--provider", "fake-openai", "--claude-path", claude, "--"]
    if spec["mode"] == "local-only":
        return record([*local, "-p", PROMPT, *STREAM_ARGS], env=os.environ, cwd=cwd, timeout=TIMEOUT,
                      strace=spec["strace"])  # fmt: skip
    if spec["mode"] == "local-only-interactive":
        return _interactive([*local, "--allowedTools", "Bash"], cwd=cwd, strace=spec["strace"], up=up)
    # "plain": claude pointed at the same proxy with hybridcc's routing, but no privacy switches.
    from hybridcc.config import load_config
    from hybridcc.envplan import PRIVACY_SWITCHES, apply, plan
    from hybridcc.proxy_token import ensure_token
    from hybridcc.services.state import read_state

    subprocess.run([*hybridcc, "proxy", "start"], check=True, capture_output=True, timeout=60)
    try:
        state = read_state("proxy")
        assert state is not None
        config = load_config()
        env = plan(config, config.profiles["fake-openai"], token=ensure_token(), port=state.port).env
        env.update(dict.fromkeys(PRIVACY_SWITCHES))  # None removes them
        return record([claude, "-p", PROMPT, *STREAM_ARGS], env=apply(env), cwd=cwd, timeout=TIMEOUT,
                      strace=spec["strace"])  # fmt: skip
    finally:
        subprocess.run([*hybridcc, "proxy", "stop"], check=False, capture_output=True, timeout=60)


def _main(spec_file: str) -> None:
    from tests.e2e.conftest import e2e_config
    from tests.e2e.test_claude_e2e import _openai_agent

    spec = json.loads(Path(spec_file).read_text(encoding="utf-8"))
    dns = None
    if spec["netns"]:
        _loopback_up()
        dns = DnsRecorder()
    with FakeUpstream(_openai_agent) as up:
        e2e_config(openai_url=up.url)
        rec = _session(spec, Path.cwd(), up)
        tool_results = sum(
            1 for r in up.requests for m in (r.json() or {}).get("messages", []) if m.get("role") == "tool"
        )
        # The model's last reply (after the tool result) went out whole.
        answered = tool_results > 0 and up.completed >= sum(r.method == "POST" for r in up.requests)
    events = []
    for line in rec.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    report = {"mode": spec["mode"], "code": rec.code, "screen": rec.stdout if "interactive" in spec["mode"] else "",
              "answered": answered, "attempts": [str(a) for a in rec.attempts], "processes": rec.processes,
              "stdout": rec.stdout, "stderr": rec.stderr, "events": events, "tool_results": tool_results,
              "dns_names": sorted(set(dns.names)) if dns else []}  # fmt: skip
    Path(spec["out"]).write_text(json.dumps(report), encoding="utf-8")


if __name__ == "__main__":
    _main(sys.argv[1])
