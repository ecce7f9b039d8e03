"""The typer application: a thin frame over the core modules (see hybridcc.cli.main for `main`)."""

from __future__ import annotations

import os

import typer

from hybridcc import __version__

app = typer.Typer(
    name="hybridcc",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hybridcc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for unexpected errors (or HYBRIDCC_DEBUG=1)."),
) -> None:
    """Run Claude Code and Claude Agent SDK programs on any inference provider.

    Start with `hybridcc init`, then `hybridcc run -P PROFILE`; `hybridcc doctor` when
    something is off. -P (--profile) names the profile in every command; -p is claude's --print.

    Exit codes: 0 ok, 1 failure, 2 usage, 3 config, 4 not found, 5 missing key, 6 service,
    7 missing tool (claude/ollama), 8 unusable model, 130 interrupted.
    """
    if debug:
        os.environ["HYBRIDCC_DEBUG"] = "1"


def _register() -> None:
    from hybridcc.cli import (
        config_cmds,
        doctor_cmd,
        env_cmds,
        ollama_cmds,
        profile_cmds,
        proxy_cmds,
        run_typer,
        status_cmd,
    )

    # Listed in `--help` in this order: the everyday commands first.
    app.command("run", context_settings=run_typer.CONTEXT, add_help_option=False)(run_typer.run)
    app.command("env")(env_cmds.env)
    app.command("init")(config_cmds.init)
    app.command("doctor")(doctor_cmd.doctor)
    app.command("status")(status_cmd.status)
    app.command("alias")(env_cmds.alias)
    app.add_typer(profile_cmds.app, name="profile")
    app.add_typer(config_cmds.app, name="config")
    app.add_typer(proxy_cmds.app, name="proxy")
    app.add_typer(ollama_cmds.app, name="ollama")
    from hybridcc.cli import route_cmds

    app.add_typer(route_cmds.app, name="route")
    from hybridcc.cli import gateway_cmds

    app.add_typer(gateway_cmds.app, name="gateway")

    from hybridcc.cli import usage_cmds  # usage, cost, prices, statusline (issue 14)

    usage_cmds.register(app)
    app.add_typer(__import__("hybridcc.cli.import_cmds", fromlist=["app"]).app, name="import")  # issue 18


_register()
