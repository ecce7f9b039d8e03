"""`hybridcc init` and `hybridcc config …`: path, show, validate, edit."""

from __future__ import annotations

import typer

from hybridcc.cli import render

app = typer.Typer(help="Where the config is, what it says, and editing it safely.", no_args_is_help=True)


def init(
    yes: bool = typer.Option(False, "--yes", "-y", help="Accept the proposals without asking."),
    force: bool = typer.Option(False, "--force", help="Replace an existing config (kept as config.toml.bak)."),
    default: str = typer.Option("", "--default", help="Default profile to write (skips the question)."),
) -> None:
    """Detect claude, Ollama and provider keys, then write config.toml and the proxy token."""
    from rich.prompt import Confirm, Prompt

    from hybridcc import paths
    from hybridcc.errors import ConfigError
    from hybridcc.setup import detect, write_initial_config

    path = paths.config_file()
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists", hint="pass --force to replace it (kept as config.toml.bak)")
    d = detect()
    say = render.err.print
    say(f"claude   {d.claude_path or '[red]not found[/red]'} {d.claude_version or ''}")
    if d.ollama_version:
        say(f"ollama   server {d.ollama_version} at {d.ollama_url}, {len(d.ollama_models)} model(s)")
    else:
        say(f"ollama   binary {d.ollama_binary or 'not found'}, no server at {d.ollama_url}")
    say("keys     " + (", ".join(f"{v} → {p}" for p, v in d.keys.items()) or "none found in the environment"))
    proposals = d.proposals()
    choice = default or proposals[0]
    if not yes and not default:
        from hybridcc.config.builtin import BUILTIN

        choice = Prompt.ask("Default profile", choices=list(BUILTIN["profiles"]), default=choice, console=render.err)
    if not yes and not Confirm.ask(f"Write {path}?", default=True, console=render.err):
        raise typer.Exit(1)
    written = write_initial_config(choice, d.ollama_model() if choice == "ollama" else None, force=force)
    render.success(f"wrote {written} (default profile: {choice})")
    if not d.claude_path:
        render.warn("claude not found: install it with `npm install -g @anthropic-ai/claude-code`")
    render.note(f"next: hybridcc run --provider {choice}")


@app.command("path")
def path_(all_: bool = typer.Option(False, "--all", help="Also print state, log and data directories.")) -> None:
    """Print the config file's path."""
    from hybridcc import paths

    if all_:
        for key, value in paths.all_locations().items():
            typer.echo(f"{key:7} {value}")
    else:
        typer.echo(str(paths.config_file()))


@app.command("show")
def show(json_: bool = typer.Option(False, "--json", help="Print JSON instead of TOML.")) -> None:
    """Print the effective config: built-ins merged with your file, keys masked."""
    import tomli_w

    from hybridcc.config import load_config
    from hybridcc.config.describe import config_data

    config = load_config()
    data = config_data(config)
    if json_:
        render.print_json(data)
        return
    typer.echo(f"# source: {config.source or 'built-in defaults (no config file)'}")
    typer.echo(tomli_w.dumps(data).rstrip())


@app.command("validate")
def validate() -> None:
    """Check the config file and list every problem (exit 3 if any)."""
    from hybridcc import paths
    from hybridcc.config.load import check_data, read_user_data
    from hybridcc.errors import ConfigError

    data, found = read_user_data()
    _config, problems = check_data(data, str(found) if found else None)
    where = str(found) if found else f"{paths.config_file()} (absent: built-in defaults)"
    if problems:
        for p in problems:
            render.err.print(f"{where}: {p}", markup=False)
        raise ConfigError(f"{len(problems)} problem(s) in {where}", hint="fix them with `hybridcc config edit`")
    render.success(f"{where} is valid")


@app.command("edit")
def edit() -> None:
    """Open config.toml in $EDITOR; an invalid save is rolled back to the previous file."""
    from hybridcc.config.editor import edit_config

    path, restored = edit_config()
    if restored:
        render.warn(f"the edit was invalid; {path} was restored")
    else:
        render.success(f"{path} is valid")
