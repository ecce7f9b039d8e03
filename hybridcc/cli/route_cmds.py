"""`hybridcc route explain`: which rule, which chain, and why — before a request goes anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Routing: see where a request would go and why.", no_args_is_help=True)


def _headers(agent: str | None, header: list[str]) -> dict[str, str]:
    from hybridcc.errors import UsageError

    out = {"x-claude-code-agent-id": agent} if agent else {}
    for item in header:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--header {item}: expected NAME=VALUE", hint="e.g. --header x-team=ml")
        out[name.strip().lower()] = value.strip()
    return out


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
    header: list[str] = typer.Option([], "--header", "-H", help="A request header NAME=VALUE (repeatable)."),  # noqa: B008 - typer reads defaults
    sensitive: bool = typer.Option(
        False, "--sensitive", help="As a sensitive (local-only) session: remote entries are refused."
    ),
    complexity: str | None = typer.Option(
        None, "--complexity", help="simple|medium|complex: the profile [policy] picks, as `run --complexity`."
    ),
) -> None:
    """Print the scenario rule that matches, the chain that would be tried, and what each entry is."""
    from hybridcc.config import load_config
    from hybridcc.config.load import get_profile
    from hybridcc.errors import UsageError
    from hybridcc.proxy.routing import route_key
    from hybridcc.proxy.rules import explain as explain_route

    config = load_config()
    chosen = None
    if profile is None and (sensitive or complexity):
        # The profile `run --sensitive` / `run --complexity` would start the session with.
        from hybridcc.policy import COMPLEXITIES, select_provider

        if complexity is not None and complexity not in COMPLEXITIES:
            raise UsageError(f"--complexity {complexity}: expected simple, medium or complex")
        profile, chosen = select_provider(complexity or "medium", sensitive, config=config)  # type: ignore[arg-type]
        typer.echo(f"profile: {profile} (chosen by the policy for {'sensitive' if sensitive else complexity} work)")
    prof = get_profile(config, profile)
    data: dict[str, object] = {"model": chosen or prof.model, "messages": [{"role": "user", "content": "hi"}]}
    if body is not None:
        try:
            loaded = json.loads(body.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--body {body}: {exc}", hint="pass a JSON request body") from exc
        if not isinstance(loaded, dict):
            raise UsageError(f"--body {body}: expected a JSON object")
        data = loaded
    if model:
        data["model"] = model
    got = explain_route(config, prof, data, _headers(agent, header), local_only=sensitive)
    if got.rule is not None:
        where = " (top-level [[routes]])" if got.rule.scope == "global" else ""
        typer.echo(f"rule: when {got.rule.when} → {got.rule.use}{where} ({got.reason})")
    else:
        typer.echo(f"rule: {got.reason}")
    for i, entry in enumerate(got.entries):
        role = "first" if i == 0 else "fallback"
        note = f", {entry.note}" if entry.note else ""
        typer.echo(
            f"{i + 1}. {route_key(entry.route)}  [{entry.route.provider.api}, "
            f"{'local' if entry.local else 'remote'}{note}]  ({role})"
        )
    if got.refused:
        typer.echo(f"REFUSED: {got.refused}")
