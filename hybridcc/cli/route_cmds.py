"""`hybridcc route explain`: which rule, which chain, and why — before a request goes anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Routing: see where a request would go and why.", no_args_is_help=True)


@app.command("explain")
def explain(
    profile: str | None = typer.Option(
        None, "--profile", "-P", "--provider", help="Profile (default: default_profile)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="The model Claude Code would name (default: the profile's)."
    ),
    body: Path | None = typer.Option(None, "--body", help="A saved request body (JSON) to route, e.g. from a log."),  # noqa: B008 - typer reads defaults
    agent: str | None = typer.Option(None, "--agent", help="As a subagent request with this x-claude-code-agent-id."),
) -> None:
    """Print the scenario rule that matches, the chain that would be tried, and what each entry is."""
    from hybridcc.config import load_config
    from hybridcc.config.load import get_profile
    from hybridcc.errors import UsageError
    from hybridcc.proxy.estimate import estimate_input_tokens
    from hybridcc.proxy.routing import chain, is_local, route_key
    from hybridcc.proxy.rules import first_match

    config = load_config()
    prof = get_profile(config, profile)
    data: dict[str, object] = {"model": model or prof.model, "messages": [{"role": "user", "content": "hi"}]}
    if body is not None:
        try:
            loaded = json.loads(body.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--body {body}: {exc}", hint="pass a JSON request body") from exc
        if not isinstance(loaded, dict):
            raise UsageError(f"--body {body}: expected a JSON object")
        data = loaded
    requested = str(model or data.get("model") or prof.model)
    headers = {"x-claude-code-agent-id": agent} if agent else {}
    matched = first_match(prof, data, headers, estimate_input_tokens(data)) if "/" not in requested else None
    if matched:
        typer.echo(f"rule: when {matched[0].when} → {matched[0].use} ({matched[1]})")
    else:
        typer.echo(f"rule: none of {len(prof.routes)} matched" if prof.routes else "rule: profile has no routes")
    routes = chain(config, prof, requested, first=matched[0].use if matched else None)
    local_only = prof.privacy == "local"
    for i, route in enumerate(routes):
        where = "local" if is_local(route) else "remote"
        refused = local_only and not is_local(route)
        role = "first" if i == 0 else "fallback"
        typer.echo(
            f"{i + 1}. {route_key(route)}  [{route.provider.api}, {where}{', REFUSED: profile is local-only' if refused else ''}]  ({role})"
        )
