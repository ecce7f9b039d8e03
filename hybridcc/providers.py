"""Provider key resolution and endpoint helpers (the quirks table is :mod:`hybridcc.config.quirks`)."""

from __future__ import annotations

import os
import shlex
import subprocess
from urllib.parse import urlsplit

from hybridcc.config.schema import OllamaSettings, Provider
from hybridcc.errors import AuthError


def key_source(provider: Provider) -> str:
    """Where the key comes from, for humans: never the key itself."""
    if provider.api_key:
        return "inline api_key in config.toml"
    if provider.api_key_env:
        return f"${provider.api_key_env}"
    if provider.api_key_cmd:
        return f"command `{provider.api_key_cmd}`"
    return "no key needed"


def resolve_key(provider: Provider, *, env: dict[str, str] | None = None, timeout: float = 15.0) -> str | None:
    """The provider's API key from its source; None when it needs none. Raises AuthError."""
    environ = os.environ if env is None else env
    if provider.api_key:
        return provider.api_key
    if provider.api_key_env:
        value = environ.get(provider.api_key_env, "").strip()
        if not value:
            raise AuthError(
                f"provider {provider.name}: no API key — {provider.api_key_env} is not set",
                hint=f"export {provider.api_key_env}=… (or set providers.{provider.name}.api_key_cmd in config.toml)",
            )
        return value
    if provider.api_key_cmd:
        try:
            argv = shlex.split(provider.api_key_cmd)
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            raise AuthError(
                f"provider {provider.name}: api_key_cmd `{provider.api_key_cmd}` could not run ({exc})",
                hint=f"fix providers.{provider.name}.api_key_cmd in config.toml",
            ) from exc
        value = done.stdout.strip()
        if done.returncode != 0 or not value:
            why = f"exit {done.returncode}" if done.returncode else "printed nothing"
            raise AuthError(
                f"provider {provider.name}: api_key_cmd `{provider.api_key_cmd}` failed ({why})",
                hint="run that command yourself to see why, then fix it in config.toml",
            )
        return value.splitlines()[0].strip()
    return None


def key_ready(provider: Provider, env: dict[str, str] | None = None) -> bool:
    """True when a key is available or none is needed; never runs api_key_cmd."""
    if provider.api_key_cmd or provider.api_key:
        return True
    if provider.api_key_env:
        return bool((os.environ if env is None else env).get(provider.api_key_env, "").strip())
    return True


def ollama_base_url(settings: OllamaSettings, env: dict[str, str] | None = None) -> str:
    """``http://127.0.0.1:11434`` from ``OLLAMA_HOST`` (as Ollama reads it) or ``[ollama].host``."""
    environ = os.environ if env is None else env
    host = environ.get("OLLAMA_HOST") or settings.host
    if "://" not in host:
        host = "http://" + host
    parts = urlsplit(host)
    hostname = parts.hostname or "127.0.0.1"
    if hostname in ("0.0.0.0", "::", ""):  # a bind-all address is reached through loopback
        hostname = "127.0.0.1"
    port = parts.port or 11434
    if ":" in hostname:
        hostname = f"[{hostname}]"
    return f"{parts.scheme}://{hostname}:{port}"


def is_local_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def upstream_base(provider: Provider, settings: OllamaSettings) -> str:
    if provider.api == "ollama":
        return provider.base_url or ollama_base_url(settings)
    assert provider.base_url is not None  # the validator requires it for other wires
    return provider.base_url
