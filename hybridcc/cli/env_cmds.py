"""`hybridcc env` and `hybridcc alias`."""

from __future__ import annotations

from typing import Optional

import typer

from hybridcc.cli import render


def env(
    provider: Optional[str] = typer.Option(None, "--provider", "-p", help="Profile (default: default_profile)."),  # noqa: UP045
    fmt: str = typer.Option("bash", "--format", "-f", help="bash, zsh, fish, powershell, dotenv or json."),
    model: Optional[str] = typer.Option(None, "--model", help="Override the profile's main model."),  # noqa: UP045
    small_model: Optional[str] = typer.Option(None, "--small-model", help="Override the small model."),  # noqa: UP045
) -> None:
    """Print the environment that points Claude Code or an Agent SDK program at a profile.

    Use it as `eval "$(hybridcc env -p openrouter)"` (fish: `hybridcc env -p openrouter -f fish | source`).
    The token printed is the proxy's own, never a provider key.
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
    p = plan(config, provider, token=ensure_token(), model=model, small_model=small_model, force_proxy=True)
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
