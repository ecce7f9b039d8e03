"""The services doctor checks: the proxy daemon (its token, config and health) and Ollama."""

from __future__ import annotations

import stat
from collections.abc import Iterator

from hybridcc import __version__, paths
from hybridcc.doctor.checks import user_configured
from hybridcc.doctor.model import Check, Context

# --- proxy -------------------------------------------------------------------------------------


def check_proxy(ctx: Context) -> Iterator[Check]:
    from hybridcc.services import proxy as svc
    from hybridcc.services.ports import port_owner_hint

    assert ctx.config is not None
    st = svc.status(ctx.config)
    if st.state is None:
        yield Check("proxy.running", "proxy", "ok", "not running (`hybridcc run` starts it)")
        port = ctx.config.proxy.port
        if port:
            hint = port_owner_hint(port)
            if hint:
                yield Check(
                    "proxy.port",
                    "proxy",
                    "fail",
                    f"port {port} is taken{hint}",
                    "set `port = 0` under [proxy] (any free port) or another port",
                )
            else:
                yield Check("proxy.port", "proxy", "ok", f"port {port} is free")
    elif not st.running:
        yield Check(
            "proxy.running",
            "proxy",
            "warn",
            f"stale state: pid {st.state.pid} is gone",
            "`hybridcc proxy start` cleans it up",
            "start_proxy",
        )
    elif st.answering and not st.token_current:
        # A replaced or deleted token file under a running proxy: every request would get 401 (issue 11 item 12).
        yield Check("proxy.token_current", "proxy", "fail",
                    f"pid {st.state.pid} holds an old proxy token (the token file was replaced or deleted): "
                    "every request gets 401", "`hybridcc proxy start` restarts it with the current token",
                    "start_proxy")  # fmt: skip
    elif not st.healthy:
        yield Check("proxy.running", "proxy", "fail", f"pid {st.state.pid} is alive but /health does not answer on port {st.state.port}",
                    "`hybridcc proxy restart`", "start_proxy")  # fmt: skip
    else:
        yield Check("proxy.running", "proxy", "ok", f"healthy at {st.url} (pid {st.state.pid})")
        if st.state.version != __version__:
            yield Check(
                "proxy.version",
                "proxy",
                "warn",
                f"running version {st.state.version}, installed {__version__}",
                "`hybridcc proxy restart`",
                "start_proxy",
            )
        else:
            yield Check("proxy.version", "proxy", "ok", f"version {__version__}")
        if st.current:
            yield Check("proxy.config", "proxy", "ok", "started with the current config and keys")
        else:
            yield Check("proxy.config", "proxy", "warn", "config or keys changed since it started (the next `hybridcc run` restarts it)",
                        "`hybridcc proxy restart`", "start_proxy")  # fmt: skip
    log_dir = paths.log_dir()
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        probe = log_dir / ".doctor-write-test"
        probe.write_text("x")
        probe.unlink()
        yield Check("proxy.logs", "proxy", "ok", f"log directory writable: {log_dir}")
    except OSError as exc:
        yield Check(
            "proxy.logs", "proxy", "fail", f"cannot write to {log_dir}: {exc.strerror}", f"fix permissions of {log_dir}"
        )
    token = paths.token_file()
    if not token.exists():
        yield Check(
            "proxy.token", "proxy", "warn", "no proxy token yet (created on first use)", "`hybridcc init` creates it"
        )
    elif stat.S_IMODE(token.stat().st_mode) & 0o077:
        yield Check(
            "proxy.token", "proxy", "fail", f"{token} is readable by others", f"chmod 600 {token}", f"chmod:{token}"
        )
    else:
        yield Check("proxy.token", "proxy", "ok", f"token present, mode 0600 ({token})")


# --- ollama ------------------------------------------------------------------------------------


def check_ollama(ctx: Context, *, lenient: bool = False) -> Iterator[Check]:
    import shutil

    from hybridcc.services import ollama as svc

    assert ctx.config is not None
    profiles = [p for p in ctx.profiles if ctx.config.providers[p.provider].api == "ollama"]
    if not profiles:
        return
    config = ctx.config
    st = svc.status(config)
    binary = shutil.which(config.ollama.binary)
    if lenient and not binary and not st.running and not {p.name for p in profiles} & user_configured(config):
        yield Check("ollama.binary", "ollama", "warn", f"not set up: Ollama is not installed and no server answers at {st.url}; "
                    "the ollama profile is skipped", svc.INSTALL_HINT)  # fmt: skip
        return
    if binary:
        yield Check("ollama.binary", "ollama", "ok", f"ollama at {binary}")
    else:
        yield Check(
            "ollama.binary",
            "ollama",
            "warn" if st.running else "fail",
            f"`{config.ollama.binary}` is not on PATH",
            svc.INSTALL_HINT,
        )
    if not st.running:
        if st.local and binary:
            yield Check(
                "ollama.server",
                "ollama",
                "warn",
                f"no server at {st.url} (`hybridcc run` starts one)",
                "`hybridcc ollama start`",
                "start_ollama",
            )
        else:
            yield Check("ollama.server", "ollama", "fail", f"no server answers at {st.url}",
                        "start Ollama there" if not st.local else svc.INSTALL_HINT)  # fmt: skip
        return
    who = "started by hybridcc" if st.managed else "not started by hybridcc"
    yield Check("ollama.server", "ollama", "ok", f"Ollama {st.version} at {st.url} ({who})")
    if st.native_messages:
        yield Check("ollama.version", "ollama", "ok", f"{st.version} ≥ 0.14: native /v1/messages, passed through")
    else:
        yield Check(
            "ollama.version",
            "ollama",
            "warn",
            f"{st.version} < 0.14: translated via /v1/chat/completions",
            "upgrade Ollama for native passthrough",
        )
    local = set(svc.list_models(st.url))
    minimum = config.ollama.min_context
    if st.managed and st.context_length is not None:
        if st.context_length < minimum:
            yield Check("ollama.context", "ollama", "fail", f"server context length {st.context_length} < {minimum} (Claude Code's prompt is ~36–57k tokens)",
                        f"set context_length = {minimum} under [ollama], then `hybridcc ollama stop && hybridcc ollama start`")  # fmt: skip
        else:
            yield Check("ollama.context", "ollama", "ok", f"server context length {st.context_length}")
    else:
        yield Check("ollama.context", "ollama", "warn", "server context length unknown (hybridcc did not start it)",
                    f"restart it as `OLLAMA_CONTEXT_LENGTH={config.ollama.context_length} ollama serve`, or let hybridcc manage it")  # fmt: skip
    for model in sorted({m for p in profiles for m in p.models()}):
        mid = f"ollama.model.{model}"
        if model not in local and f"{model}:latest" not in local:
            yield Check(
                mid,
                "ollama",
                "warn",
                f"{model} is not pulled (`hybridcc run` pulls it)",
                f"`hybridcc ollama pull {model}`",
                f"pull:{model}",
            )
            continue
        info = svc.show(st.url, model)
        if info is None:
            yield Check(mid, "ollama", "warn", f"{model}: /api/show did not answer", "")
            continue
        if info.tools:
            yield Check(mid, "ollama", "ok", f"{model} is pulled and can call tools")
        else:
            yield Check(mid, "ollama", "fail", f"{model} lacks the `tools` capability: it cannot drive Claude Code",
                        "choose a tool-capable model (see `hybridcc ollama models`)")  # fmt: skip
        if info.context_length is not None and info.context_length < minimum:
            yield Check(f"{mid}.context", "ollama", "fail", f"{model} supports at most {info.context_length} tokens of context (< {minimum})",
                        "choose a model with a larger context window")  # fmt: skip
