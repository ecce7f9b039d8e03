"""The `hybridcc` command: a thin typer frame over the core modules.

``main()`` runs the app once and is the one place that prints a :class:`HybridccError`
(message plus the fix) and turns it into its documented exit code.
"""

from __future__ import annotations

import os
import sys

from hybridcc.errors import ExitCode, HybridccError

# Global options that may stand before the command (`hybridcc --debug run …`).
_GLOBAL_FLAGS = ("--debug",)


def _print_error(exc: HybridccError) -> None:
    from hybridcc.cli.render import err

    err.print(f"[bold red]error:[/bold red] {exc.message}", highlight=False)
    if exc.hint:
        err.print(f"  [dim]fix:[/dim] {exc.hint}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    lead = 0
    while lead < len(args) and args[lead] in _GLOBAL_FLAGS:
        lead += 1
    debug = "--debug" in args[: lead + 1] or os.environ.get("HYBRIDCC_DEBUG") == "1"
    if debug:
        os.environ["HYBRIDCC_DEBUG"] = "1"
    import typer

    try:
        if lead < len(args) and args[lead] == "run":
            # `run` parses its own arguments so `claude`'s reach it verbatim and in order (typer
            # would drop `--` and reorder), and so it starts without building the whole CLI.
            from hybridcc.cli.run_cmd import run_main

            return run_main(args[lead + 1 :])
        from hybridcc.cli.app import app

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
