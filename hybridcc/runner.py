"""`hybridcc run`: prepare services, launch `claude` as a foreground child, clean up after it.

Everything here works without the CLI: :func:`run` is the keyword-only entry point, and the
pieces (argument splitting, settings merging, the child loop) are separate for the tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybridcc import paths
from hybridcc.claude import ClaudeExe, find_claude
from hybridcc.config.schema import Config
from hybridcc.envplan import ROUTING_VARS, EnvMap, LaunchPlan, apply, masked, settings_json
from hybridcc.errors import HybridccError

Report = Callable[[str], None]

# --- arguments --------------------------------------------------------------------------------

_VALUE_OPTS = {
    "--provider": "provider",
    "--model": "model",
    "--small-model": "small_model",
    "--claude-path": "claude_path",
}
_FLAG_OPTS = {
    "--dry-run": "dry_run",
    "--proxy": "force_proxy",
    "--force": "force_model",
    "--help": "help",
    "-h": "help",
}


@dataclass
class RunOptions:
    provider: str | None = None
    model: str | None = None
    small_model: str | None = None
    claude_path: str | None = None
    dry_run: bool = False
    force_proxy: bool = False
    force_model: bool = False
    help: bool = False
    claude_args: list[str] = field(default_factory=list)


def split_args(argv: Sequence[str]) -> RunOptions:
    """hybridcc's own options out of ``argv``; everything else, in order, for `claude`.

    hybridcc's options are recognised only before a ``--``; after it every word goes to
    `claude` verbatim (use it for a prompt that looks like one of hybridcc's options).
    """
    opts = RunOptions()
    i = 0
    args = list(argv)
    while i < len(args):
        word = args[i]
        if word == "--":
            opts.claude_args.extend(args[i + 1 :])
            break
        name, eq, inline = word.partition("=")
        if name in _VALUE_OPTS:
            if eq:
                value = inline
            else:
                if i + 1 >= len(args):
                    raise HybridccError(f"{name} needs a value", hint=f"hybridcc run {name} VALUE [-- claude args…]")
                i += 1
                value = args[i]
            setattr(opts, _VALUE_OPTS[name], value)
        elif word in _FLAG_OPTS:
            setattr(opts, _FLAG_OPTS[word], True)
        else:
            opts.claude_args.append(word)
        i += 1
    return opts


def merge_settings_arg(claude_args: list[str], env: EnvMap) -> list[str]:
    """Our env goes in a ``--settings`` JSON so no settings file's ``env`` block can override it.

    A ``--settings`` the user passed (JSON text or a file) is merged, not duplicated: their
    keys are kept, and our routing variables win inside ``env``.
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
    return ["--settings", json.dumps(merged, separators=(",", ":")), *out]


def _load_settings(value: str) -> dict[str, Any]:
    text = value
    if not value.lstrip().startswith("{"):
        try:
            text = Path(value).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise HybridccError(f"--settings {value}: cannot read it ({exc.strerror})") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise HybridccError(f"--settings {value[:60]}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise HybridccError("--settings must be a JSON object")
    return data


def settings_conflicts(env: EnvMap, cwd: Path) -> list[str]:
    """Settings files whose ``env`` block sets a variable we route with (a plain `claude` would obey them)."""
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


# --- the whole run ----------------------------------------------------------------------------


@dataclass
class Prepared:
    plan: LaunchPlan
    claude: ClaudeExe
    argv: list[str]
    services: list[str]  # what was (or would be) started, for --dry-run and messages


def run(
    *,
    config: Config,
    options: RunOptions,
    report: Report = lambda _m: None,
    pull_progress: Callable[[Any], None] | None = None,
    dry_run_out: Callable[[Prepared], None] | None = None,
) -> int:
    """Ensure services, launch `claude`, wait, release; returns `claude`'s exit code."""
    from hybridcc.config.load import get_profile
    from hybridcc.launch import direct_anthropic, plan
    from hybridcc.providers import resolve_key
    from hybridcc.token import ensure_token

    profile = get_profile(config, options.provider)
    claude = find_claude(options.claude_path, config.claude_path)
    provider = config.providers[profile.provider]
    direct = not options.force_proxy and direct_anthropic(config, profile.name)
    if not direct:
        resolve_key(provider)  # fail fast, naming the variable, before anything starts
    uses_ollama = provider.api == "ollama"

    if options.dry_run:
        from hybridcc.services import ollama as ollama_svc
        from hybridcc.services import proxy as proxy_svc

        services: list[str] = []
        port = None
        if not direct:
            pst = proxy_svc.status(config)
            port = pst.state.port if pst.healthy and pst.state else None
            services.append("proxy: running" if pst.healthy else "proxy: would start")
            if uses_ollama:
                ost = ollama_svc.status(config)
                services.append("ollama: running" if ost.running else "ollama: would start")
        p = plan(config, profile.name, token=ensure_token(), port=port, model=options.model,
                 small_model=options.small_model, force_proxy=options.force_proxy)  # fmt: skip
        argv = [
            str(claude.path),
            *(merge_settings_arg(options.claude_args, p.env) if p.via_proxy else options.claude_args),
        ]
        prepared = Prepared(p, claude, argv, services)
        if dry_run_out:
            dry_run_out(prepared)
        return 0

    if direct:
        report("anthropic profile without an API key: running claude with your own login, untouched")
        return run_child([str(claude.path), *options.claude_args], dict(os.environ))

    from hybridcc.services import leases
    from hybridcc.services import ollama as ollama_svc
    from hybridcc.services import proxy as proxy_svc
    from hybridcc.services.watchdog import ProxyWatchdog

    held: list[leases.Lease] = []
    watchdog: ProxyWatchdog | None = None
    try:
        if uses_ollama:
            ollama_state, _ = ollama_svc.start(config, owner="session")
            held.append(leases.take("ollama"))
            warning = ollama_svc.context_warning(config, ollama_state)
            if warning:
                report(warning)
            models = {options.model or profile.model, options.small_model or profile.small}
            for m in sorted(models):
                ollama_svc.ensure_model(config, m, force=options.force_model, progress=pull_progress)
        state, what = proxy_svc.start(config, owner="session")
        held.append(leases.take("proxy"))
        if what != "already running":
            report(f"proxy {what} on port {state.port}")
        p = plan(config, profile.name, token=ensure_token(), port=state.port, model=options.model,
                 small_model=options.small_model)  # fmt: skip
        conflicts = settings_conflicts(p.env, Path.cwd())
        if conflicts:
            report(f"note: {', '.join(conflicts)} overridden for this session (hybridcc passes --settings)")
        argv = [str(claude.path), *merge_settings_arg(options.claude_args, p.env)]
        watchdog = ProxyWatchdog(config, state, report=report)
        watchdog.start()
        return run_child(argv, apply(p.env))
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
    from hybridcc.fsutil import mask_secret

    p = prepared.plan
    argv = list(prepared.argv)
    if "--settings" in argv:
        i = argv.index("--settings")
        data = json.loads(argv[i + 1])
        if "ANTHROPIC_AUTH_TOKEN" in data.get("env", {}):
            data["env"]["ANTHROPIC_AUTH_TOKEN"] = mask_secret(data["env"]["ANTHROPIC_AUTH_TOKEN"])
        argv[i + 1] = json.dumps(data, separators=(",", ":"))
    return {
        "profile": p.profile.name,
        "provider": p.provider.name,
        "api": p.provider.api,
        "via_proxy": p.via_proxy,
        "model": p.env.get("ANTHROPIC_MODEL") or p.profile.model,
        "claude": {"path": str(prepared.claude.path), "found_by": prepared.claude.source},
        "services": prepared.services,
        "argv": argv,
        "env": masked(p.env),
    }
