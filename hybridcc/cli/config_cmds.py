"""`hybridcc init` and `hybridcc config …`: path, show, validate, edit."""

from __future__ import annotations

import typer

from hybridcc.cli import render
from hybridcc.cli.complete import profile_names

app = typer.Typer(help="Where the config is, what it says, and editing it safely.", no_args_is_help=True)


def init(
    yes: bool = typer.Option(False, "--yes", "-y", help="Accept the proposals without asking (no terminal needed)."),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing config (kept as config.toml.bak); your own profiles are kept."
    ),
    reset_profiles: bool = typer.Option(False, "--reset-profiles", help="With --force: drop your own profiles too."),
    default: str = typer.Option(
        "", "--default", help="Default profile to write (skips the question).", autocompletion=profile_names
    ),
) -> None:
    """Detect claude, Ollama and provider keys, then write config.toml and the proxy token.

    The proposed default is a profile that works here (a running Ollama, a key that is set, your
    own claude login). Interactively, it then offers to add a custom OpenAI- or Anthropic-compatible
    endpoint and checks it live.
    """
    from hybridcc import paths
    from hybridcc.errors import ConfigError, UsageError
    from hybridcc.wizard import detect, user_profiles, write_initial_config

    path = paths.config_file()
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists", hint="pass --force to replace it (kept as config.toml.bak)")
    d = detect()
    say = render.note
    say(f"claude   {d.claude_path or 'not found'} {d.claude_version or ''}".rstrip())
    if d.ollama_version:
        say(f"ollama   server {d.ollama_version} at {d.ollama_url}, {len(d.ollama_models)} model(s)")
    else:
        say(
            f"ollama   {'binary ' + d.ollama_binary if d.ollama_binary else 'not installed'}, no server at {d.ollama_url}"
        )
    say("keys     " + (", ".join(f"{v} → {p}" for p, v in d.keys.items()) or "none found in the environment"))
    kept = user_profiles(path) if force and not reset_profiles else []
    if kept:
        say(f"kept     your profiles: {', '.join(kept)} (--reset-profiles drops them)")
    choice = default or d.proposals()[0]
    try:
        if not yes and not default:
            from rich.prompt import Prompt

            from hybridcc.config.builtin import BUILTIN

            choices = [*BUILTIN["profiles"], *kept]
            choice = Prompt.ask("Default profile", choices=choices, default=choice, console=render.err)
        if not yes and not _confirm(f"Write {path}?", default=True):
            raise typer.Exit(1)
    except EOFError:
        render.err.print()  # end the unanswered prompt's line
        raise UsageError(
            "init asks questions, but there is no terminal to answer them (stdin is closed)",
            hint="run `hybridcc init --yes` to accept the proposals, or `--default NAME` to choose the default",
        ) from None
    written = write_initial_config(
        choice, d.ollama_model() if choice == "ollama" else None, force=force, keep_profiles=not reset_profiles
    )
    render.success(f"wrote {written} (default profile: {choice})")
    if not yes and _ask_optional("Add a custom OpenAI- or Anthropic-compatible endpoint?"):
        choice = _add_custom_endpoint(choice)
    if not d.claude_path:
        render.warn("claude not found: install it with `npm install -g @anthropic-ai/claude-code`")
    render.note(f"next: hybridcc run -P {choice}")


def _confirm(question: str, *, default: bool) -> bool:
    from rich.prompt import Confirm

    return bool(Confirm.ask(question, default=default, console=render.err))


def _ask_optional(question: str) -> bool:
    """A yes/no that defaults to no, and to no when nobody can answer (piped or closed stdin)."""
    try:
        return _confirm(question, default=False)
    except EOFError:
        return False


def _add_custom_endpoint(current_default: str) -> str:
    """Ask for a custom endpoint, check it live, add it as a profile; returns the default profile."""
    from rich.prompt import Prompt

    from hybridcc.aliases import check_profile_name
    from hybridcc.config.edit import add_profile, set_default
    from hybridcc.errors import UsageError
    from hybridcc.wizard import check_endpoint

    def ask(question: str, default: str | None = None, choices: list[str] | None = None) -> str:
        answer = Prompt.ask(question, default=default, choices=choices, console=render.err)
        return str(answer or "").strip()

    try:
        while True:
            name = ask("Name (letters, digits, - _ .)")
            try:
                check_profile_name(name)
                break
            except UsageError as exc:
                render.warn(exc.message)
        base_url = ask("Base URL (e.g. http://127.0.0.1:1234/v1)")
        api = ask("Wire protocol", default="openai", choices=["openai", "anthropic"])
        model = ask("Model")
        key_env = ask("Environment variable holding the key (empty: none)", default="") or None
        ok, what = check_endpoint(base_url, api, key_env)
        (render.success if ok else render.warn)(f"live check: {what}")
        if not ok and not _confirm("Add it anyway?", default=False):
            return current_default
        path = add_profile(name, base_url=base_url, api=api, model=model, api_key_env=key_env)
        render.success(f'added profile "{name}" to {path}')
        if _confirm(f"Make {name} the default profile?", default=ok):
            set_default(name)
            return name
    except EOFError:
        render.warn("no answer: no custom endpoint added (`hybridcc profile add` adds one later)")
    return current_default


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
    from hybridcc.config.external_editor import edit_config

    path, restored = edit_config()
    if restored:
        render.warn(f"the edit was invalid; {path} was restored")
    else:
        render.success(f"{path} is valid")
