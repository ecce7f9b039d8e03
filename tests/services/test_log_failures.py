"""A full disk must not stop the proxy, and its log says so once (issue 11, item 15).

/dev/full is a real device whose every write fails with ENOSPC: the request log is pointed at it.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from hybridcc import paths
from hybridcc.config import load_config
from hybridcc.proxy.server import PrivateLogHandler
from hybridcc.proxy_token import ensure_token
from hybridcc.services import proxy as proxy_svc
from tests.helpers import wait_for

DEV_FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="needs /dev/full (Linux)")


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def reporter() -> Iterator[tuple[logging.Logger, Collect]]:
    logger = logging.getLogger("tests.log-failures")
    logger.propagate = False
    collect = Collect()
    logger.addHandler(collect)
    yield logger, collect
    logger.removeHandler(collect)


@needs_dev_full
def test_handler_reports_a_full_disk_once_and_recovery(
    tmp_path: Path, reporter: tuple[logging.Logger, Collect]
) -> None:
    logger, collect = reporter
    target = tmp_path / "requests.jsonl"
    target.symlink_to(DEV_FULL)
    handler = PrivateLogHandler(target, name="request", report=logger)
    records = logging.getLogger("tests.log-failures.requests")
    records.propagate = False
    records.addHandler(handler)
    try:
        for i in range(5):
            records.warning("line %d", i)  # never raises, never prints a traceback per line
        assert len(collect.messages) == 1, collect.messages
        assert "could not write the request log" in collect.messages[0] and "No space left" in collect.messages[0]
        target.unlink()  # room again: the next line is written and the loss is counted
        records.warning("after")
        assert target.read_text() == "after\n"
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert "writable again (5 lines were lost)" in collect.messages[-1]
    finally:
        records.removeHandler(handler)
        handler.close()
    assert stat.S_IMODE(DEV_FULL.stat().st_mode) == 0o666  # a device is never chmod-ed


@needs_dev_full
def test_full_disk_request_log_does_not_stop_the_proxy(proxy_config: Callable[[str], Path]) -> None:
    proxy_config("")
    paths.log_dir().mkdir(parents=True)
    paths.request_log_file().symlink_to(DEV_FULL)
    token = ensure_token()
    state = proxy_svc.ensure(load_config(), owner="user")
    url = f"http://127.0.0.1:{state.port}/v1/models"
    for _ in range(3):
        assert httpx.get(url, headers={"x-api-key": token}, timeout=10).status_code == 200
    log = paths.service_log_file("proxy")
    wait_for(lambda: "could not write the request log" in log.read_text(), what="the proxy log to say it")
    assert httpx.get(url, headers={"x-api-key": token}, timeout=10).status_code == 200
    text = log.read_text()
    assert text.count("could not write the request log") == 1, text
    assert "Traceback" not in paths.service_log_file("proxy-stdio").read_text()
    assert proxy_svc.status(load_config()).healthy
    assert proxy_svc.stop()
    assert paths.request_log_file().is_symlink()
