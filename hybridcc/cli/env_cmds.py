"""`hybridcc env` and `hybridcc alias`."""

from __future__ import annotations

from typing import Literal

import typer

from hybridcc.cli import render
from hybridcc.cli.complete import profile_names
from hybridcc.envplan import Format  # a Literal: typer turns it into a choice for --help and completion

Shell = Literal["bash", "zsh", "fish"]  # hybridcc.aliases.SHELLS (a test keeps them equal)
PROFILE_HELP = "Profile (default: default_profile). -P everywhere; --provider is the old spelling."


def env(
    provider: str | None = typer.Option(
        None, "--profile", "-P", "--provider", help=PROFILE_HELP, autocompletion=profile_names
    ),
    fmt: Format = typer.Option("bash", "--format", "-f", help="Output format."),  # noqa: B008 - typer reads defaults
    model: str | None = typer.Option(None, "--model", help="Override the profile's main model."),
    small_model: str | None = typer.Option(None, "--small-model", help="Override the small model."),
    no_start: bool = typer.Option(False, "--no-start", help="Do not start the proxy; print the configured address."),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="Start the proxy on this port (0: a free one) if it is not running."
    ),
    full: bool = typer.Option(
        False, "--full", help="With -f json: the complete environment (removals applied) and a settings file, for TS."
    ),
    lease: int | None = typer.Option(None, "--lease", min=1, help="Keep the proxy up while process PID lives."),
) -> None:
    """Print the environment that points Claude Code or an Agent SDK program at a profile.

    Use it as `eval "$(hybridcc env -P openrouter)"` (fish: `hybridcc env -P openrouter -f fish | source`).
    It starts the proxy daemon if it is not running (it keeps running: `hybridcc proxy stop`), so the
    printed address answers. The token printed is the proxy's own, never a provider key.
    """
    from hybridcc.config import load_config
    from hybridcc.config.load import get_profile
    from hybridcc.envplan import plan
    from hybridcc.envplan import render as render_env
    from hybridcc.proxy_token import ensure_token

    config = load_config()
    profile = get_profile(config, provider)  # resolved once; an unknown profile fails before anything starts
    if full and fmt != "json":
        from hybridcc.errors import UsageError

        raise UsageError("--full goes with --format json", hint="hybridcc env -P NAME -f json --full")
    if lease is not None:
        import psutil

        from hybridcc.errors import UsageError

        if not psutil.pid_exists(lease):
            raise UsageError(
                f"--lease {lease}: no such process", hint="pass the pid of your program, e.g. $$ or process.pid"
            )
        if no_start:
            raise UsageError("--lease starts the proxy; it does not go with --no-start")
    chosen = None
    if not no_start:
        from hybridcc.services import proxy as proxy_svc

        state, what = proxy_svc.start(config, port=port, owner="session" if lease else "user")
        chosen = state.port
        if lease is not None:
            from hybridcc.services import leases

            leases.take("proxy", lease)  # reaped when that process is gone; then the proxy may stop
        if what != "already running":
            render.note(f"hybridcc: proxy {what} on port {state.port} (stop it with `hybridcc proxy stop`)")
    else:
        from hybridcc.envplan import proxy_port

        chosen = port if port is not None else proxy_port(config)
        if chosen == 0:  # `port = 0` and no proxy running: there is no address to print yet (issue 12 item 3)
            from hybridcc.errors import ServiceError

            raise ServiceError(
                "no proxy is running and `port = 0` picks its port at start, so there is no address to print",
                hint="drop --no-start (the proxy starts and its real port is printed), or pass --port N",
            )
    p = plan(config, profile, token=ensure_token(), port=chosen, model=model, small_model=small_model, force_proxy=True)
    if full:
        import json

        from hybridcc.envplan import apply, full_settings_file

        # TS `options.env` replaces process.env: give it everything, removals applied; the settings
        # (the guard against settings-file env blocks) as a 0600 file, never JSON on a command line.
        data = {"env": apply(p.env), "settings": str(full_settings_file(p.env, profile.name))}
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(render_env(p.env, fmt, comment=f"hybridcc profile {p.profile.name}"), nl=False)


def alias(
    shell: Shell = typer.Option("bash", "--shell", help="Shell to write the aliases for."),  # noqa: B008 - typer reads defaults
    install: bool = typer.Option(False, "--install", help="Add them to the shell's rc file (idempotent)."),
) -> None:
    """Print one short alias per profile (cc-NAME → hybridcc run --profile NAME).

    Installed aliases are rewritten by `profile add` and `profile remove`, so they follow your
    profiles; options after the alias reach hybridcc (`cc-NAME --dry-run`), the rest reach claude.
    """
    from hybridcc.aliases import alias_lines
    from hybridcc.aliases import install as install_block
    from hybridcc.config import load_config

    names = list(load_config().profiles)
    if install:
        rc, changed = install_block(names, shell)
        if changed:
            render.success(f"aliases written to {rc} (open a new shell to use them)")
        else:
            render.note(f"{rc} already has these aliases; nothing changed")
        return
    typer.echo("\n".join(alias_lines(names, shell)))
