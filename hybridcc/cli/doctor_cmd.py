"""`hybridcc doctor`."""

from __future__ import annotations

import typer

from hybridcc.cli import render
from hybridcc.cli.complete import profile_names


def doctor(
    provider: str | None = typer.Option(
        None,
        "--profile",
        "-P",
        "--provider",
        help="Profile to check (default: the default profile).",
        autocompletion=profile_names,
    ),
    all_: bool = typer.Option(False, "--all", help="Check every profile."),
    online: bool = typer.Option(False, "--online", help="Make one cheap authenticated request to each provider."),
    probe: bool = typer.Option(
        False, "--probe", help="Ask each model, through the proxy, to call a tool (with --privacy: record a session)."
    ),
    privacy: bool = typer.Option(
        False,
        "--privacy",
        help="Check that the profile's sessions stay on this machine; with --probe, record a tiny "
        "local-only session under strace and list every non-loopback connection attempt.",
    ),
    json_: bool = typer.Option(
        False, "--json", help='Print {"ok", "checks": [{"id", "area", "status", "message", "fix"}]}.'
    ),
    fix: bool = typer.Option(False, "--fix", help="Apply the safe fixes (start services, pull models, init, chmod)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --fix: do not ask before each fix."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, max=600.0, help="Seconds for each network check."),
) -> None:
    """Diagnose the whole path from `claude` to the model, with the fix for each problem.

    Exit code 0 when no check fails (warnings allowed), 1 when one does. With --all, a built-in
    profile you never set up (no key, not your default, not in config.toml) is a warning, not a failure.
    """
    from rich.prompt import Confirm
    from rich.table import Table
    from rich.text import Text

    from hybridcc.doctor.model import Check
    from hybridcc.doctor.report import apply_fixes, as_json, build_context, fixable, ok, run_checks, summary

    def checks() -> list[Check]:
        ctx = build_context(provider=provider, all_profiles=all_, online=online, probe=probe, timeout=timeout)
        return run_checks(ctx, all_profiles=all_, privacy=privacy)

    results = checks()
    if fix and not fixable(results):
        render.note(
            "doctor --fix: nothing hybridcc can fix by itself" + ("" if ok(results) else " (see the fix column)")
        )
    elif fix:
        done = apply_fixes(results, lambda what: yes or Confirm.ask(f"fix: {what}?", default=True, console=render.err))
        for line in done:
            render.success(line)
        if done:
            results = checks()
    if json_:
        render.print_json(as_json(results))
    else:
        styles = {"ok": "[green]OK[/green]", "warn": "[yellow]WARN[/yellow]", "fail": "[red]FAIL[/red]"}
        table = Table(box=None, pad_edge=False, show_header=True)
        for col in ("", "check", "message", "fix"):
            table.add_column(col, overflow="fold")
        area = None
        for c in results:
            if c.area != area:
                area = c.area
                table.add_row("", Text(area, style="bold"), "", "")
            table.add_row(styles[c.status], Text(c.id), Text(c.message), Text(c.fix))  # messages hold [brackets]
        render.out.print(table)
        render.out.print(summary(results), markup=False)
    if not ok(results):
        raise typer.Exit(1)
