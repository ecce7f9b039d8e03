"""`hybridcc import ccr`: a claude-code-router config.json as hybridcc providers, a profile and rules.

ccr's ``Providers`` become ``[providers.NAME]`` (their ``/chat/completions`` URL cut back to the API
root), ``Router.default`` the profile's model, and ``Router.background/think/longContext/
webSearch/image`` its ``[[profiles.NAME.routes]]`` (hybridcc.proxy.rules). Keys: a ``$VAR`` key
becomes ``api_key_env = "VAR"``; a key written in the file is never copied by default — the
provider gets ``api_key_env = "NAME_API_KEY"`` and the user is told to set it — and with
``keep_keys`` it is stored inline in config.toml (0600). A key is never printed or logged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import tomlkit
from tomlkit.items import Table

from hybridcc.errors import ConfigError, UsageError

DEFAULT_PATH: Final = Path("~/.claude-code-router/config.json")
_ENV_REF = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")
# ccr Router key -> hybridcc rule kind (RULE_KINDS in config/schema.py)
ROUTER_RULES: Final = {"background": "background", "think": "thinking", "longContext": "long_context",
                       "webSearch": "web_search", "image": "image"}  # fmt: skip
# ccr transformer names and hosts -> hybridcc quirks rows
_QUIRKS_BY_TRANSFORMER: Final = {"openrouter": "openrouter", "deepseek": "deepseek", "gemini": "gemini"}
_QUIRKS_BY_HOST: Final = {"openrouter.ai": "openrouter", "api.deepseek.com": "deepseek",
                          "generativelanguage.googleapis.com": "gemini", "api.openai.com": "openai"}  # fmt: skip
HIDDEN: Final = "<hidden: the key from the ccr config>"


@dataclass
class Imported:
    """What an import adds: TOML tables and what the user must still do."""

    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    profile_name: str = "ccr"
    profile: dict[str, Any] = field(default_factory=dict)
    routes: list[dict[str, Any]] = field(default_factory=list)
    env_to_set: dict[str, str] = field(default_factory=dict)  # VAR -> where its key is in the ccr file
    inline: set[str] = field(default_factory=set)  # providers whose key is stored inline
    names: dict[str, str] = field(default_factory=dict)  # ccr provider name -> hybridcc provider name
    notes: list[str] = field(default_factory=list)


def read(path: Path) -> dict[str, Any]:
    """The ccr config as a dict; a one-line UsageError (exit 2) naming the file otherwise."""
    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file", hint="pass the path of claude-code-router's config.json") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})",
                         hint="fix the file (claude-code-router reads the same JSON)") from exc  # fmt: skip
    if not isinstance(data, dict) or not isinstance(data.get("Providers", data.get("providers")), list):
        raise UsageError(f'{path}: not a claude-code-router config (no "Providers" list)')
    return data


def _split_url(url: str) -> tuple[str, str]:
    """(api, API root) from ccr's full endpoint URL."""
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return "openai", url.removesuffix("/chat/completions")
    if url.endswith("/v1/messages"):
        return "anthropic", url.removesuffix("/v1/messages")
    return "openai", url


def _quirks(entry: dict[str, Any], base_url: str) -> str | None:
    from urllib.parse import urlsplit

    transformer = entry.get("transformer")
    uses = transformer.get("use", []) if isinstance(transformer, dict) else []
    for use in uses:
        name = use[0] if isinstance(use, list) and use else use
        if isinstance(name, str) and name in _QUIRKS_BY_TRANSFORMER:
            return _QUIRKS_BY_TRANSFORMER[name]
    return _QUIRKS_BY_HOST.get(urlsplit(base_url).hostname or "")


def _key_var(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_API_KEY"


def _provider(entry: dict[str, Any], index: int, out: Imported, keep_keys: bool) -> str:
    name = entry.get("name")
    url = entry.get("api_base_url")
    if not isinstance(name, str) or not name or not isinstance(url, str):
        raise UsageError(f'Providers[{index}]: needs a "name" and an "api_base_url" string')
    from hybridcc.config.builtin import BUILTIN
    from hybridcc.providers import is_local_url

    api, base = _split_url(url)
    # A built-in provider keeps its meaning (`ollama` starts Ollama, …): an import never redefines one.
    # The same endpoint under the same name is the built-in itself: only its key source is written.
    builtin = BUILTIN["providers"].get(name)
    same = isinstance(builtin, dict) and builtin.get("api") == api and builtin.get("base_url") == base
    ours = f"ccr-{name}" if (builtin is not None and not same) else name
    if ours != name:
        out.notes.append(f'provider "{name}" imported as "{ours}" (hybridcc has a built-in "{name}" elsewhere)')
    out.names[name] = ours
    if base.startswith("https://generativelanguage.googleapis.com") and "/openai" not in base:
        base, api = "https://generativelanguage.googleapis.com/v1beta/openai", "openai"  # Gemini's OpenAI wire
        out.notes.append(f"{name}: Gemini's native URL replaced by its OpenAI-compatible one ({base})")
    table: dict[str, Any] = {} if same else {"api": api, "base_url": base}
    quirks = _quirks(entry, base)
    if quirks and not same:
        table["quirks"] = quirks
    key = entry.get("api_key")
    ref = _ENV_REF.match(key) if isinstance(key, str) else None
    if ref:
        table["api_key_env"] = ref.group(1)
    elif isinstance(key, str) and key.strip() and is_local_url(base) and not keep_keys:
        out.notes.append(f"{ours}: a local server; its key in the file (usually a placeholder) was not copied")
    elif isinstance(key, str) and key.strip():
        if keep_keys:
            table["api_key"] = key
            out.inline.add(ours)
        else:
            var = _key_var(name)
            table["api_key_env"] = var
            out.env_to_set[var] = f"Providers[{index}].api_key ({name})"
    out.providers[ours] = table
    return ours


def _target(value: Any, key: str, names: dict[str, str]) -> tuple[str, str]:
    if not isinstance(value, str) or value.count(",") != 1:
        raise UsageError(f'Router.{key}: expected "provider,model", got {json.dumps(value)[:60]}')
    provider, model = (part.strip() for part in value.split(","))
    if provider not in names:
        raise UsageError(f'Router.{key}: no provider named "{provider}" in Providers')
    return names[provider], model


def convert(data: dict[str, Any], *, profile_name: str = "ccr", keep_keys: bool = False) -> Imported:
    """The hybridcc tables for a ccr config (pure; see the module docstring)."""
    out = Imported(profile_name=profile_name)
    for i, entry in enumerate(data.get("Providers", data.get("providers")) or []):
        if not isinstance(entry, dict):
            raise UsageError(f"Providers[{i}]: expected an object")
        _provider(entry, i, out, keep_keys)
    router = data.get("Router") or {}
    if not isinstance(router, dict) or not router.get("default"):
        raise UsageError('Router.default: missing (claude-code-router\'s "provider,model" for ordinary requests)')
    provider, model = _target(router["default"], "default", out.names)
    out.profile = {"provider": provider, "model": model}
    for key, kind in ROUTER_RULES.items():
        if not router.get(key):
            continue
        target_provider, target_model = _target(router[key], key, out.names)
        rule: dict[str, Any] = {"when": kind, "use": f"{target_provider}/{target_model}"}
        if kind == "long_context":
            threshold = router.get("longContextThreshold", 60000)
            if isinstance(threshold, int) and not isinstance(threshold, bool):
                rule["threshold"] = threshold
        if kind == "background" and target_provider == provider:
            out.profile["small_model"] = target_model  # the haiku slot too, not only the rule
        out.routes.append(rule)
    return out


def _doc_tables(imported: Imported, doc: tomlkit.TOMLDocument, *, mask: bool) -> None:
    for name, section in (("providers", imported.providers),):
        parent = doc.get(name)
        if not isinstance(parent, Table):
            parent = tomlkit.table(is_super_table=True)
            doc[name] = parent
        for key, values in section.items():
            if not values:
                continue  # a built-in provider used as it is
            table = tomlkit.table()
            for k, v in values.items():
                table.add(k, HIDDEN if (mask and k == "api_key") else v)
            parent[key] = table
    profiles = doc.get("profiles")
    if not isinstance(profiles, Table):
        profiles = tomlkit.table(is_super_table=True)
        doc["profiles"] = profiles
    prof = tomlkit.table()
    for k, v in imported.profile.items():
        prof.add(k, v)
    if imported.routes:
        routes = tomlkit.aot()
        for rule in imported.routes:
            routes.append(tomlkit.item(rule))
        prof.add("routes", routes)
    profiles[imported.profile_name] = prof


def preview(imported: Imported) -> str:
    """The TOML that would be added, keys hidden (``--dry-run``)."""
    doc = tomlkit.document()
    _doc_tables(imported, doc, mask=True)
    return tomlkit.dumps(doc)


def write(imported: Imported, *, path: Path, force: bool = False) -> Path:
    """Add the tables to the user's config.toml: validated, atomic, previous file kept as .bak."""
    from hybridcc.config.edit import save_text
    from hybridcc.config.load import read_user_data

    data, _found = read_user_data(path)
    clashes = [f"providers.{n}" for n in imported.providers if n in data.get("providers", {})]
    if imported.profile_name in data.get("profiles", {}):
        clashes.append(f"profiles.{imported.profile_name}")
    if clashes and not force:
        raise ConfigError(f"already in {path}: {', '.join(clashes)}",
                          hint="pass --name NAME for another profile name, or --force to replace them")  # fmt: skip
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    if "schema_version" not in doc:
        doc.add("schema_version", 1)
    _doc_tables(imported, doc, mask=False)
    save_text(path, tomlkit.dumps(doc))
    return path
