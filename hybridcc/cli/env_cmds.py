"""`hybridcc env` and `hybridcc alias`."""

from __future__ import annotations

import typer

from hybridcc.cli import render


def env(
    provider: str | None = typer.Option(None, "--provider", "-p", help="Profile (default: default_profile)."),
    fmt: str = typer.Option("bash", "--format", "-f", help="bash, zsh, fish, powershell, dotenv or json."),
    model: str | None = typer.Option(None, "--model", help="Override the profile's main model."),
    small_model: str | None = typer.Option(None, "--small-model", help="Override the small model."),
    no_start: bool = typer.Option(False, "--no-start", help="Do not start the proxy; print the configured address."),
) -> None:
    """Print the environment that points Claude Code or an Agent SDK program at a profile.

    Use it as `eval "$(hybridcc env -p openrouter)"` (fish: `hybridcc env -p openrouter -f fish | source`).
    It starts the proxy daemon if it is not running (it keeps running: `hybridcc proxy stop`), so the
    printed address answers. The token printed is the proxy's own, never a provider key.
    """
    from hybridcc.config import load_config
    from hybridcc.envplan import FORMATS
    from hybridcc.envplan import render as render_env
    from hybridcc.errors import HybridccError
    from hybridcc.launch import plan
    from hybridcc.token import ensure_token

    if fmt not in FORMATS:
        raise HybridccError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    config = load_config()
    port = None
    if not no_start:
        from hybridcc.config.load import get_profile
        from hybridcc.services import proxy as proxy_svc

        get_profile(config, provider)  # an unknown profile fails before anything starts
        state, what = proxy_svc.start(config, owner="user")
        port = state.port
        if what != "already running":
            render.note(f"hybridcc: proxy {what} on port {state.port} (stop it with `hybridcc proxy stop`)")
    p = plan(config, provider, token=ensure_token(), port=port, model=model, small_model=small_model, force_proxy=True)
    typer.echo(render_env(p.env, fmt, comment=f"hybridcc profile {p.profile.name}"), nl=False)  # type: ignore[arg-type]


def alias(
    shell: str = typer.Option("bash", "--shell", help="bash, zsh or fish."),
    install: bool = typer.Option(False, "--install", help="Add them to the shell's rc file (idempotent)."),
) -> None:
    """Print one short alias per profile (cc-NAME → hybridcc run --provider NAME)."""
    from hybridcc.aliases import SHELLS, alias_lines
    from hybridcc.aliases import install as install_block
    from hybridcc.config import load_config
    from hybridcc.errors import HybridccError

    if shell not in SHELLS:
        raise HybridccError(f"unknown shell {shell!r}", hint=f"use one of: {', '.join(SHELLS)}")
    names = list(load_config().profiles)
    if install:
        rc, changed = install_block(names, shell)
        if changed:
            render.success(f"aliases written to {rc} (open a new shell to use them)")
        else:
            render.note(f"{rc} already has these aliases; nothing changed")
        return
    typer.echo("\n".join(alias_lines(names, shell)))
