"""The `hybridcc` command: a thin typer frame over the core modules.

``main()`` runs the app once and is the one place that prints a :class:`HybridccError`
(message plus the fix) and turns it into its documented exit code.
"""

from __future__ import annotations

import os
import sys

import typer

from hybridcc import __version__
from hybridcc.errors import ExitCode, HybridccError

app = typer.Typer(
    name="hybridcc",
    help="Run Claude Code and Claude Agent SDK programs on any inference provider.",
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
    """Run Claude Code on any provider: profiles, a local Anthropic-API proxy, services, launcher.

    Exit codes: 0 ok, 1 failure, 2 usage, 3 config, 4 not found, 5 missing key,
    6 service, 7 missing tool (claude/ollama), 8 unusable model, 130 interrupted.
    """
    if debug:
        os.environ["HYBRIDCC_DEBUG"] = "1"


def _register() -> None:
    from hybridcc.cli import config_cmds, env_cmds, ollama_cmds, profile_cmds, proxy_cmds, status_cmd

    app.add_typer(profile_cmds.app, name="profile")
    app.add_typer(config_cmds.app, name="config")
    app.add_typer(proxy_cmds.app, name="proxy")
    app.add_typer(ollama_cmds.app, name="ollama")
    app.command("status")(status_cmd.status)
    app.command("init")(config_cmds.init)
    app.command("env")(env_cmds.env)
    app.command("alias")(env_cmds.alias)


_register()


def _print_error(exc: HybridccError) -> None:
    from hybridcc.cli.render import err

    err.print(f"[bold red]error:[/bold red] {exc.message}", highlight=False)
    if exc.hint:
        err.print(f"  [dim]fix:[/dim] {exc.hint}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("HYBRIDCC_DEBUG") == "1"
    try:
        result = app(args=args, prog_name="hybridcc", standalone_mode=False)
    except HybridccError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        _print_error(exc)
        return int(exc.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print(file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        # typer's usage errors (its own click fork's ClickException): they print themselves.
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        if debug:
            raise
        import traceback

        from hybridcc.cli.render import err

        last = traceback.format_exc().strip().splitlines()[-1]
        err.print("[bold red]internal error:[/bold red] ", end="")
        err.print(last, markup=False, highlight=False)
        err.print("  [dim]fix:[/dim] run again with --debug for the traceback and report it", highlight=False)
        return int(ExitCode.FAILURE)
    return int(result) if isinstance(result, int) else 0
