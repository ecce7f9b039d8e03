"""`hybridcc usage`, `cost`, `prices update` and `statusline`: thin frames over hybridcc.usage."""

from __future__ import annotations

import typer

from hybridcc.cli import render

usage_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)  # help: the callback's docstring
prices_app = typer.Typer(help="The price catalog used for costs and savings.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add these commands to the root app (one call from hybridcc.cli.app)."""
    app.add_typer(usage_app, name="usage")
    app.command("cost")(cost)
    app.add_typer(prices_app, name="prices")
    app.command("statusline")(statusline)


def _since(value: str | None) -> float | None:
    from hybridcc.usage.report import parse_since

    if value is None:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None


@usage_app.callback()
def usage(
    ctx: typer.Context,
    since: str | None = typer.Option(
        None, "--since", help="Only requests since a duration ago (7d, 12h) or a date (2026-11-01)."
    ),
    by: str = typer.Option("day", "--by", help="Group by day, session, profile, provider, model or agent."),
    json_: bool = typer.Option(False, "--json", help="Print JSON (schema hybridcc.usage/1, see README)."),
    chart: bool = typer.Option(False, "--chart", help="Also draw cost per day by provider as bars."),
) -> None:
    """What you spent and saved: tokens, requests, errors, cost, Claude baseline and savings.

    Costs are at your providers' prices (catalog + [prices] overrides); the baseline is what
    Anthropic's list prices would have charged. A model with no known price counts as unknown.
    """
    if ctx.invoked_subcommand is not None:
        return
    from hybridcc.usage import report, text

    if by not in report.BY:
        raise typer.BadParameter(f"expected one of {', '.join(report.BY)}, got {by!r}", param_hint="--by")
    start = _since(since)
    conn = report.open_ledger()
    try:
        data = report.summary(conn, since=start, by=by)  # type: ignore[arg-type]
        bars = report.daily_cost_by_provider(conn, since=start) if chart else None
    finally:
        if conn is not None:
            conn.close()
    if json_:
        if bars is not None:
            data["chart"] = [{"day": d, "provider": p, "cost_usd": round(c, 6)} for d, p, c in bars]
        render.print_json(data)
        return
    if not data["total"]["requests"]:
        render.note("No requests recorded yet: the proxy writes the ledger as Claude Code runs through it.")
    typer.echo(text.summary(data))
    if bars is not None:
        typer.echo("")
        typer.echo(text.chart(bars))


@usage_app.command("session")
def usage_session(
    session_id: str | None = typer.Argument(None, help="A Claude Code session id (default: the most recent)."),
    json_: bool = typer.Option(False, "--json", help="Print JSON (schema hybridcc.usage/1)."),
) -> None:
    """One session's requests by agent (main, subagents, background) and model, with cost and savings."""
    from hybridcc.errors import NotFoundError
    from hybridcc.usage import report, text

    conn = report.open_ledger()
    try:
        data = report.session(conn, session_id)
    finally:
        if conn is not None:
            conn.close()
    if data is None:
        raise NotFoundError(
            f"no requests recorded for session {session_id}" if session_id else "no session recorded yet",
            hint="list sessions with `hybridcc usage --by session`",
        )
    if json_:
        render.print_json(data)
    else:
        typer.echo(text.session(data))


@usage_app.command("prune")
def usage_prune(
    older_than: int | None = typer.Option(
        None, "--older-than", min=1, help="Days to keep (default: [usage] retention_days)."
    ),
) -> None:
    """Delete ledger rows older than the retention period (default 180 days)."""
    from hybridcc.config import load_config
    from hybridcc.usage.report import prune_ledger

    days = older_than if older_than is not None else load_config().usage.retention_days
    if days <= 0:
        render.note("retention_days = 0 keeps every row; pass --older-than DAYS to prune anyway")
        return
    removed = prune_ledger(days)
    render.success(f"removed {removed} row(s) older than {days} days")


def _tokens(value: str, flag: str) -> int:
    from hybridcc.usage.prices import parse_tokens

    try:
        return parse_tokens(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=flag) from None


def cost(
    input_: str = typer.Option("100k", "--input", help="Input tokens (2500, 100k, 1.5M)."),
    output: str = typer.Option("20k", "--output", help="Output tokens."),
    cache_read: str = typer.Option("0", "--cache-read", help="Cache-read input tokens."),
    json_: bool = typer.Option(False, "--json", help="Print JSON (schema hybridcc.cost/1)."),
) -> None:
    """What a session of this size costs on every profile, next to the Claude baselines."""
    from hybridcc.config import load_config
    from hybridcc.usage import costtable

    table = costtable.scenario(
        load_config(),
        input_tokens=_tokens(input_, "--input"),
        output_tokens=_tokens(output, "--output"),
        cache_read_tokens=_tokens(cache_read, "--cache-read"),
    )
    if json_:
        render.print_json(table)
    else:
        typer.echo(costtable.render(table))


@prices_app.command("update")
def prices_update(
    url: str = typer.Option(
        "https://openrouter.ai/api/v1/models", "--url", help="OpenRouter's model list, or a hybridcc prices.json."
    ),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait for the source."),
) -> None:
    """Refresh the price catalog (the shipped catalog stays the fallback)."""
    from hybridcc.usage.priceupdate import update

    result = update(url=url, timeout=timeout)
    render.success(
        f"{result.updated} prices from {url}; catalog {result.version} ({result.total} models) → {result.path}"
    )


def statusline() -> None:
    """Claude Code status line: reads its JSON on stdin, prints profile, model, cost, savings, context."""
    from hybridcc.usage.statusline import main

    main(argv=[])
