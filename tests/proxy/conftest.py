"""A real proxy (uvicorn on a free 127.0.0.1 port, in a thread) in front of fake upstreams."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from hybridcc.config import load_config
from hybridcc.proxy.app import ProxyApp
from hybridcc.proxy.server import bind_socket, setup_logging
from hybridcc.proxy_token import ensure_token
from tests.conftest import write_config
from tests.helpers import wait_for


@dataclass
class RunningProxy:
    url: str
    token: str
    app: ProxyApp

    def client(self, profile: str | None = None, **kw: object):  # type: ignore[no-untyped-def]
        import anthropic

        base = self.url + (f"/p/{profile}" if profile else "")
        return anthropic.Anthropic(base_url=base, api_key=self.token, max_retries=0, **kw)  # type: ignore[arg-type]

    def post(
        self,
        path: str,
        json: object,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> httpx.Response:
        hdrs = {
            "x-api-key": self.token if token is None else token,
            "anthropic-version": "2023-06-01",
            **(headers or {}),
        }
        return httpx.post(self.url + path, json=json, headers=hdrs, timeout=timeout)


def config_text(
    openai_url: str = "http://127.0.0.1:9", anthropic_url: str = "http://127.0.0.1:9", extra: str = ""
) -> str:
    return f"""
default_profile = "fo"
[providers.fo]
api = "openai"
base_url = "{openai_url}/v1"
api_key_env = "FAKE_OPENAI_KEY"
[providers.fa]
api = "anthropic"
base_url = "{anthropic_url}"
api_key_env = "FAKE_ANTHROPIC_KEY"
auth = "x-api-key"
[profiles.fo]
provider = "fo"
model = "big-model"
small_model = "small-model"
big_model = "huge-model"
[profiles.fa]
provider = "fa"
model = "fa-main"
small_model = "fa-small"
{extra}
"""


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"FAKE_OPENAI_KEY": "sk-fake-openai-SECRET123", "FAKE_ANTHROPIC_KEY": "sk-ant-fake-SECRET456"}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


@pytest.fixture
def start_proxy() -> Iterator[Callable[..., RunningProxy]]:
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(
        text: str,
        *,
        default_profile: str | None = None,
        ping_interval: float | None = None,
        commit_after: float | None = None,
        max_body_bytes: int | None = None,
    ) -> RunningProxy:
        write_config(text)
        config = load_config()
        token = ensure_token()
        app = ProxyApp(
            config,
            token=token,
            default_profile=default_profile,
            ping_interval=ping_interval,
            commit_after=commit_after,
            max_body_bytes=max_body_bytes,
        )
        setup_logging(to_stderr=False)
        sock = bind_socket("127.0.0.1", 0)
        server = uvicorn.Server(
            uvicorn.Config(app, lifespan="on", log_level="warning", http="httptools", loop="asyncio")
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        running.append((server, thread))  # before the wait: the finalizer stops it even if it never starts
        wait_for(lambda: server.started, what="the proxy to start")
        return RunningProxy(f"http://127.0.0.1:{sock.getsockname()[1]}", token, app)

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)
