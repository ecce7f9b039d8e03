"""Running the proxy: ``serve(*, …)`` works without the CLI (tests, the daemon, the SDK helper)."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import logging.handlers
import socket
import sys
from collections.abc import Callable
from io import TextIOWrapper
from pathlib import Path
from typing import TYPE_CHECKING

from hybridcc import paths
from hybridcc.config.schema import Config
from hybridcc.errors import ConfigError, ServiceError
from hybridcc.fsutil import make_parent, tighten

if TYPE_CHECKING:
    from hybridcc.proxy.app import ProxyApp

LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 3


class PrivateLogHandler(logging.handlers.RotatingFileHandler):
    """Rotated log files that are 0600 in a 0700 directory, and whose write errors never stop
    the proxy: the first failure (a full disk, a removed directory) is said once, later ones are
    counted, and the next successful write says how many lines were lost (issue 11, item 15).

    logging's own ``handleError`` prints a traceback for every failed record: on a full disk that
    is one traceback per request.
    """

    def __init__(self, path: Path, *, name: str, report: logging.Logger | None = None) -> None:
        with contextlib.suppress(OSError):  # cannot create the directory: the first write says so
            make_parent(path)
        self.label = name
        self.report_to = report
        self.failures = 0  # failed records in a row (not `errors`: FileHandler's encoding errors)
        super().__init__(path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8", delay=True)

    def _open(self) -> TextIOWrapper:
        stream = super()._open()
        tighten(stream.fileno())
        return stream

    def emit(self, record: logging.LogRecord) -> None:
        before = self.failures
        super().emit(record)  # calls handleError() on any failure
        if before and self.failures == before:
            self.failures = 0
            self._say(f"the {self.label} log {self.baseFilename} is writable again ({before} lines were lost)")

    def handleError(self, record: logging.LogRecord) -> None:
        self.failures += 1
        if self.failures == 1:
            exc = sys.exc_info()[1]
            why = getattr(exc, "strerror", None) or exc
            self._say(
                f"could not write the {self.label} log {self.baseFilename} ({why}); requests go on without it "
                "until it can be written again (free disk space)"
            )
        stream, self.stream = self.stream, None
        if stream is not None:  # drop the broken stream; the next record reopens the file
            with contextlib.suppress(OSError, ValueError):
                stream.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the last buffered line on a full disk: already reported
            super().close()

    def _say(self, message: str) -> None:
        if self.report_to is not None:
            self.report_to.warning("%s", message)
            return
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"hybridcc: {message}\n")
            sys.stderr.flush()


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
    """Request lines to requests.jsonl (rotated by size, 0600); proxy messages to stderr."""
    main = logging.getLogger("hybridcc.proxy")
    main.setLevel(logging.INFO)
    if to_stderr and not main.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        main.addHandler(h)
    req = logging.getLogger("hybridcc.requests")
    req.setLevel(logging.INFO)
    req.propagate = False
    for old in list(req.handlers):  # a new log directory (tests, HYBRIDCC_HOME) replaces the old
        req.removeHandler(old)
        old.close()
    handler = PrivateLogHandler(paths.request_log_file(), name="request", report=main)
    handler.setFormatter(logging.Formatter("%(message)s"))
    req.addHandler(handler)


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
