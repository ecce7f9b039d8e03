"""`hybridcc profile …`: list, show, add, remove, default."""

from __future__ import annotations

from typing import Literal

import typer

from hybridcc.cli import render
from hybridcc.cli.complete import profile_names

app = typer.Typer(help="List, show and edit provider profiles.", no_args_is_help=True)

NAME_HELP = "Profile name."
GATEWAY_HELP = "A team gateway's URL (LiteLLM); repeat it: the next one is tried when one is down."


def _refresh_aliases() -> None:
    from hybridcc.aliases import refresh_installed
    from hybridcc.config import load_config

    for rc in refresh_installed(list(load_config().profiles)):
        render.note(f"aliases updated in {rc}")


@app.command("list")
def list_(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List profiles and whether a session on each would start; never prints a key.

    ready: yes (key set, no key needed, Ollama installed or answering, your own claude login for
    the anthropic profile), no (and why), or ? for a key command, which `profile show NAME` runs.
    """
    from rich.table import Table
    from rich.text import Text

    from hybridcc.config import load_config
    from hybridcc.config.describe import profile_info

    config = load_config()
    rows = [profile_info(config, p) for p in config.profiles.values()]
    if json_:
        render.print_json(rows)
        return
    table = Table(box=None, pad_edge=False)
    for col in ("", "profile", "provider", "api", "model", "small model", "key", "ready", ""):
        table.add_column(col)
    for r in rows:
        ready = {True: Text("yes", "green"), False: Text("no", "red"), None: Text("?", "yellow")}[r["ready"]]
        cells = ("*" if r["default"] else "", r["name"], r["provider"], r["api"], r["model"], r["small_model"],
                 r["key_source"])  # fmt: skip
        table.add_row(*(Text(str(c)) for c in cells), ready, Text(r["ready_detail"], "dim"))
    render.out.print(table)


@app.command("show")
def show(
    name: str = typer.Argument(..., help=NAME_HELP, autocompletion=profile_names),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one profile with its provider (keys masked); runs its key command to say if it works."""
    from hybridcc.config import load_config
    from hybridcc.config.describe import profile_info
    from hybridcc.config.load import get_profile

    config = load_config()
    info = profile_info(config, get_profile(config, name), run_key_cmd=True)
    if json_:
        render.print_json(info)
        return
    for key, value in info.items():
        render.out.print(f"{key:18} {render.yes_no(value)}", markup=False)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Name of the new profile (and of its provider)."),
    base_url: str | None = typer.Option(None, "--base-url", help="API root, e.g. http://127.0.0.1:1234/v1."),
    api: Literal["openai", "anthropic"] | None = typer.Option(None, "--api", help="Wire protocol."),
    gateway: list[str] = typer.Option([], "--gateway", help=GATEWAY_HELP),  # noqa: B008 - typer reads defaults
    model: str | None = typer.Option(
        None, "--model", help="Main model (with --gateway: default, the gateway's first)."
    ),
    small_model: str | None = typer.Option(None, "--small-model", help="Model for background/haiku requests."),
    big_model: str | None = typer.Option(None, "--big-model", help="Model for opus requests."),
    api_key_env: str | None = typer.Option(None, "--api-key-env", help="Env var holding the key."),
    api_key_cmd: str | None = typer.Option(None, "--api-key-cmd", help="Command printing the key."),
    quirks: str | None = typer.Option(None, "--quirks", help="Quirks row: generic, gemini, openrouter, …"),
    context_window: int | None = typer.Option(None, "--context-window", help="Model context window, tokens."),
    max_output_tokens: int | None = typer.Option(None, "--max-output-tokens", help="Output cap, tokens."),
    force: bool = typer.Option(False, "--force", help="Replace a profile of the same name."),
) -> None:
    """Add a provider and a profile of the same name (LM Studio, vLLM, Groq, a team gateway…).

    NAME: letters, digits, '-', '_' and '.' (it is also the alias cc-NAME and the proxy path /p/NAME).
    With --gateway URL (repeatable): an Anthropic-wire profile for a team gateway; each extra URL
    becomes a fallback profile NAME-2, NAME-3…
    """
    from urllib.parse import urlsplit

    from hybridcc.aliases import check_profile_name
    from hybridcc.config.edit import add_profile
    from hybridcc.errors import UsageError

    check_profile_name(name)
    if gateway:
        if base_url or api or api_key_cmd or quirks or max_output_tokens is not None:
            raise UsageError(
                "--gateway takes the place of --base-url/--api/--quirks (and keys come from --api-key-env)",
                hint="drop those options, or drop --gateway",
            )
        _add_gateway(name, gateway, api_key_env=api_key_env, model=model, small_model=small_model,
                     big_model=big_model, context_window=context_window, force=force)  # fmt: skip
        _refresh_aliases()
        return
    missing = [flag for flag, value in (("--base-url", base_url), ("--api", api), ("--model", model)) if not value]
    if missing:
        raise UsageError(f"missing {', '.join(missing)}", hint="pass them, or --gateway URL for a team gateway")
    assert base_url is not None and api is not None and model is not None
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--base-url {base_url}: not an http(s) URL", hint="e.g. --base-url http://127.0.0.1:1234/v1")
    path = add_profile(
        name, base_url=base_url, api=api, model=model, small_model=small_model, big_model=big_model,
        api_key_env=api_key_env, api_key_cmd=api_key_cmd, quirks=quirks, context_window=context_window,
        max_output_tokens=max_output_tokens, force=force,
    )  # fmt: skip
    render.success(f'added profile "{name}" to {path}')
    _refresh_aliases()


def _add_gateway(name: str, urls: list[str], *, api_key_env: str | None, model: str | None, small_model: str | None,
                 big_model: str | None, context_window: int | None, force: bool) -> None:  # fmt: skip
    from hybridcc.errors import UsageError
    from hybridcc.gateway import team

    checked = [team.check_url(u) for u in urls]
    if model is None:
        served = next((m for u in checked if (m := team.gateway_models(u, api_key_env))), [])
        if not served:
            raise UsageError(
                "--model: the gateway did not list its models (down, or the key is not set)",
                hint="pass --model NAME with a model_name from the gateway's config",
            )
        model = served[0]
        render.note(f"the gateway serves {', '.join(served[:8])}; main model: {model}")
    path, companions = team.add_gateway_profile(
        name, checked, api_key_env=api_key_env, model=model, small_model=small_model, big_model=big_model,
        context_window=context_window, force=force,
    )  # fmt: skip
    chain = f" (fallback: {', '.join(companions)})" if companions else ""
    render.success(f'added gateway profile "{name}" → {checked[0]}{chain} to {path}')


@app.command("remove")
def remove(name: str = typer.Argument(..., help=NAME_HELP, autocompletion=profile_names)) -> None:
    """Remove a profile you added (and its provider when nothing else uses it; a gateway profile's
    fallback profiles NAME-2… go with it)."""
    from hybridcc.config import load_config
    from hybridcc.config.edit import remove_profile
    from hybridcc.errors import HybridccError
    from hybridcc.gateway.team import companions_of

    try:
        companions = companions_of(load_config(), name)
    except HybridccError:  # a broken config can still lose a profile
        companions = []
    path = remove_profile(name)
    for extra in companions:
        remove_profile(extra)
    gone = f" (and {', '.join(companions)})" if companions else ""
    render.success(f'removed profile "{name}"{gone} from {path}')
    _refresh_aliases()


@app.command("default")
def default(name: str = typer.Argument(..., help=NAME_HELP, autocompletion=profile_names)) -> None:
    """Make NAME the default profile."""
    from hybridcc.config import load_config
    from hybridcc.config.edit import set_default
    from hybridcc.config.load import get_profile

    get_profile(load_config(), name)
    path = set_default(name)
    render.success(f'default profile is now "{name}" ({path})')
