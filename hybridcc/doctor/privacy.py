"""`doctor --privacy`: is this profile's session really local-only, and does it contact anything?

Static checks read what `run` would do (the same ``runner.prepare``, ``envplan`` and ``routing``
code, never a copy of their lists); the live check (``--privacy --probe``) runs a tiny
local-only session under ``strace -f`` and reports every connection attempt of the whole process
tree to anything but loopback (issue 18). The strace recorder and its log parser live here so the
end-to-end proof (tests/e2e/test_privacy_e2e.py) and the doctor judge a log the same way.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hybridcc.config.schema import Config, Profile
from hybridcc.doctor.model import Check, Context

AREA: Final = "privacy"
# Every syscall that can open or address a network conversation (sendmmsg: glibc's resolver).
TRACED_CALLS: Final = ("connect", "sendto", "sendmsg", "sendmmsg")
# Local sockets that resolve names for the caller: a query there is a DNS lookup by proxy.
RESOLVER_SOCKETS: Final = (
    "/var/run/nscd/socket",
    "/run/nscd/socket",
    "/run/systemd/resolve/io.systemd.Resolve",
    "/run/systemd/resolve/io.systemd.Resolve.Monitor",
)
DNS_PORT: Final = 53
PROBE_TIMEOUT: Final = 180.0  # a cold local model may take a while to answer its first prompt
PROBE_PROMPT: Final = "Reply with the single word OK."
STRACE_HINT: Final = "install strace (Debian/Ubuntu: `sudo apt-get install strace`; Fedora: `sudo dnf install strace`)"

_LINE = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(\w+)\(")
_SOCKADDR = re.compile(r"\{sa_family=(AF_\w+)([^{}]*)\}")
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")
_V4 = re.compile(r'sin_addr=inet_addr\("([^"]+)"\)')
_V6 = re.compile(r'inet_pton\(AF_INET6,\s*"([^"]+)"')
_UNIX = re.compile(r'sun_path=(@?"[^"]*")')
_RESULT = re.compile(r"\)\s+=\s+(.+)$")
_RESUMED = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+<\.\.\. (\w+) resumed>")


@dataclass(frozen=True)
class Attempt:
    """One syscall that tried to reach something off this machine (or a name resolver)."""

    pid: int
    call: str
    family: str
    address: str  # "10.0.0.1:53", "[2001:db8::1]:443", or a unix socket path
    result: str  # what the call returned ("0", "-1 ENETUNREACH (Network is unreachable)")

    def __str__(self) -> str:
        return f"pid {self.pid} {self.call} {self.family} {self.address}" + (f" = {self.result}" if self.result else "")


def strace_argv(strace: str, log: Path, argv: Sequence[str]) -> list[str]:
    """``argv`` under strace, following every child, recording only the network calls to ``log``.

    ``--seccomp-bpf`` stops the tracee only on those calls, so the session runs at nearly full speed.
    """
    return [strace, "-f", "--seccomp-bpf", "-qq", "-e", f"trace={','.join(TRACED_CALLS)}", "-e", "signal=none",
            "-o", str(log), "--", *argv]  # fmt: skip


def _is_local_ip(text: str) -> bool:
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False  # unparsable: count it, never hide it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified  # Linux delivers 0.0.0.0 / :: to this host


def _attempt(pid: int, call: str, family: str, body: str, result: str) -> Attempt | None:
    if family in ("AF_INET", "AF_INET6"):
        port_m = _PORT.search(body)
        addr_m = (_V4 if family == "AF_INET" else _V6).search(body)
        port = int(port_m.group(1)) if port_m else -1
        addr = addr_m.group(1) if addr_m else "?"
        if addr_m and _is_local_ip(addr) and port != DNS_PORT:
            return None
        shown = f"[{addr}]:{port}" if family == "AF_INET6" else f"{addr}:{port}"
        return Attempt(pid, call, family, shown, result)
    if family == "AF_UNIX":
        m = _UNIX.search(body)
        path = m.group(1).strip('"') if m else ""
        # glibc tries nscd for every passwd/group lookup too; a connect that failed (no daemon)
        # handed no name to anyone, so only a reached resolver counts.
        if path in RESOLVER_SOCKETS and not result.startswith(("-1 ENOENT", "-1 ECONNREFUSED")):
            return Attempt(pid, call, family, path, result)
    return None  # AF_UNSPEC (a UDP socket disconnecting), netlink (interface lists): not egress


def egress_attempts(log: str) -> list[Attempt]:
    """Every attempt in an ``strace -f`` log (:func:`strace_argv`) to reach a non-loopback address,
    anything on port 53 (DNS, even a loopback resolver), or a running name-resolver daemon's socket."""
    found: list[Attempt] = []
    pending: dict[int, tuple[str, str]] = {}  # pid → (call, its line) until "<... call resumed>"
    for line in log.splitlines():
        resumed = _RESUMED.match(line)
        if resumed:
            pid = int(resumed.group(1))
            call, head = pending.pop(pid, (resumed.group(2), ""))
            if head:
                found += _attempts_in(pid, call, head, _result(line))
            continue
        m = _LINE.match(line)
        if not m or m.group(2) not in TRACED_CALLS:
            continue
        pid, call = int(m.group(1)), m.group(2)
        if line.rstrip().endswith("<unfinished ...>"):
            pending[pid] = (call, line)  # another thread's call came first; the result follows later
            continue
        found += _attempts_in(pid, call, line, _result(line))
    for pid, (call, head) in pending.items():  # killed mid-call: still an attempt
        found += _attempts_in(pid, call, head, "")
    return found


def _result(line: str) -> str:
    m = _RESULT.search(line)
    return m.group(1).strip() if m else ""


def _attempts_in(pid: int, call: str, line: str, result: str) -> list[Attempt]:
    addrs = _SOCKADDR.findall(line)
    if not addrs and "AF_INET" in line:
        return [Attempt(pid, call, "AF_INET?", "unparsed: " + line[:160], result)]  # never hide one
    hits = (_attempt(pid, call, family, body, result) for family, body in addrs)
    return [h for h in hits if h is not None]


@dataclass(frozen=True)
class Recording:
    code: int | None  # None: killed after the timeout
    attempts: list[Attempt]
    processes: int  # distinct pids seen making a traced call
    stdout: str
    stderr: str


def record(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float, strace: str | None = None
) -> Recording:
    """Run ``argv`` under strace (:func:`strace_argv`) and return its egress attempts."""
    import os
    import signal

    exe = strace or shutil.which("strace")
    if exe is None:
        from hybridcc.errors import NotFoundError

        raise NotFoundError("strace is not installed", hint=STRACE_HINT)
    with tempfile.TemporaryDirectory(prefix="hybridcc-strace-") as folder:
        log = Path(folder) / "strace.log"
        proc = subprocess.Popen(strace_argv(exe, log, argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
        try:
            out, err = proc.communicate(timeout=timeout)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # strace's own group: it, and what it started
            out, err = proc.communicate()
            code = None
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return recording_of(text, code=code, stdout=out, stderr=err)


def recording_of(log: str, *, code: int | None, stdout: str = "", stderr: str = "") -> Recording:
    """A finished strace log (:func:`strace_argv`) judged: its attempts and how many processes it saw."""
    pids = {int(m.group(1)) for m in map(_LINE.match, log.splitlines()) if m}
    return Recording(code, egress_attempts(log), len(pids), stdout, stderr)


# --- the checks ---------------------------------------------------------------------------------


def check_privacy(ctx: Context) -> Iterator[Check]:
    """The privacy area of `doctor --privacy` (with ``--probe``: a recorded live session too)."""
    config = ctx.config
    if config is None:
        return
    for profile in ctx.profiles:
        yield from _profile_checks(config, profile, probe=ctx.probe)


def _profile_checks(config: Config, profile: Profile, *, probe: bool) -> Iterator[Check]:
    from hybridcc.errors import HybridccError
    from hybridcc.policy import project_sensitive
    from hybridcc.run_args import RunOptions
    from hybridcc.runner import prepare

    name = profile.name
    marker = project_sensitive(Path.cwd())
    if profile.privacy == "local":
        yield Check(f"privacy.{name}.mode", AREA, "ok", f'profile {name}: privacy = "local"')
    elif marker is not None:
        yield Check(f"privacy.{name}.mode", AREA, "ok", f"{marker} marks this project sensitive")
    else:
        yield Check(f"privacy.{name}.mode", AREA, "fail", f"profile {name} is not in privacy mode",
                    f'set privacy = "local" in [profiles.{name}], or run `hybridcc run --local-only`, '
                    f"or put `sensitive = true` in {Path.cwd() / '.hybridcc.toml'}")  # fmt: skip
    yield _routes_check(config, profile)
    try:
        # Exactly what `run --local-only` would hand `claude` (the token is a placeholder: never used).
        prepared = prepare(config, RunOptions(provider=name, sensitive=True), port=None, token="doctor-placeholder")  # noqa: S106 - never sent
    except HybridccError as exc:
        yield Check(f"privacy.{name}.session", AREA, "fail", f"a local-only session cannot start: {exc.message}",
                    exc.hint or "")  # fmt: skip
        return
    settings = prepared.settings or {}
    yield _switches_check(name, settings.get("env") or {}, prepared.plan.base_url)
    yield _tools_check(name, settings)
    if probe:
        yield _probe_check(name)


def _routes_check(config: Config, profile: Profile) -> Check:
    from urllib.parse import urlsplit

    from hybridcc.proxy.routing import chain, is_local, target

    routes = chain(config, profile, profile.model)
    routes += [target(config, profile, rule.use, profile.model) for rule in profile.routes]
    remote = [r for r in routes if not is_local(r)]
    cid = f"privacy.{profile.name}.providers"
    if remote:
        names = ", ".join(sorted({f"{r.provider.name} ({urlsplit(r.base_url).hostname})" for r in remote}))
        return Check(cid, AREA, "fail", f"not local, refused in a local-only session: {names}",
                     f"drop them from [profiles.{profile.name}] (provider, fallback, routes), or if the host is "
                     f"yours: [providers.{remote[0].provider.name}] local = true")  # fmt: skip
    used = ", ".join(dict.fromkeys(r.provider.name for r in routes))
    return Check(cid, AREA, "ok", f"every provider this profile can route to is local: {used}")


def _switches_check(name: str, env: Mapping[str, str], base_url: str | None) -> Check:
    from hybridcc.envplan import PRIVACY_SWITCHES
    from hybridcc.policy import LOCAL_SUFFIX

    cid = f"privacy.{name}.switches"
    missing = [k for k, v in PRIVACY_SWITCHES.items() if env.get(k) != v]
    overridden = _managed_overrides()
    if missing:
        return Check(cid, AREA, "fail", f"the session would not set: {', '.join(missing)}",
                     "report this: hybridcc's local-only plan is incomplete")  # fmt: skip
    if not (base_url or "").endswith(LOCAL_SUFFIX):
        return Check(cid, AREA, "fail", "the session's base URL does not carry the local-only marker",
                     "report this: the proxy would not refuse non-local routes")  # fmt: skip
    if overridden:
        return Check(cid, AREA, "fail", f"managed settings override: {', '.join(overridden)}",
                     "managed settings outrank hybridcc's: ask their administrator to drop those keys")  # fmt: skip
    return Check(cid, AREA, "ok", f"Claude Code's own traffic is off ({len(PRIVACY_SWITCHES)} switches); "
                 "the proxy refuses any non-local route")  # fmt: skip


def _managed_overrides() -> list[str]:
    """Privacy switches a managed (policy) settings file sets otherwise: those outrank ``--settings``."""
    import json

    from hybridcc.envplan import PRIVACY_SWITCHES

    path = Path("/etc/claude-code/managed-settings.json")  # Claude Code's managed-settings path on Linux
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    block = data.get("env") if isinstance(data, dict) else None
    if not isinstance(block, dict):
        return []
    return [f"{path}: env.{k}" for k, v in block.items() if k in PRIVACY_SWITCHES and str(v) != PRIVACY_SWITCHES[k]]


def _tools_check(name: str, settings: Mapping[str, object]) -> Check:
    from hybridcc.envplan import PRIVACY_DENIED_TOOLS

    perms = settings.get("permissions")
    deny = perms.get("deny", []) if isinstance(perms, dict) else []
    missing = [t for t in PRIVACY_DENIED_TOOLS if t not in deny]
    cid = f"privacy.{name}.tools"
    if missing:
        return Check(cid, AREA, "fail", f"not denied in the session: {', '.join(missing)}",
                     "report this: a local-only session must deny the tools that reach the internet")  # fmt: skip
    return Check(
        cid, AREA, "ok", f"denied in the session (deny outranks any allow rule): {', '.join(PRIVACY_DENIED_TOOLS)}"
    )


def _probe_check(name: str) -> Check:
    """A tiny `run --local-only -p` session under strace: every non-loopback attempt is listed."""
    import os
    import platform

    cid = f"privacy.{name}.egress"
    if platform.system() != "Linux":
        return Check(cid, AREA, "warn", "the egress recording needs Linux (strace)", "run it on a Linux machine")
    strace = shutil.which("strace")
    if strace is None:
        return Check(cid, AREA, "warn", "strace is not installed: the live session was not recorded", STRACE_HINT)
    argv = [sys.executable, "-m", "hybridcc", "run", "--local-only", "--provider", name, "--",
            "-p", PROBE_PROMPT, "--max-turns", "3", "--output-format", "json"]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="hybridcc-privacy-") as cwd:  # no project file of the user's
        rec = record(argv, env=os.environ, cwd=Path(cwd), timeout=PROBE_TIMEOUT, strace=strace)
    if rec.attempts:
        shown = "; ".join(str(a) for a in rec.attempts[:5]) + (" …" if len(rec.attempts) > 5 else "")
        return Check(cid, AREA, "fail", f"{len(rec.attempts)} attempts to leave the machine: {shown}",
                     "report this with the addresses above (and `hybridcc --debug doctor --privacy --probe`)")  # fmt: skip
    if rec.code != 0:
        why = "timed out" if rec.code is None else f"exit code {rec.code}"
        return Check(cid, AREA, "warn", f"0 attempts to leave the machine, but the session failed ({why}): "
                     f"{_session_error(rec)}",
                     f"run `hybridcc run --local-only -P {name} -- -p hi` to see why")  # fmt: skip
    return Check(cid, AREA, "ok", f"recorded a live session ({rec.processes} processes): "
                 "0 connection attempts to anything but loopback")  # fmt: skip


def _session_error(rec: Recording) -> str:
    """Claude Code's own word on a failed probe session (its JSON result), else stderr's first line."""
    import json

    try:
        result = json.loads(rec.stdout.strip().splitlines()[-1])
        return f"{result.get('subtype', '')} {str(result.get('result') or '')[:160]}".strip()
    except (ValueError, IndexError, AttributeError):
        return (rec.stderr.strip().splitlines() or ["no output"])[0][:200]
