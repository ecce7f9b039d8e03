"""`hybridcc ollama …`: start, stop, status, pull, models."""

from __future__ import annotations

import typer

from hybridcc.cli import render

app = typer.Typer(help="Manage a local Ollama server and its models.", no_args_is_help=True)


def _server_url() -> str:
    """The URL of a running Ollama, or the error that names the real next step: start it when it
    is installed here, install it when it is not (`ollama start` would only fail), or reach the
    remote host the config points at."""
    import shutil

    from hybridcc.config import load_config
    from hybridcc.errors import MissingToolError, ServiceError
    from hybridcc.providers import is_local_url
    from hybridcc.services import ollama as svc

    config = load_config()
    url = svc.base_url(config)
    if svc.server_version(url) is not None:
        return url
    if not is_local_url(url):
        raise ServiceError(
            f"no Ollama server answers at {url}", hint="start Ollama on that host, or fix OLLAMA_HOST / [ollama] host"
        )
    if shutil.which(config.ollama.binary) is None:
        raise MissingToolError(f"Ollama is not installed and no server answers at {url}", hint=svc.INSTALL_HINT)
    raise ServiceError(f"Ollama is not running at {url}", hint="start it with `hybridcc ollama start`")


@app.command("start")
def start() -> None:
    """Start `ollama serve` with hybridcc's settings (context length…), unless one already answers."""
    from hybridcc.config import load_config
    from hybridcc.services import ollama as svc

    config = load_config()
    st, what = svc.start(config, owner="user")
    render.success(f"ollama {what}: {st.url} (version {st.version})")
    warning = svc.context_warning(config, st)
    if warning:
        render.warn(warning)


@app.command("stop")
def stop() -> None:
    """Stop the Ollama server hybridcc started (never one you started yourself)."""
    from hybridcc.config import load_config
    from hybridcc.services import ollama as svc

    render.note(f"ollama: {svc.stop(load_config())}")


@app.command("status")
def status(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Server reachable? version, native /v1/messages (≥ 0.14), who started it, models."""
    from hybridcc.cli.status_view import ollama_dict
    from hybridcc.config import load_config
    from hybridcc.services import ollama as svc

    data = ollama_dict(svc.status(load_config(), with_models=True))
    if json_:
        render.print_json(data)
    else:
        render.out.print(f"ollama: {data['status']} at {data['url']}", markup=False)
        for key, value in data.items():
            if key not in ("status", "url"):
                render.out.print(f"  {key:16} {render.yes_no(value)}", markup=False)
    if data["status"] != "running":
        raise typer.Exit(1)


@app.command("models")
def models(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Local models, with tool support and context window."""
    from hybridcc.services import ollama as svc

    url = _server_url()
    rows = []
    for name in svc.list_models(url):
        info = svc.show(url, name)
        rows.append(
            {"name": name, "tools": bool(info and info.tools), "context_length": info.context_length if info else None}
        )
    if json_:
        render.print_json(rows)
        return
    for r in rows:
        render.out.print(
            f"{r['name']:40} tools={'yes' if r['tools'] else 'no':3}  context={r['context_length'] or '?'}",
            markup=False,
        )


@app.command("pull")
def pull(model: str = typer.Argument(..., help="Model name, e.g. qwen3-coder:30b.")) -> None:
    """Download a model with a progress bar (Ctrl-C cancels; running it again resumes)."""
    from hybridcc.cli.progress import pull_with_progress
    from hybridcc.config import load_config

    _server_url()  # before the progress bar: no bar, then "lost the connection", when nothing answers
    pull_with_progress(load_config(), model)
    render.success(f"{model} is ready")
