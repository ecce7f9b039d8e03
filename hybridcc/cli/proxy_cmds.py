"""`hybridcc proxy …`: the built-in proxy in the foreground (serve) or as a daemon."""

from __future__ import annotations

import typer

from hybridcc.cli import render
from hybridcc.cli.complete import profile_names

# click checks the range, so `--port 70000` is a usage error (exit 2), not an OverflowError.
PORT_HELP = "Port (default: proxy.port; 0 = any free port)."

app = typer.Typer(
    help="The built-in Anthropic-API proxy: serve, start, stop, restart, status, logs.", no_args_is_help=True
)


@app.command("serve")
def serve(
    provider: str | None = typer.Option(
        None,
        "--profile",
        "-P",
        "--provider",
        autocompletion=profile_names,
        help="Profile for requests without /p/NAME (default: default_profile).",
    ),
    host: str | None = typer.Option(None, "--host", help="Address to bind (default: proxy.host, 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help=PORT_HELP),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow binding a non-loopback address."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print a line per request."),
) -> None:
    """Run the proxy in the foreground until Ctrl-C: one line per request on stderr (also logged to
    requests.jsonl; `hybridcc proxy logs --requests`)."""
    import logging

    from hybridcc.cli.request_view import HumanRequestHandler
    from hybridcc.config import load_config
    from hybridcc.proxy.server import serve as run_server
    from hybridcc.proxy_token import ensure_token

    config = load_config()

    def ready(h: str, p: int) -> None:
        # Attached here, not before serve(): serve's setup_logging replaces the request logger's
        # handlers, and on_ready runs after it.
        if not quiet:
            logging.getLogger("hybridcc.requests").addHandler(HumanRequestHandler())
        render.note(f"hybridcc proxy listening on http://{h}:{p} (profiles: {', '.join(sorted(config.profiles))})")

    run_server(config=config, token=ensure_token(), host=host, port=port, default_profile=provider,
               allow_remote=allow_remote or None, on_ready=ready)  # fmt: skip


@app.command("start")
def start(port: int | None = typer.Option(None, "--port", min=0, max=65535, help=PORT_HELP)) -> None:
    """Start the proxy as a background daemon (returns once GET /health answers)."""
    from hybridcc.config import load_config
    from hybridcc.services import proxy as svc

    state, what = svc.start(load_config(), port=port, owner="user")
    render.success(f"proxy {what}: http://{state.host}:{state.port} (pid {state.pid})")


@app.command("stop")
def stop() -> None:
    """Stop the daemon (SIGTERM, then SIGKILL after 10 s). Not running is not an error."""
    from hybridcc.services import proxy as svc

    if svc.stop():
        render.success("proxy stopped")
    else:
        render.note("proxy is not running")


@app.command("restart")
def restart(
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="Port (default: the current one, else proxy.port)."
    ),
) -> None:
    """Stop and start the daemon (picks up config changes)."""
    from hybridcc.config import load_config
    from hybridcc.services import proxy as svc
    from hybridcc.services.state import read_state

    config = load_config()
    old = read_state("proxy")
    svc.stop()
    keep = port if port is not None else (old.port if old else None)
    state, _ = svc.start(config, port=keep, owner="user")
    render.success(f"proxy restarted: http://{state.host}:{state.port} (pid {state.pid})")


@app.command("status")
def status(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Is the proxy running and healthy? (exit 0 running, 1 not running or unhealthy)"""
    from hybridcc.cli.status_view import proxy_dict
    from hybridcc.config import load_config
    from hybridcc.services import proxy as svc

    st = svc.status(load_config())
    data = proxy_dict(st)
    if json_:
        render.print_json(data)
    else:
        render.out.print(f"proxy: {data['status']}", markup=False)
        for key in ("url", "pid", "version", "uptime_s", "owner", "leases", "config_current"):
            if data.get(key) is not None:
                render.out.print(f"  {key:15} {render.yes_no(data[key])}", markup=False)
    if data["status"] != "running":
        raise typer.Exit(1)


@app.command("logs")
def logs(
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    lines: int = typer.Option(50, "--lines", "-n", min=0, help="How many lines to show."),
    requests: bool = typer.Option(False, "--requests", help="Show the per-request log (a table) instead."),
    json_: bool = typer.Option(False, "--json", help="With --requests: the raw JSON lines."),
) -> None:
    """Show the proxy's log (or its per-request log)."""
    from hybridcc import paths
    from hybridcc.services.logs import follow_file, last_lines

    path = paths.request_log_file() if requests else paths.service_log_file("proxy")
    if requests and not json_:
        _request_table(last_lines(path, lines))
    else:
        for line in last_lines(path, lines):
            typer.echo(line)
    if follow:
        from hybridcc.cli.request_view import line as request_line
        from hybridcc.cli.request_view import parse

        for text in follow_file(path):
            data = parse(text) if requests and not json_ else None
            typer.echo(request_line(data) if data is not None else text)


def _request_table(lines: list[str]) -> None:
    from rich.table import Table
    from rich.text import Text

    from hybridcc.cli.request_view import COLUMNS, parse, row

    table = Table(box=None, pad_edge=False)
    for col in COLUMNS:
        table.add_column(col, justify="right" if col in ("in", "out", "ms") else "left")
    count = 0
    for text in lines:
        data = parse(text)
        if data is not None:
            table.add_row(*(Text(cell) for cell in row(data)))
            count += 1
    if count:
        render.out.print(table)
    else:
        render.note("no requests logged yet")
