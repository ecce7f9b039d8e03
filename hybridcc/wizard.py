"""`hybridcc init`: detect what this machine has and write a first config.toml."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from hybridcc import paths
from hybridcc.config.builtin import BUILTIN
from hybridcc.config.edit import save_text
from hybridcc.config.schema import OllamaSettings
from hybridcc.errors import ConfigError, HybridccError
from hybridcc.fsutil import atomic_write
from hybridcc.providers import ollama_base_url
from hybridcc.proxy_token import ensure_token

# Profile preference when several are ready: local first (free, private), then by key found.
KEY_VARS: Final = {
    "openrouter": "OPENROUTER_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
}


@dataclass
class Detection:
    claude_path: str | None = None
    claude_version: str | None = None
    ollama_binary: str | None = None
    ollama_url: str = ""
    ollama_version: str | None = None
    ollama_models: list[str] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # profile → env var that holds a key

    def proposals(self) -> list[str]:
        """Usable profiles, best first: a local Ollama with models, a provider whose key is set,
        an installed Ollama, then the anthropic profile on the user's own claude login. Never a
        profile whose tool or key is missing while a usable one exists (issue 12)."""
        out: list[str] = []
        if self.ollama_version and self.ollama_models:
            out.append("ollama")
        out.extend(p for p in KEY_VARS if p in self.keys)
        if "ollama" not in out and (self.ollama_binary or self.ollama_version):
            out.append("ollama")
        if "anthropic" not in out and self.claude_path:
            out.append("anthropic")  # no key: claude runs untouched, with its own login
        return out or ["anthropic"]

    def ollama_model(self) -> str | None:
        """A local model for the ollama profile when the built-in one is not pulled."""
        wanted = BUILTIN["profiles"]["ollama"]["model"]
        if not self.ollama_models or wanted in self.ollama_models:
            return None
        coders = [m for m in self.ollama_models if "coder" in m]
        return (coders or self.ollama_models)[0]


def detect() -> Detection:
    import shutil

    from hybridcc.claude import claude_version, find_claude

    d = Detection()
    try:
        exe = find_claude()
        d.claude_path = str(exe.path)
        d.claude_version = claude_version(exe.path)
    except HybridccError:
        pass
    d.ollama_binary = shutil.which("ollama")
    d.ollama_url = ollama_base_url(OllamaSettings())
    from hybridcc.services.ollama import list_models, server_version

    d.ollama_version = server_version(d.ollama_url, timeout=0.5)
    if d.ollama_version:
        d.ollama_models = list_models(d.ollama_url, timeout=1.0)
    d.keys = {p: var for p, var in KEY_VARS.items() if os.environ.get(var, "").strip()}
    return d


def render_config(default_profile: str, ollama_model: str | None) -> str:
    """A first config.toml: only what differs from the built-ins, with the rest as comments."""
    lines = [
        '# hybridcc configuration — reference: README.md, "Configuration".',
        "# Built-in providers and profiles (anthropic, openrouter, ollama, deepseek, gemini, openai)",
        "# apply without being listed here; any key below overrides them key by key.",
        "schema_version = 1",
        f'default_profile = "{default_profile}"',
        "",
        "[proxy]",
        'host = "127.0.0.1"',
        "port = 8787          # 0 = pick a free port at start",
        "",
        "[ollama]",
        "context_length = 65536   # Claude Code's first request alone is ~36–57k tokens",
        "",
    ]
    if ollama_model:
        lines += ["[profiles.ollama]", f'model = "{ollama_model}"', ""]
    lines += [
        "# Add any OpenAI- or Anthropic-compatible server, e.g.:",
        "# [providers.lmstudio]",
        '# api = "openai"',
        '# base_url = "http://127.0.0.1:1234/v1"',
        "# [profiles.lmstudio]",
        '# provider = "lmstudio"',
        '# model = "qwen2.5-coder-32b-instruct"',
        "",
    ]
    return "\n".join(lines)


def user_profiles(path: Path) -> list[str]:
    """Profiles the user defined in ``path`` (kept by `init --force`)."""
    from hybridcc.config.load import read_user_data

    if not path.exists():
        return []
    data, _found = read_user_data(path)
    profiles = data.get("profiles", {})
    return [str(k) for k in profiles] if isinstance(profiles, dict) else []


def _keep_user_tables(old_text: str, new_text: str) -> str:
    """``new_text`` with the old file's [providers.*] and [profiles.*] tables carried over; the
    user's own version wins over a table the new file also has."""
    import tomlkit
    from tomlkit.items import Table

    old, new = tomlkit.parse(old_text), tomlkit.parse(new_text)
    for key in ("providers", "profiles"):
        kept = old.get(key)
        if not isinstance(kept, Table):
            continue
        if key not in new:
            new.add(key, tomlkit.table(is_super_table=True))
        target = new[key]
        assert isinstance(target, Table)
        for name, table in kept.items():
            target[name] = table
    return tomlkit.dumps(new)


def write_initial_config(
    default_profile: str, ollama_model: str | None, *, force: bool, keep_profiles: bool = True
) -> Path:
    """Write a first config.toml; with ``force`` replace one, keeping the user's own providers and
    profiles unless ``keep_profiles`` is False (the old file is kept as config.toml.bak)."""
    path = paths.config_file()
    if path.exists() and not force:
        raise ConfigError(
            f"{path} already exists",
            hint="pass --force to replace it (the old file is kept as config.toml.bak)",
        )
    known = [*BUILTIN["profiles"], *(user_profiles(path) if keep_profiles else [])]
    if default_profile not in known:
        raise ConfigError(
            f'unknown profile "{default_profile}" for the new config', hint=f"choose one of: {', '.join(known)}"
        )
    text = render_config(default_profile, ollama_model)
    if path.exists():
        if keep_profiles:
            text = _keep_user_tables(path.read_text(encoding="utf-8"), text)
        save_text(path, text)  # validates, writes atomically, keeps config.toml.bak
    else:
        atomic_write(path, text, mode=0o600)
    ensure_token()
    return path


def check_endpoint(base_url: str, api: str, key_env: str | None, *, timeout: float = 5.0) -> tuple[bool, str]:
    """One live request to a custom endpoint's model list: (answered and accepted, what happened)."""
    import httpx

    key = os.environ.get(key_env, "").strip() if key_env else ""
    if key_env and not key:
        return False, f"{key_env} is not set in this shell"
    base = base_url.rstrip("/")
    headers: dict[str, str] = {}
    if api == "anthropic":
        url = base + "/v1/models"
        headers["anthropic-version"] = "2023-06-01"
        if key:
            headers["x-api-key"] = key
            headers["authorization"] = f"Bearer {key}"
    else:
        url = base + "/models"
        if key:
            headers["authorization"] = f"Bearer {key}"
    try:
        resp = httpx.get(url, headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)))
    except httpx.HTTPError as exc:
        return False, f"{url} did not answer ({type(exc).__name__})"
    if resp.status_code in (401, 403):
        return False, f"{url} rejected the key (HTTP {resp.status_code})"
    if resp.status_code >= 400:
        return False, f"{url} answered HTTP {resp.status_code}"
    return True, f"{url} answered"
