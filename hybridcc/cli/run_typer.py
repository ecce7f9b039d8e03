"""`run` as typer sees it: listed in `hybridcc --help`, and its options and values completed.

`main()` sends `run` to :func:`hybridcc.cli.run_cmd.run_main` before typer loads, so this is only
reached through typer itself (shell completion, the app object in tests).
"""

from __future__ import annotations

from typing import Any

import typer

from hybridcc.cli.complete import profile_names
from hybridcc.cli.run_cmd import run_main

CONTEXT: dict[str, Any] = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def run(
    ctx: typer.Context,
    profile: str | None = typer.Option(None, "--profile", "-P", "--provider", autocompletion=profile_names),
    model: str | None = typer.Option(None, "--model"),
    small_model: str | None = typer.Option(None, "--small-model"),
    claude_path: str | None = typer.Option(None, "--claude-path"),
    proxy: bool = typer.Option(False, "--proxy"),
    force: bool = typer.Option(False, "--force"),
    port: str | None = typer.Option(None, "--port"),
    complexity: str | None = typer.Option(None, "--complexity", autocompletion=lambda: ["simple", "medium", "complex"]),
    no_preflight: bool = typer.Option(False, "--no-preflight"),
    sensitive: bool = typer.Option(False, "--sensitive", "--local-only"),
    dry_run: bool = typer.Option(False, "--dry-run"),
) -> None:
    """Launch Claude Code on a profile (hybridcc run --help for the options)."""
    argv = [f"--profile={profile}"] if profile else []
    values = (("--model", model), ("--small-model", small_model), ("--claude-path", claude_path), ("--port", port),
              ("--complexity", complexity))  # fmt: skip
    argv += [f"{name}={value}" for name, value in values if value]
    flags = (("--proxy", proxy), ("--force", force), ("--no-preflight", no_preflight), ("--sensitive", sensitive),
             ("--dry-run", dry_run))  # fmt: skip
    argv += [flag for flag, on in flags if on]
    raise typer.Exit(run_main([*argv, "--", *ctx.args]))
