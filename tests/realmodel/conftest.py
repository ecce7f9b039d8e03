"""The `realmodel` group: the real `claude` CLI → hybridcc → a real llama.cpp `llama-server` → a
real Qwen2.5-Coder-0.5B-Instruct model (issue 17; facts in shared/LOCAL_MODELS.md).

Selected with ``pytest -m realmodel tests/realmodel`` (``.ci/realmodel`` does it); a run without
``-m`` leaves the group out, since it needs a 10-minute build and a 491 MB model. The binary
and the model come from ``scripts/ci-llama-server`` (``LLAMA_SERVER`` / ``LLAMA_MODEL``, or its
cache under ~/.cache/hybridcc-ci). The model's sha256 is checked again here against the pin in
that script: an unverified file is never run. Under CI=true a missing binary or model fails.

Servers are started once per session on 127.0.0.1 with port 0 (the port is read from the log)
and sample greedily (``--top-k 1``: one candidate whatever temperature a request sends, plus a
fixed seed), so a run is as repeatable as the server allows.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hybridcc.claude import NEWEST_TESTED
from tests.conftest import write_config
from tests.e2e.conftest import run_claude, start_session  # noqa: F401  (fixtures used here too)
from tests.helpers import IN_CI, wait_for

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "ci-llama-server"
_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hybridcc-ci"
# Read at import, before the autouse fixture scrubs the environment.
_ENV_SERVER = os.environ.get("LLAMA_SERVER", "")
_ENV_MODEL = os.environ.get("LLAMA_MODEL", "")
_ENV_CLAUDE = os.environ.get("HYBRIDCC_TEST_CLAUDE", "")
ALIAS = "qwen2.5-coder-0.5b"  # the model name the servers answer to
MAIN_CTX = 8192
TINY_CTX = 512  # smaller than Claude Code's shortest prompt (~1.5k tokens with --tools Bash)
PROFILES = ["local-openai", "local-anthropic"]  # see realmodel_config: /v1/chat/completions, /v1/messages


def _missing(msg: str) -> None:
    msg += ' (run `eval "$(scripts/ci-llama-server)"` first; bash .ci/realmodel does it)'
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


def pinned(name: str) -> str:
    """A pin of scripts/ci-llama-server (MODEL_SHA256, MODEL_NAME): defined once, there."""
    found = re.search(rf'^{name}="([^"]+)"', SCRIPT.read_text(encoding="utf-8"), re.M)
    assert found, f"no {name} in {SCRIPT}"
    return found.group(1)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="session")
def claude_exe() -> str:
    """One Claude Code release is enough here (the newest tested; the e2e group covers the others):
    the last of HYBRIDCC_TEST_CLAUDE, else ~/.cache/hybridcc-ci/claude-NEWEST."""
    given = [p for p in _ENV_CLAUDE.split(os.pathsep) if p]
    path = given[-1] if given else str(_CACHE / f"claude-{NEWEST_TESTED}" / "node_modules" / ".bin" / "claude")
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        msg = f"the real `claude` CLI is required at {path} (bash .ci/run installs it)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@dataclass(frozen=True)
class LlamaPaths:
    server: Path
    model: Path


@pytest.fixture(scope="session")
def llama_paths() -> LlamaPaths:
    server = Path(_ENV_SERVER) if _ENV_SERVER else next(iter(sorted(_CACHE.glob("llama-server-*/llama-server"))), None)
    model = Path(_ENV_MODEL) if _ENV_MODEL else _CACHE / "models" / pinned("MODEL_NAME")
    if server is None or not (server.is_file() and os.access(server, os.X_OK)):
        _missing(f"LLAMA_SERVER={_ENV_SERVER} is not an executable" if _ENV_SERVER
                 else f"llama-server is required (LLAMA_SERVER unset; none cached in {_CACHE})")  # fmt: skip
    if model is None or not model.is_file():
        _missing(f"LLAMA_MODEL={_ENV_MODEL} is not a file" if _ENV_MODEL
                 else f"the Qwen 0.5B GGUF model is required (LLAMA_MODEL unset; none in {_CACHE}/models)")  # fmt: skip
    assert server is not None and model is not None
    got, want = _sha256(model), pinned("MODEL_SHA256")
    assert got == want, f"{model}: sha256 {got} is not the pinned {want}; refusing to run an unverified model"
    return LlamaPaths(server, model)


@dataclass(frozen=True)
class LlamaServer:
    url: str  # http://127.0.0.1:PORT (no /v1)
    n_ctx: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@contextlib.contextmanager
def _serve(paths: LlamaPaths, n_ctx: int, log: Path) -> Iterator[LlamaServer]:
    argv = [str(paths.server), "-m", str(paths.model), "--alias", ALIAS, "--host", "127.0.0.1", "--port", "0",
            "-c", str(n_ctx), "-np", "1", "-t", "2", "--jinja", "--no-webui",
            "--temp", "0", "--top-k", "1", "--seed", "42"]  # fmt: skip
    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
    try:

        def bound() -> str | None:
            assert proc.poll() is None, f"llama-server exited with {proc.returncode}: {log.read_text()[-2000:]}"
            found = _LISTENING.search(log.read_text(encoding="utf-8", errors="replace"))
            return found.group(1) if found else None

        url = wait_for(bound, timeout=120, interval=0.1, what="llama-server to listen")

        def healthy() -> bool:
            assert proc.poll() is None, f"llama-server exited with {proc.returncode}: {log.read_text()[-2000:]}"
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(url + "/health", timeout=5).status_code == 200
            return False

        wait_for(healthy, timeout=120, interval=0.2, what="llama-server to load the model")
        yield LlamaServer(url, n_ctx, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


@pytest.fixture(scope="session")
def llama(llama_paths: LlamaPaths, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """The main server: the real model with an 8k window."""
    with _serve(llama_paths, MAIN_CTX, tmp_path_factory.mktemp("llama") / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def llama_tiny(llama_paths: LlamaPaths, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A second server whose window is too small for any Claude Code prompt."""
    with _serve(llama_paths, TINY_CTX, tmp_path_factory.mktemp("llama-tiny") / "server.log") as server:
        yield server


def realmodel_config(
    server: LlamaServer, *, tool_repair: bool | None = None, max_output: int = 256, context_window: int | None = None
) -> None:
    """Profiles ``local-openai`` (/v1/chat/completions) and ``local-anthropic`` (/v1/messages),
    both on ``server`` with no key, as a user of the llamacpp template would write them.
    ``context_window``: the profile claims it (else hybridcc asks the server's /props)."""
    repair = "" if tool_repair is None else f"tool_repair = {'true' if tool_repair else 'false'}\n"
    window = f"context_window = {context_window}\n" if context_window else ""
    write_config(f"""
[proxy]
port = 0
[providers.local-openai]
api = "openai"
base_url = "{server.url}/v1"
quirks = "llamacpp"
timeout = 600.0
{repair}[providers.local-anthropic]
api = "anthropic"
base_url = "{server.url}"
quirks = "llamacpp"
timeout = 600.0
{repair}[profiles.local-openai]
provider = "local-openai"
model = "{ALIAS}"
max_output_tokens = {max_output}
{window}[profiles.local-anthropic]
provider = "local-anthropic"
model = "{ALIAS}"
max_output_tokens = {max_output}
{window}""")
