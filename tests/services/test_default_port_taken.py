"""The default port taken by another program is not a dead end (issue 12 item 3)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from hybridcc.config import load_config
from hybridcc.config.schema import ProxySettings
from hybridcc.services import proxy as proxy_svc
from hybridcc.services.state import read_state
from tests.conftest import write_config


@pytest.fixture
def default_port_taken() -> Iterator[int]:
    port = ProxySettings().port
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(1)
    except OSError:
        pass  # already held by something else (another worker of this very test): the case under test
    try:
        yield port
    finally:
        s.close()


def test_default_port_taken_picks_a_free_one(default_port_taken: int) -> None:
    write_config("[proxy]\n")  # port not set: the default
    state, what = proxy_svc.start(load_config())
    try:
        assert state.port != default_port_taken and state.port > 0
        assert f"{default_port_taken} is in use" in what and "free port" in what
        recorded = read_state("proxy")
        assert recorded is not None and recorded.port == state.port  # clients find it in the state
    finally:
        assert proxy_svc.stop()


def test_a_port_the_user_chose_still_fails_with_the_owner(default_port_taken: int) -> None:
    from hybridcc.errors import ServiceError

    write_config(f"[proxy]\nport = {default_port_taken}\n")
    with pytest.raises(ServiceError, match="in use"):
        proxy_svc.start(load_config(), port=default_port_taken)
