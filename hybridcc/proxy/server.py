"""Running the proxy: ``serve(*, …)`` works without the CLI (tests, the daemon, the SDK helper)."""

from __future__ import annotations

import ipaddress
import logging
import logging.handlers
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from hybridcc import paths
from hybridcc.config.schema import Config
from hybridcc.errors import ConfigError, ServiceError

if TYPE_CHECKING:
    from hybridcc.proxy.app import ProxyApp

LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 3


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind first, so port 0 becomes a real port we can record before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        from hybridcc.services.ports import port_owner_hint

        raise ServiceError(
            f"cannot bind the proxy to {host}:{port}: {exc.strerror}{port_owner_hint(port)}",
            hint="pass --port N, or set `port = 0` under [proxy] in config.toml for a free port",
        ) from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def setup_logging(*, to_stderr: bool = True) -> None:
    """Request lines to requests.jsonl (rotated by size); proxy messages to stderr."""
    paths.log_dir().mkdir(parents=True, exist_ok=True)
    req = logging.getLogger("hybridcc.requests")
    req.setLevel(logging.INFO)
    req.propagate = False
    for old in list(req.handlers):  # a new log directory (tests, HYBRIDCC_HOME) replaces the old
        req.removeHandler(old)
        old.close()
    if True:
        handler = logging.handlers.RotatingFileHandler(
            paths.request_log_file(), maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
        req.addHandler(handler)
    main = logging.getLogger("hybridcc.proxy")
    main.setLevel(logging.INFO)
    if to_stderr and not main.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        main.addHandler(h)


def build_app(config: Config, *, token: str, default_profile: str | None = None) -> ProxyApp:
    from hybridcc.proxy.app import ProxyApp

    if default_profile and default_profile not in config.profiles:
        raise ConfigError(
            f'no profile named "{default_profile}" (known: {", ".join(sorted(config.profiles))})',
            hint="see `hybridcc profile list`",
        )
    return ProxyApp(config, token=token, default_profile=default_profile)


def serve(
    *,
    config: Config,
    token: str,
    host: str | None = None,
    port: int | None = None,
    default_profile: str | None = None,
    allow_remote: bool | None = None,
    sock: socket.socket | None = None,
    on_ready: Callable[[str, int], None] | None = None,
) -> None:
    """Serve the proxy in the foreground until SIGINT/SIGTERM (uvicorn's graceful shutdown)."""
    import uvicorn

    host = host or config.proxy.host
    port = config.proxy.port if port is None else port
    remote_ok = config.proxy.allow_remote if allow_remote is None else allow_remote
    if not is_loopback(host) and not remote_ok:
        raise ConfigError(
            f"refusing to bind the proxy to non-loopback address {host}",
            hint="pass --allow-remote (or proxy.allow_remote = true): anyone with the token could spend your keys",
        )
    if not is_loopback(host):
        logging.getLogger("hybridcc.proxy").warning(
            "proxy listening on non-loopback %s: reachable from the network", host
        )
    app = build_app(config, token=token, default_profile=default_profile)
    sock = sock or bind_socket(host, port)
    bound_port = int(sock.getsockname()[1])
    setup_logging()
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:  # pragma: no cover - Windows
        loop = "asyncio"
    cfg = uvicorn.Config(
        app, loop=loop, http="httptools", lifespan="on", log_level="warning", access_log=False,
        timeout_keep_alive=75, timeout_graceful_shutdown=30, server_header=False, date_header=False,
    )  # fmt: skip
    server = uvicorn.Server(cfg)
    if on_ready is not None:
        original = server.startup

        async def startup(sockets: list[socket.socket] | None = None) -> None:
            await original(sockets=sockets)
            on_ready(host, bound_port)

        server.startup = startup  # type: ignore[method-assign]
    server.run(sockets=[sock])
