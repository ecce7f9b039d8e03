"""`hybridcc run [OPTIONS] [--] [claude args…]`: Claude Code on a profile, as transparent as `claude`.

`main()` calls :func:`run_main` without importing typer (start-up time); the typer declaration
that `--help` and shell completion use is in :mod:`hybridcc.cli.run_typer`.
"""

from __future__ import annotations

import sys
from typing import Any

_HEAD = """Usage: hybridcc run [OPTIONS] [--] [CLAUDE ARGS]...

  Launch Claude Code on a profile: ensure the proxy (and Ollama, its model pulled and
  tool-capable), then run `claude` with the profile's environment. Everything hybridcc does
  not know is passed to `claude` verbatim and in order; after `--` everything is.

Options:
"""
_TAIL = """
Exit status: claude's own (128+N if it died by signal N), or hybridcc's codes (hybridcc --help).

Examples:
  hybridcc run -P ollama
  hybridcc run -P openrouter -p "explain this repo" --output-format stream-json --verbose
  hybridcc run --profile deepseek -- --resume 3f2a… --fork-session
  hybridcc run --local-only            # sensitive work: a local provider, nothing leaves the machine
"""


def help_text() -> str:
    """`run --help`, its option lines from run_args.OPTION_HELP (the one list of run's options)."""
    from hybridcc.run_args import OPTION_HELP, OPTION_METAVAR

    names = {"--profile": "-P, --profile", "--help": "-h, --help", "--sensitive": "--sensitive, --local-only"}
    rows = [(f"{names.get(o, o)} {OPTION_METAVAR.get(o, '')}".rstrip(), text) for o, text in OPTION_HELP.items()]
    width = max(len(left) for left, _ in rows) + 2
    lines = [f"  {left.ljust(width)}{text[0].upper()}{text[1:]}." for left, text in rows]
    return _HEAD + "\n".join(lines) + "\n" + _TAIL


def run_main(argv: list[str]) -> int:
    from hybridcc.run_args import check_claude_path, split_args

    options = split_args(argv)
    if options.help:
        sys.stdout.write(help_text())
        return 0
    if options.claude_path is not None:
        check_claude_path(options.claude_path)
    from hybridcc.config import load_config
    from hybridcc.runner import describe, run

    config = load_config()

    def report(message: str) -> None:
        sys.stderr.write(f"hybridcc: {message}\n")
        sys.stderr.flush()

    def show(prepared: Any) -> None:
        data = describe(prepared)
        out = sys.stdout
        out.write(f"profile   {data['profile']} (provider {data['provider']}, api {data['api']})\n")
        out.write(f"model     {data['model']}\n")
        out.write(f"claude    {data['claude']['path']} (found by {data['claude']['found_by']})\n")
        out.write(f"services  {', '.join(data['services']) or 'none (claude runs with your own login)'}\n")
        out.write("command   " + " ".join(_quote(a) for a in data["argv"]) + "\n")
        out.write("environment\n")
        for key, value in data["env"].items():
            out.write(f"  {key}={'(removed)' if value is None else value}\n")

    progress = None
    if sys.stderr.isatty():
        progress = _progress_printer()
    return run(config=config, options=options, report=report, pull_progress=progress, dry_run_out=show)


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg) if arg else "''"


def _progress_printer() -> Any:
    state = {"last": ""}

    def show(item: Any) -> None:
        line = item.status
        if item.total and item.completed:
            line += f" {100 * item.completed // item.total}%"
        if line != state["last"]:
            sys.stderr.write(f"\rhybridcc: pulling: {line[:70]:70}")
            sys.stderr.flush()
            state["last"] = line
        if item.status == "success":
            sys.stderr.write("\n")

    return show
