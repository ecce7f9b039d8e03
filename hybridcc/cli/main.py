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
    from hybridcc.cli.render import error_line

    error_line("error:", exc.message, exc.hint)


def _print_usage_error(exc: Exception) -> int:
    """click's usage errors as our one line plus the fix (click prints usage, hint and a box)."""
    from hybridcc.cli.render import error_line

    ctx = getattr(exc, "ctx", None)
    where = getattr(ctx, "command_path", None) or "hybridcc"
    message = exc.format_message() if callable(getattr(exc, "format_message", None)) else str(exc)  # type: ignore[attr-defined]
    message = message.replace("Value error, ", "")  # typer's validation prefix says nothing to a user
    error_line("error:", message, f"see `{where} --help`")
    return int(ExitCode.USAGE)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    lead = 0
    while lead < len(args) and args[lead] in _GLOBAL_FLAGS:
        lead += 1
    debug = "--debug" in args[: lead + 1] or os.environ.get("HYBRIDCC_DEBUG") == "1"
    if debug:
        os.environ["HYBRIDCC_DEBUG"] = "1"
    if args[lead:] in (["--version"], ["-V"]):
        # Answered before typer (and the pydantic and rich it imports) loads: ~3x faster.
        from hybridcc import __version__

        print(f"hybridcc {__version__}")
        return 0
    try:
        if lead < len(args) and args[lead] == "run":
            # `run` parses its own arguments so `claude`'s reach it verbatim and in order (typer
            # would drop `--` and reorder), and so it starts without loading typer at all.
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
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        typer = sys.modules.get("typer")  # not imported on the `run` path
        if typer is not None and isinstance(exc, typer.Exit):  # typer.Exit is a RuntimeError
            return int(exc.exit_code)
        if typer is not None and isinstance(exc, typer.Abort):
            print(file=sys.stderr)
            return int(ExitCode.INTERRUPTED)
        # typer's usage errors (its own click fork's UsageError, exit 2) become one line; its other
        # ClickExceptions (rare: file errors of click types) print themselves.
        if getattr(exc, "exit_code", None) == ExitCode.USAGE and hasattr(exc, "ctx"):
            return _print_usage_error(exc)
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        if debug:
            raise
        import traceback

        from hybridcc.cli.render import error_line

        last = traceback.format_exc().strip().splitlines()[-1]
        error_line("internal error:", last, "run again with --debug for the traceback and report it")
        return int(ExitCode.FAILURE)
    return int(result) if isinstance(result, int) else 0
