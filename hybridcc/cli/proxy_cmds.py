"""`hybridcc proxy …`: the built-in proxy in the foreground (serve) or as a daemon."""

from __future__ import annotations

from typing import Optional

import typer

from hybridcc.cli import render

app = typer.Typer(
    help="The built-in Anthropic-API proxy: serve, start, stop, restart, status, logs.", no_args_is_help=True
)


@app.command("serve")
def serve(
    provider: str | None = typer.Option(
        None, "--provider", "-p", help="Profile for requests without /p/NAME (default: default_profile)."
    ),
    host: Optional[str] = typer.Option(None, "--host", help="Address to bind (default: proxy.host, 127.0.0.1)."),  # noqa: UP045
    port: Optional[int] = typer.Option(None, "--port", help="Port (default: proxy.port; 0 = any free port)."),  # noqa: UP045
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow binding a non-loopback address."),
) -> None:
    """Run the proxy in the foreground until Ctrl-C (logs to stderr and the log directory)."""
    from hybridcc.config import load_config
    from hybridcc.proxy.server import serve as run_server
    from hybridcc.token import ensure_token

    config = load_config()

    def ready(h: str, p: int) -> None:
        render.note(f"hybridcc proxy listening on http://{h}:{p} (profiles: {', '.join(sorted(config.profiles))})")

    run_server(config=config, token=ensure_token(), host=host, port=port, default_profile=provider,
               allow_remote=allow_remote or None, on_ready=ready)  # fmt: skip
