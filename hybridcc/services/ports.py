"""Who holds a port: for error messages that name the program in the way."""

from __future__ import annotations


def port_owner(port: int) -> tuple[int, str] | None:
    """(pid, name) of the process listening on ``port``, when psutil can see it."""
    import psutil

    try:
        conns = psutil.net_connections(kind="inet")
    except (psutil.AccessDenied, OSError):
        return None
    for c in conns:
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid:
            try:
                return c.pid, psutil.Process(c.pid).name()
            except psutil.Error:
                return c.pid, "?"
    return None


def port_owner_hint(port: int) -> str:
    if port == 0:
        return ""
    owner = port_owner(port)
    return f" (in use by pid {owner[0]}, {owner[1]})" if owner else ""


def check_port_free(host: str, port: int, *, hint: str) -> None:
    """Fail with the port's owner named (``hint`` says how to choose another) when it is taken."""
    import socket

    from hybridcc.errors import ServiceError

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ServiceError(
                f"port {port} on {host} is in use{port_owner_hint(port) or ' by another program'}", hint=hint
            ) from exc
