"""`hybridcc run`: prepare services, launch `claude` as a foreground child, clean up after it.

Everything here works without the CLI: :func:`run` is the keyword-only entry point, and the
pieces (settings merging, the settings file, the child loop) are separate for the tests.
The profile is resolved once and :func:`prepare` is shared by `run` and `run --dry-run`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridcc import paths
from hybridcc.claude import ClaudeExe, find_claude
from hybridcc.config.schema import Config, Profile
from hybridcc.envplan import ROUTING_VARS, EnvMap, LaunchPlan, apply, masked, settings_json
from hybridcc.errors import HybridccError
from hybridcc.run_args import RunOptions

Report = Callable[[str], None]


def merge_settings(claude_args: list[str], env: EnvMap) -> tuple[dict[str, Any], list[str]]:
    """Our env goes in the session's settings so no settings file's ``env`` block can override it.

    A ``--settings`` the user passed (JSON text or a file) is merged, not duplicated: their keys
    are kept, and our routing variables win inside ``env``. Returns (settings, other args).
    """
    ours = json.loads(settings_json(env))
    out: list[str] = []
    user_settings: dict[str, Any] | None = None
    i = 0
    while i < len(claude_args):
        word = claude_args[i]
        if word == "--settings" and i + 1 < len(claude_args):
            user_settings = _load_settings(claude_args[i + 1])
            i += 2
            continue
        if word.startswith("--settings="):
            user_settings = _load_settings(word.split("=", 1)[1])
            i += 1
            continue
        out.append(word)
        i += 1
    merged = dict(user_settings or {})
    merged["env"] = {**(merged.get("env") or {}), **ours["env"]}
    return merged, out


@contextlib.contextmanager
def settings_file(settings: dict[str, Any]) -> Iterator[Path]:
    """The session's settings in a 0600 file in the state directory, for ``--settings FILE``.

    It holds the proxy token, which must not be on `claude`'s command line (/proc/PID/cmdline is
    world-readable, issue 11 item 2). Named after our pid; removed when the session ends, and a
    file whose hybridcc died (kill -9) is removed by the next `run`.
    """
    import psutil

    from hybridcc.fsutil import atomic_write

    folder = paths.state_dir() / "sessions"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for old in folder.glob("settings-*.json"):
        pid = old.stem.removeprefix("settings-")
        if not (pid.isdigit() and psutil.pid_exists(int(pid))):
            with contextlib.suppress(OSError):
                old.unlink()
    path = folder / f"settings-{os.getpid()}.json"
    atomic_write(path, json.dumps(settings, separators=(",", ":")), mode=0o600)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def _load_settings(value: str) -> dict[str, Any]:
    from hybridcc.errors import UsageError  # a bad --settings is a usage error: exit 2 (issue 12 item 8)

    text = value
    if not value.lstrip().startswith("{"):
        try:
            text = Path(value).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--settings {value}: cannot read it ({exc.strerror})") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--settings {value[:60]}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise UsageError("--settings must be a JSON object")
    return data


def settings_conflicts(env: EnvMap, cwd: Path) -> list[str]:
    """Settings files whose ``env`` block sets a variable we route with (a plain `claude` would obey
    them). The one implementation: doctor calls it too (issue 10, "each fact once")."""
    found: list[str] = []
    for path in paths.claude_settings_files(cwd):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        block = data.get("env") if isinstance(data, dict) else None
        if not isinstance(block, dict):
            continue
        for key, value in block.items():
            if (key in ROUTING_VARS or key.startswith("CLAUDE_CODE_USE_")) and env.get(key) != value:
                found.append(f"{path}: env.{key}")
    return found


# --- the child --------------------------------------------------------------------------------


def exit_code_of(returncode: int) -> int:
    """A child killed by signal N exits 128+N, as a shell reports it."""
    return 128 - returncode if returncode < 0 else returncode


def run_child(argv: Sequence[str], env: dict[str, str], *, on_tick: Callable[[], None] | None = None) -> int:
    """Run ``argv`` in the foreground of this terminal and wait for it.

    The child shares our process group, so Ctrl-C at the terminal reaches it directly; we ignore
    SIGINT meanwhile. SIGTERM and SIGHUP sent to us are recorded by the handler and forwarded by
    the wait loop. Previous handlers are restored afterwards.
    """
    pending: list[int] = []

    def record(signum: int, _frame: object) -> None:
        pending.append(signum)

    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
        signal.SIGTERM: signal.signal(signal.SIGTERM, record),
        signal.SIGHUP: signal.signal(signal.SIGHUP, record),
    }
    try:
        child = subprocess.Popen(list(argv), env=env)
        while True:
            try:
                code = child.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                pass
            while pending:
                sig = pending.pop(0)
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(sig)
            if on_tick is not None:
                on_tick()
        return exit_code_of(code)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def last_session_id(cwd: Path, since: float) -> str | None:
    """The id of the session `claude` just wrote in ``cwd`` (its newest transcript), if any.

    Claude Code prints ``claude --resume <id>`` on exit, which fails outside hybridcc ("Not
    logged in"); hybridcc prints its own equivalent (issue 12 item 4).
    """
    folder = paths.claude_projects_dir() / str(cwd.resolve()).replace("/", "-").replace(".", "-")
    try:
        newest = max(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    except (OSError, ValueError):
        return None
    return newest.stem if newest.stat().st_mtime >= since else None


# --- prefill progress in -p mode (issue 17) -------------------------------------------------------

_SESSION_FLAGS = ("--session-id", "--resume", "-r", "--continue", "-c", "--fork-session", "--from-pr")
PREFILL_EVERY = 10.0  # seconds between two progress lines on stderr
_POLL_EVERY = 1.0  # seconds between two questions to the proxy (the child loop ticks every 0.1 s)


def print_session(args: list[str]) -> tuple[list[str], str | None]:
    """In ``-p`` mode, the session id the proxy will see (``--session-id``, added when the
    arguments name no session of their own); ``(args, None)`` otherwise (the TUI has its status line)."""
    import uuid

    words = args[: args.index("--")] if "--" in args else args
    if not any(w in ("-p", "--print") for w in words):
        return args, None
    for i, word in enumerate(words):
        if word == "--session-id" and i + 1 < len(words):
            return args, words[i + 1]
        if word.startswith("--session-id="):
            return args, word.split("=", 1)[1]
        if word in _SESSION_FLAGS or word.startswith(tuple(f + "=" for f in _SESSION_FLAGS)):
            return args, None  # resuming: the id is Claude Code's to choose
    session = str(uuid.uuid4())
    return ["--session-id", session, *args], session


def prefill_ticker(env: Mapping[str, str | None], session: str, report: Report) -> Callable[[], None]:
    """``on_tick`` for :func:`run_child`: at most every :data:`PREFILL_EVERY` s, one stderr line
    while a request of ``session`` waits for the local model's first token."""
    import time

    from hybridcc.usage.statusline import WAIT_SHOWN_AFTER, fetch_progress, progress_line

    state = {"polled": 0.0, "said": 0.0}

    def tick() -> None:
        now = time.monotonic()
        if now - state["polled"] < _POLL_EVERY or now - state["said"] < PREFILL_EVERY:
            return
        state["polled"] = now
        known = {k: v for k, v in env.items() if v is not None}
        line = progress_line(fetch_progress(known, session), min_wait=WAIT_SHOWN_AFTER * 2)
        if line:
            state["said"] = now
            report(line)

    return tick


# --- the whole run ----------------------------------------------------------------------------


@dataclass
class Prepared:
    profile: Profile
    plan: LaunchPlan
    claude: ClaudeExe
    settings: dict[str, Any] | None  # None: `claude` runs untouched (direct anthropic)
    args: list[str]  # claude's arguments, without our --settings
    services: list[str]  # what was (or would be) started, for --dry-run and messages

    def argv(self, settings_path: Path | None) -> list[str]:
        head = [str(self.claude.path)]
        if self.settings is not None and settings_path is not None:
            head += ["--settings", str(settings_path)]
        return head + self.args


def prepare(config: Config, options: RunOptions, *, port: int | None, token: str) -> Prepared:
    """Resolve the profile, find claude, build the plan: shared by `run` and `run --dry-run`."""
    from hybridcc.config.load import get_profile
    from hybridcc.envplan import plan
    from hybridcc.errors import ConfigError
    from hybridcc.policy import is_local_profile, project_sensitive, select_provider

    marker = project_sensitive(Path.cwd(), config=config)
    local_only = options.sensitive or marker is not None
    name, model = options.provider, options.model
    if name is None and (local_only or options.complexity):
        name, chosen = select_provider(options.complexity or "medium", local_only, config=config)  # type: ignore[arg-type]
        model = model or chosen
    profile = get_profile(config, name)
    if local_only and not is_local_profile(config, profile):
        why = f"{marker} marks this project sensitive" if marker else "--sensitive"
        raise ConfigError(f"profile {profile.name} is not local and {why}",
                          hint="pick a local profile (-P NAME), or declare its host private: [providers.X] local = true")  # fmt: skip
    claude = find_claude(options.claude_path, config.claude_path)
    p = plan(config, profile, token=token, port=port, model=model, small_model=options.small_model,
             force_proxy=options.force_proxy or local_only, local_only=local_only)  # fmt: skip
    if not p.via_proxy:
        return Prepared(profile, p, claude, None, list(options.claude_args), [])
    settings, args = merge_settings(options.claude_args, p.env)
    if local_only or profile.privacy == "local":
        from hybridcc.envplan import PRIVACY_DENIED_TOOLS

        permissions = settings.setdefault("permissions", {})
        permissions["deny"] = list(dict.fromkeys([*permissions.get("deny", []), *PRIVACY_DENIED_TOOLS]))
    return Prepared(profile, p, claude, settings, args, [])


def run(
    *,
    config: Config,
    options: RunOptions,
    report: Report = lambda _m: None,
    pull_progress: Callable[[Any], None] | None = None,
    dry_run_out: Callable[[Prepared], None] | None = None,
) -> int:
    """Ensure services, launch `claude`, wait, release; returns `claude`'s exit code."""
    import time

    from hybridcc.providers import resolve_key
    from hybridcc.proxy_token import ensure_token

    token = ensure_token()
    if options.dry_run:
        from hybridcc.services import proxy as proxy_svc

        pst = proxy_svc.status(config)
        port = pst.state.port if pst.healthy and pst.state else None
        prepared = prepare(config, options, port=port, token=token)
        if prepared.plan.via_proxy and port is None and config.proxy.port == 0 and not options.port:
            # `port = 0`: the real port is chosen when the proxy starts; say so instead of ":0" (issue 12 item 3).
            for env in (prepared.plan.env, (prepared.settings or {}).get("env", {})):
                url = env.get("ANTHROPIC_BASE_URL")
                if url:
                    env["ANTHROPIC_BASE_URL"] = url.replace(":0/", ":<free port chosen at start>/", 1)
        if prepared.plan.via_proxy:
            prepared.services.append("proxy: running" if pst.healthy else "proxy: would start")
            if prepared.plan.provider.api == "ollama":
                from hybridcc.services import ollama as ollama_svc

                ost = ollama_svc.status(config)
                prepared.services.append("ollama: running" if ost.running else "ollama: would start")
        if dry_run_out:
            dry_run_out(prepared)
        return 0

    prepared = prepare(config, options, port=None, token=token)
    profile, provider = prepared.profile, prepared.plan.provider
    if not prepared.plan.via_proxy:
        report("anthropic profile without an API key: running claude with your own login, untouched")
        return run_child(prepared.argv(None), dict(os.environ))

    key = resolve_key(provider)  # fail fast, naming the variable, before anything starts
    if not options.no_preflight:
        from hybridcc import preflight

        if provider.api != "ollama":  # Ollama is started below and checked by its own start
            from hybridcc.errors import AuthError, ServiceError

            try:
                preflight.check(config, profile, key)
            except (ServiceError, AuthError) as exc:
                if not profile.fallback:
                    raise
                # The proxy moves this session's requests to the fallback chain: start anyway.
                report(f"note: {exc.message}; requests go to the fallback ({', '.join(profile.fallback)})")

    from hybridcc import engines

    if engines.bypasses_proxy(provider):  # claude-code-router, or an external URL with direct = true (issue 18)
        with engines.session(config, profile, model=options.model, small_model=options.small_model,
                             report=report) as env:  # fmt: skip
            settings, args = merge_settings(options.claude_args, env)
            if prepared.settings and prepared.settings.get("permissions"):
                settings["permissions"] = prepared.settings["permissions"]  # privacy mode's denied tools
            with settings_file(settings) as path:
                return run_child([str(prepared.claude.path), "--settings", str(path), *args], apply(env))

    from hybridcc.services import leases
    from hybridcc.services import ollama as ollama_svc
    from hybridcc.services import proxy as proxy_svc
    from hybridcc.services.watchdog import ProxyWatchdog

    held: list[leases.Lease] = []
    watchdog: ProxyWatchdog | None = None
    started = time.time()
    try:
        if provider.api == "ollama":
            ollama_state, _ = ollama_svc.start(config, owner="session")
            held.append(leases.take("ollama"))
            warning = ollama_svc.context_warning(config, ollama_state)
            if warning:
                report(warning)
            models = {options.model or profile.model, options.small_model or profile.small}
            for m in sorted(models):
                ollama_svc.ensure_model(config, m, force=options.force_model, progress=pull_progress)
        state, what = proxy_svc.start(config, port=int(options.port) if options.port else None, owner="session")
        held.append(leases.take("proxy"))
        if what != "already running":
            report(f"proxy {what} on port {state.port}")
        prepared = prepare(config, options, port=state.port, token=token)
        conflicts = settings_conflicts(prepared.plan.env, Path.cwd())
        if conflicts:
            report(f"note: overridden for this session (hybridcc passes its own settings): {', '.join(conflicts)}")
        watchdog = ProxyWatchdog(config, state, report=report)
        watchdog.start()
        assert prepared.settings is not None
        from hybridcc.policy import is_local_profile
        from hybridcc.usage.statusline import settings_entry, user_statusline

        local = is_local_profile(config, profile)
        if user_statusline(Path.cwd()) is None:  # never replace the user's own (README shows how to combine)
            prepared.settings["statusLine"] = settings_entry(local=local)
        tick = None
        if local:  # a local model may read the prompt for minutes: say so in -p mode
            prepared.args, print_id = print_session(prepared.args)
            if print_id:
                tick = prefill_ticker(prepared.plan.env, print_id, report)
        with settings_file(prepared.settings) as path:
            code = run_child(prepared.argv(path), apply(prepared.plan.env), on_tick=tick)
        session = last_session_id(Path.cwd(), started)
        if session:
            report(f"resume this session with: hybridcc run --profile {profile.name} -- --resume {session}")
        return code
    finally:
        if watchdog is not None:
            watchdog.stop()
        for lease in held:
            leases.release(lease)
        if any(lease.service == "proxy" for lease in held):
            proxy_svc.release_if_unused(config)
        if any(lease.service == "ollama" for lease in held):
            ollama_svc.release_if_unused(config)


def describe(prepared: Prepared) -> dict[str, Any]:
    """What --dry-run prints: profile, services, command line and environment, keys masked."""
    p = prepared.plan
    return {
        "profile": p.profile.name,
        "provider": p.provider.name,
        "api": p.provider.api,
        "via_proxy": p.via_proxy,
        "model": p.env.get("ANTHROPIC_MODEL") or p.profile.model,
        "claude": {"path": str(prepared.claude.path), "found_by": prepared.claude.source},
        "services": prepared.services,
        "argv": prepared.argv(Path("<session settings file, 0600>") if prepared.settings is not None else None),
        "env": masked(p.env),
    }


__all__ = ["Prepared", "describe", "merge_settings", "prepare", "run", "settings_file"]
_ = HybridccError  # re-exported for callers that catch it from here
