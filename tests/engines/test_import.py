"""`hybridcc import ccr`: a claude-code-router config.json as providers, a profile and rules."""

from __future__ import annotations

import json
import stat
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hybridcc import paths
from hybridcc.config import load_config
from hybridcc.engines import importer
from tests.conftest import CliResult, write_config

Cli = Callable[..., CliResult]
SECRET = "sk-or-v1-SECRET-never-printed-123"
SAMPLE: dict[str, Any] = {
    "LOG": True,
    "APIKEY": "ccr-client-key",
    "Providers": [
        {"name": "openrouter", "api_base_url": "https://openrouter.ai/api/v1/chat/completions", "api_key": SECRET,
         "models": ["google/gemini-2.5-pro", "anthropic/claude-sonnet-4"], "transformer": {"use": ["openrouter"]}},
        {"name": "deepseek", "api_base_url": "https://api.deepseek.com/chat/completions",
         "api_key": "$DEEPSEEK_API_KEY", "models": ["deepseek-chat", "deepseek-reasoner"],
         "transformer": {"use": ["deepseek"]}},
        {"name": "ollama", "api_base_url": "http://localhost:11434/v1/chat/completions", "api_key": "ollama",
         "models": ["qwen2.5-coder:latest"]},
        {"name": "work", "api_base_url": "https://llm.example.com/v1/chat/completions", "api_key": "${WORK_KEY}",
         "models": ["w-big", "w-small"]},
    ],
    "Router": {
        "default": "work,w-big",
        "background": "work,w-small",
        "think": "deepseek,deepseek-reasoner",
        "longContext": "openrouter,google/gemini-2.5-pro",
        "longContextThreshold": 90000,
        "webSearch": "openrouter,google/gemini-2.5-flash:online",
        "image": "ollama,qwen2.5-coder:latest",
    },
}  # fmt: skip


def _sample(tmp_path: Path, data: dict[str, Any] | None = None) -> Path:
    path = tmp_path / "ccr.json"
    path.write_text(json.dumps(data or SAMPLE), encoding="utf-8")
    return path


def test_every_router_key_becomes_a_rule(tmp_path: Path, cli: Cli) -> None:
    res = cli("import", "ccr", str(_sample(tmp_path)))
    config = load_config()
    prof = config.profiles["ccr"]
    assert (prof.provider, prof.model, prof.small_model) == ("work", "w-big", "w-small")
    rules = [(r.when, r.use, r.threshold) for r in prof.routes]
    assert rules == [
        ("background", "work/w-small", None),
        ("thinking", "ccr-deepseek/deepseek-reasoner", None),  # hybridcc's own "deepseek" is another endpoint
        ("long_context", "openrouter/google/gemini-2.5-pro", 90000),
        ("web_search", "openrouter/google/gemini-2.5-flash:online", None),
        ("image", "ccr-ollama/qwen2.5-coder:latest", None),
    ]
    work = config.providers["work"]
    assert (work.api, work.base_url, work.api_key_env) == ("openai", "https://llm.example.com/v1", "WORK_KEY")
    assert config.providers["ccr-deepseek"].api_key_env == "DEEPSEEK_API_KEY"  # "$VAR" -> api_key_env
    assert config.providers["ccr-deepseek"].base_url == "https://api.deepseek.com"
    assert config.providers["ccr-ollama"].needs_key is False  # a local placeholder key is not copied
    assert config.providers["ollama"].api == "ollama"  # the built-in is untouched
    # Same endpoint as the built-in: the built-in itself, reading the key from an env var (not copied).
    assert config.providers["openrouter"].api_key_env == "OPENROUTER_API_KEY"
    assert config.providers["openrouter"].api_key is None
    assert "OPENROUTER_API_KEY" in res.err and "Providers[0].api_key" in res.err
    text = paths.config_file().read_text(encoding="utf-8")
    assert SECRET not in text + res.out + res.err


def test_dry_run_prints_toml_and_writes_nothing(tmp_path: Path, cli: Cli) -> None:
    res = cli("import", "ccr", str(_sample(tmp_path)), "--dry-run", "--keep-keys", "--name", "mine")
    data = tomllib.loads(res.out)
    assert data["profiles"]["mine"]["routes"][0] == {"when": "background", "use": "work/w-small"}
    assert data["providers"]["openrouter"]["api_key"] == importer.HIDDEN
    assert SECRET not in res.out + res.err
    assert not paths.config_file().exists()


def test_keep_keys_stores_the_key_inline_in_a_private_file(tmp_path: Path, cli: Cli) -> None:
    write_config('default_profile = "anthropic"\n')
    res = cli("import", "ccr", str(_sample(tmp_path)), "--keep-keys")
    path = paths.config_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config().providers["openrouter"].api_key == SECRET
    assert paths.backup_file(path).exists()  # the previous file is kept
    assert 'default_profile = "anthropic"' in path.read_text(encoding="utf-8")
    assert SECRET not in res.out + res.err


def test_an_existing_profile_is_not_replaced_without_force(tmp_path: Path, cli: Cli) -> None:
    src = _sample(tmp_path)
    cli("import", "ccr", str(src))
    again = cli("import", "ccr", str(src), code=3)
    assert "profiles.ccr" in again.err and "--force" in again.err
    cli("import", "ccr", str(src), "--force")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"Providers": [}', "ccr.json:1:16: not valid JSON"),
        ("[1, 2]", 'not a claude-code-router config (no "Providers" list)'),
        ('{"Providers": [{"name": "a", "api_base_url": "http://x/v1/chat/completions"}]}', "Router.default: missing"),
        ('{"Providers": [{"name": "a", "api_base_url": "http://x/v1/chat/completions"}], "Router": {"default": "b,m"}}',
         'Router.default: no provider named "b"'),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, cli: Cli, content: str, expected: str) -> None:
    path = tmp_path / "ccr.json"
    path.write_text(content, encoding="utf-8")
    res = cli("import", "ccr", str(path), code=2)
    first = res.err.splitlines()[0]
    assert first.startswith("error: ") and expected in first, res.err
    assert "Traceback" not in res.err and not paths.config_file().exists()


def test_missing_default_file_says_to_pass_a_path(cli: Cli) -> None:
    res = cli("import", "ccr", code=2)
    assert ".claude-code-router/config.json: no such file" in res.err
