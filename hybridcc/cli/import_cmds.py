"""`hybridcc import …`: bring another tool's configuration into hybridcc (issue 18)."""

from __future__ import annotations

from pathlib import Path

import typer

from hybridcc.cli import render

app = typer.Typer(help="Import another tool's configuration as hybridcc providers and profiles.",
                  no_args_is_help=True)  # fmt: skip


_CCR_CONFIG = Path("~/.claude-code-router/config.json")  # as ccr itself reads it (importer.DEFAULT_PATH)


@app.command("ccr")
def ccr(
    path: Path = typer.Argument(_CCR_CONFIG, help="claude-code-router's config.json."),  # noqa: B008 - typer reads defaults
    name: str = typer.Option("ccr", "--name", help="Name of the profile made from Router.default and its rules."),
    keep_keys: bool = typer.Option(
        False, "--keep-keys", help="Store keys written in the file inline in config.toml (0600) instead of as env vars."
    ),
    force: bool = typer.Option(False, "--force", help="Replace providers or a profile of the same name."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the TOML that would be added (keys hidden); write nothing."
    ),
) -> None:
    """Turn a claude-code-router config into hybridcc providers, a profile and routing rules.

    Providers become [providers.NAME]; Router.default the profile's model; Router.background,
    think, longContext, webSearch and image its [[profiles.NAME.routes]]. A "$VAR" key becomes
    api_key_env = "VAR". A key written in the file is not copied: the provider reads NAME_API_KEY,
    which you set (or pass --keep-keys to store it inline in config.toml, 0600). Keys are never printed.
    """
    from hybridcc import paths
    from hybridcc.engines import importer

    imported = importer.convert(importer.read(path), profile_name=name, keep_keys=keep_keys)
    if dry_run:
        typer.echo(importer.preview(imported), nl=False)
    else:
        written = importer.write(imported, path=paths.config_file(), force=force)
        render.success(f"imported {len(imported.providers)} provider(s) and profile {name} into {written}")
    for note in imported.notes:
        render.note(note)
    for var, where in imported.env_to_set.items():
        render.warn(f"set {var} to the key in {path} at {where}: it was not copied (or re-run with --keep-keys)")
    if not dry_run:
        render.note(f"try it: hybridcc run -P {name}")
