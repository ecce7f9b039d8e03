"""Every configured profile's models in Claude Code's `/model` picker, and unknown names (issue 13).

Claude Code lists a gateway's models when ``CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY=1``: it
sends ``GET /v1/models?limit=1000`` and keeps the ids that start with ``claude`` or
``anthropic`` (2.1.197; 2.1.223 and later: contain them), showing ``display_name`` and, since
2.1.33x, ``description`` (shared/GATEWAY.md; the filters were read in both binaries). So each
model is offered as ``anthropic:PROVIDER/MODEL`` — ``anthropic/`` would name the built-in
``anthropic`` provider — and the proxy unwraps it back to the ``provider/model`` switch that
``/model`` has always taken. Measured: 2.1.332 fetches the list even with
``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1``; 2.1.197 then skips it, and only the tier names
and the one custom option (:func:`picker_env`) reach its picker.

Pure functions of the config: no proxy state, so the launcher imports them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from hybridcc.config.schema import Config, Profile, Provider

if TYPE_CHECKING:
    from hybridcc.proxy.asgi import Message, Send
    from hybridcc.proxy.routing import Route

PICKER_PREFIX: Final = "anthropic:"
# What hybridcc sends a model the profile does not know (routing.upstream_model's last branch).
FALLBACK_HEADER: Final = "x-hybridcc-model-fallback"
_CREATED: Final = "2025-01-01T00:00:00Z"  # the list shape wants a date; Claude Code ignores it
_DESCRIPTION_MAX: Final = 100  # Claude Code cuts a description at 100 characters
_SLOT_NAMES: Final = {"model": "main", "small": "small", "big": "big"}

UNKNOWN_NOTE: Final = "unknown model name"  # how a request-log note about one starts (doctor reads it)


@dataclass(frozen=True)
class PickerEntry:
    id: str  # what Claude Code sends as `model` once picked
    label: str  # "openrouter · gemini-2.5-pro"
    description: str
    provider: str
    model: str


def picker_id(provider: str, model: str) -> str:
    return f"{PICKER_PREFIX}{provider}/{model}"


def unwrap(requested: str) -> str:
    """A picker id as the ``provider/model`` switch it stands for; any other name unchanged."""
    return requested[len(PICKER_PREFIX) :] if requested.startswith(PICKER_PREFIX) else requested


def label(provider: str, model: str) -> str:
    """Readable: the provider, then the model without its vendor folder (the id keeps it)."""
    return f"{provider} · {model.rsplit('/', 1)[-1]}"


def _slots(profile: Profile) -> list[tuple[str, str]]:
    """(model, "main"/"small"/"big" joined) in the profile's order, one row per distinct model."""
    found: dict[str, list[str]] = {}
    for slot, model in (("model", profile.model), ("big", profile.big), ("small", profile.small)):
        found.setdefault(model, []).append(_SLOT_NAMES[slot])
    return [(model, "/".join(slots)) for model, slots in found.items()]


def _ordered_profiles(config: Config, current: Profile) -> list[Profile]:
    """The other profiles: the default one, the user's own, then the built-in ones."""
    from hybridcc.config.builtin import BUILTIN

    builtin = BUILTIN["profiles"]
    rest = [p for name, p in config.profiles.items() if name != current.name]
    rest.sort(key=lambda p: (p.name != config.default_profile, p.name in builtin))  # stable: else config order
    return rest


def _offered(config: Config, profile: Profile, provider: Provider) -> bool:
    """Whether another profile is worth a row: its provider has its key (the built-in profiles
    without one would only answer "… is not set"), and it is not a built-in local template
    nobody set up (llama.cpp, vLLM, LM Studio, Ollama unless it is the default profile)."""
    from hybridcc.config.builtin import BUILTIN
    from hybridcc.providers import key_ready

    if not key_ready(provider):
        return False
    keyed = bool(provider.api_key_env or provider.api_key_cmd or provider.api_key)
    return keyed or profile.name not in BUILTIN["profiles"] or profile.name == config.default_profile


def entries(config: Config, current: Profile, *, local_only: bool = False) -> list[PickerEntry]:
    """The picker's rows for a session on ``current``: every other profile's models, one row per
    provider/model, the default profile first. The session's own models are left out: the tier
    rows (:func:`tier_env`) already show them. ``local_only`` (a privacy = "local" or sensitive
    session) keeps only what the proxy would serve there: offering the rest would only earn a 403.
    """
    from hybridcc.proxy.routing import is_local, target

    rows: list[PickerEntry] = []
    seen = {picker_id(current.provider, m) for m in current.models()}
    for profile in _ordered_profiles(config, current):
        provider = config.providers.get(profile.provider)
        if provider is None or not _offered(config, profile, provider):
            continue
        for model, slots in _slots(profile):
            ident = picker_id(profile.provider, model)
            if ident in seen:
                continue
            if local_only and not is_local(target(config, current, f"{profile.provider}/{model}", ident)):
                continue
            seen.add(ident)
            text = f"profile {profile.name}, {slots} · {profile.provider}/{model}"
            rows.append(
                PickerEntry(ident, label(profile.provider, model), text[:_DESCRIPTION_MAX], profile.provider, model)
            )
    return rows


def models_list(config: Config, current: Profile, *, local_only: bool = False) -> dict[str, Any]:
    """``GET /v1/models`` in Anthropic's list shape, plus the ``description`` Claude Code shows.

    The session's own models come first under their plain names, for any client that lists
    models; Claude Code's filter drops those (no "claude"/"anthropic" in them), so its picker
    shows them once, as the tier rows, and the other profiles' models as picker ids.
    """
    held = dict(_slots(current))
    own = [PickerEntry(m, label(current.provider, m), f"profile {current.name} (this session), {held[m]}",
                       current.provider, m) for m in current.models()]  # fmt: skip
    data = [
        {"type": "model", "id": e.id, "display_name": e.label, "description": e.description, "created_at": _CREATED}
        for e in [*own, *entries(config, current, local_only=local_only)]
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def tier_env(
    config: Config, profile: Profile, *, main: str, big: str, small: str, local_only: bool = False
) -> dict[str, str]:
    """Readable names for the picker's tier rows (which showed the bare model name three times),
    and the one custom row every Claude Code release shows: another profile's main model, so a
    2.1.197 session without discovery still offers a second provider."""
    provider = profile.provider
    held = dict(_slots(profile))  # a model in two slots says so: the rows differ by their tier only
    env: dict[str, str] = {}
    for tier, model, slot in (("SONNET", main, "main"), ("OPUS", big, "big"), ("FABLE", big, "big"),
                              ("HAIKU", small, "small")):  # fmt: skip
        slots = held.get(model, slot)
        env[f"ANTHROPIC_DEFAULT_{tier}_MODEL_NAME"] = label(provider, model)
        env[f"ANTHROPIC_DEFAULT_{tier}_MODEL_DESCRIPTION"] = (
            f"{tier.title()} row: profile {profile.name}, {slots} · {provider}/{model}"
        )
    other = next(iter(entries(config, profile, local_only=local_only)), None)
    if other is not None:
        env["ANTHROPIC_CUSTOM_MODEL_OPTION"] = other.id
        env["ANTHROPIC_CUSTOM_MODEL_OPTION_NAME"] = other.label
        env["ANTHROPIC_CUSTOM_MODEL_OPTION_DESCRIPTION"] = other.description
    return env


def unknown_model(config: Config, profile: Profile, requested: str) -> bool:
    """True when routing serves ``requested`` (already unwrapped) with the profile's main model
    only because no rule knows the name: the mirror of ``routing.upstream_model``'s branches."""
    if requested in profile.models():
        return False
    head, sep, rest = requested.partition("/")
    if sep and rest and head in config.providers:
        return False
    lowered = requested.lower()
    # Aliases and Claude names are mapped to the profile's slots on purpose (Claude Code's own
    # background requests use them), not unknown.
    return lowered not in ("haiku", "sonnet", "opus") and not lowered.startswith("claude")


def fallback_note(profile: Profile, requested: str) -> str:
    return f'{UNKNOWN_NOTE} "{requested}": served by profile {profile.name}\'s main model {profile.model}'


def with_fallback_header(send: Send, requested: str, route: Route) -> Send:
    """``send`` that adds ``x-hybridcc-model-fallback: REQUESTED -> provider/model`` to the
    response start, whichever wire answers (ASCII only: a header value is latin-1)."""
    text = f"{requested} -> {route.provider.name}/{route.model}"
    value = "".join(c if " " <= c <= "~" else "?" for c in text)[:200].encode("ascii")

    async def noted(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (FALLBACK_HEADER.encode(), value)]}
        await send(message)

    return noted
