"""Custom conditions, the top-level [[routes]], capability-aware image/web_search rules and
`route explain --sensitive` (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hybridcc.config import load_config
from hybridcc.proxy.estimate import estimate_input_tokens
from hybridcc.proxy.rules import first_match, without_server_tools
from tests.conftest import write_config

CFG = """
default_profile = "main"
[providers.p]
api = "openai"
base_url = "http://127.0.0.1:9/v1"
[providers.ant]
api = "anthropic"
base_url = "https://api.anthropic.com"
quirks = "anthropic"
[providers.local]
api = "openai"
base_url = "http://127.0.0.1:8/v1"
[profiles.main]
provider = "p"
model = "big"
small_model = "small"
fallback = ["ant/claude-sonnet-4-6"]
[[profiles.main.routes]]
when = "custom"
use = "p/fetcher"
match = { tool = ["WebFetch", "mcp__browser__*"], slot = "main" }
[[profiles.main.routes]]
when = "custom"
use = "p/team-ml"
match = { header = { "X-Team" = "ml*" }, min_tokens = 3 }
[[profiles.main.routes]]
when = "image"
use = "p/vision"
[[profiles.main.routes]]
when = "web_search"
use = "ant/claude-sonnet-4-6"
[profiles.seer]
provider = "p"
model = "big"
vision = true
[[profiles.seer.routes]]
when = "image"
use = "p/vision"
[profiles.claude]
provider = "ant"
model = "claude-sonnet-4-6"
[[profiles.claude.routes]]
when = "web_search"
use = "p/never"
[profiles.cheap]
provider = "local"
model = "tiny"

[[routes]]
when = "background"
use = "cheap"
[[routes]]
when = "custom"
use = "p/huge"
match = { min_tokens = 5000, max_tokens = 100000, model = "claude-opus-*" }
"""

TOOLS = [{"name": "Bash", "input_schema": {"type": "object"}}]
WEB = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
IMAGE = [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": "AA=="}}]}]


def _use(profile: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> str | None:
    config = load_config()
    got = first_match(config.profiles[profile], body, headers or {}, estimate_input_tokens(body), config=config)
    return got[0].use if got else None


@pytest.fixture(autouse=True)
def _config() -> None:
    write_config(CFG)


@pytest.mark.parametrize(
    ("body", "headers", "want"),
    [
        (
            {"model": "big", "tools": [*TOOLS, {"name": "WebFetch", "input_schema": {}}], "messages": []},
            {},
            "p/fetcher",
        ),
        (
            {"model": "big", "tools": [{"name": "mcp__browser__open", "input_schema": {}}], "messages": []},
            {},
            "p/fetcher",
        ),
        # the tool is offered, but on the small slot: the slot condition fails
        ({"model": "small", "tools": [{"name": "WebFetch", "input_schema": {}}], "messages": []}, {}, None),
        (
            {"model": "big", "tools": TOOLS, "messages": [{"role": "user", "content": "hi"}]},
            {"x-team": "ml-infra"},
            "p/team-ml",
        ),
        ({"model": "big", "tools": TOOLS, "messages": []}, {"x-team": "web"}, None),
        # top-level rules, after the profile's own
        (
            {"model": "big", "tools": [], "output_config": {"format": {"type": "json_schema"}}, "messages": []},
            {},
            "cheap",
        ),
        (
            {"model": "claude-opus-4-7", "tools": TOOLS, "messages": [{"role": "user", "content": "x" * 40_000}]},
            {},
            "p/huge",
        ),
        ({"model": "claude-opus-4-7", "tools": TOOLS, "messages": [{"role": "user", "content": "x" * 400}]}, {}, None),
    ],
)
def test_custom_and_top_level_rules(body: dict[str, Any], headers: dict[str, str], want: str | None) -> None:
    assert _use("main", body, headers) == want


def test_top_level_rules_reach_every_profile_after_its_own() -> None:
    config = load_config()
    assert [r.scope for r in config.profiles["main"].routes] == ["profile"] * 4 + ["global"] * 2
    assert [r.use for r in config.profiles["cheap"].routes] == ["cheap", "p/huge"]


def test_image_reroutes_only_when_the_current_model_is_blind() -> None:
    body = {"model": "big", "tools": TOOLS, "messages": IMAGE}
    assert _use("main", body) == "p/vision"  # an OpenAI-wire model nobody declared vision-capable
    assert _use("seer", body) is None  # `vision = true`: it stays
    # without the config (no capability known) the rule decides alone, as before
    prof = load_config().profiles["seer"]
    assert first_match(prof, body, {}, 10) is not None


def test_web_search_goes_where_server_tools_run() -> None:
    body = {"model": "big", "tools": [*TOOLS, WEB], "messages": []}
    assert _use("main", body) == "ant/claude-sonnet-4-6"
    assert _use("claude", {**body, "model": "claude-sonnet-4-6"}) is None  # already on Anthropic's API


def test_server_tools_are_dropped_for_a_provider_that_cannot_run_them() -> None:
    body = {"model": "big", "tools": [*TOOLS, WEB], "tool_choice": {"type": "tool", "name": "web_search"},
            "messages": []}  # fmt: skip
    out, dropped = without_server_tools(body)
    assert dropped == ["web_search_20250305"] and out["tools"] == TOOLS and "tool_choice" not in out
    assert body["tools"][-1] == WEB  # the original is untouched (another chain entry may need it)
    same, none = without_server_tools({"model": "big", "tools": TOOLS})
    assert none == [] and same["tools"] == TOOLS
    only, _ = without_server_tools({"model": "big", "tools": [WEB], "tool_choice": {"type": "auto"}})
    assert "tools" not in only and "tool_choice" not in only


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ('when = "custom"\nuse = "cheap"', "exactly when"),
        ('when = "custom"\nuse = "cheap"\nmatch = { slot = "tiny" }', "routes[0].match.slot"),
        ('when = "custom"\nuse = "cheap"\nmatch = { colour = "red" }', "routes[0].match.colour: unknown key"),
        ('when = "custom"\nuse = "cheap"\nmatch = { tool = 3 }', "routes[0].match.tool"),
        ('when = "custom"\nuse = "cheap"\nmatch = { header = { x = 1 } }', "routes[0].match.header"),
        ('when = "custom"\nuse = "cheap"\nmatch = { min_tokens = 9, max_tokens = 1 }', "could never match"),
        ('when = "custom"\nuse = "cheap"\nmatch = {}', "expected a table of conditions"),
        ('when = "image"\nuse = "cheap"\nmatch = { slot = "small" }', "exactly when"),
        ('when = "image"\nuse = "nobody"', '"nobody": no profile'),
        ('when = "image"\nuse = "nope/x"', 'no provider named "nope"'),
    ],
)
def test_bad_custom_rules_are_config_errors(cli, rule: str, problem: str) -> None:  # type: ignore[no-untyped-def]
    write_config(CFG.split("[[routes]]")[0] + "[[routes]]\n" + rule + "\n")
    r = cli("config", "validate", code=3)
    assert problem in (r.out + r.err)
    assert "routes[0]" in (r.out + r.err) or "routes:" in (r.out + r.err)


def test_bad_policy_paths_are_a_config_error(cli) -> None:  # type: ignore[no-untyped-def]
    write_config(CFG + '\n[policy]\nsensitive_paths = "~/x"\n')
    r = cli("config", "validate", code=3)
    assert "policy.sensitive_paths" in (r.out + r.err)


def test_route_explain_custom_header_and_global(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("route", "explain", "--header", "x-team=ml-core")
    assert r.out.splitlines()[0].startswith(
        "rule: when custom → p/team-ml (custom: about 4 input tokens, header x-team)"
    )
    r = cli("route", "explain", "--profile", "cheap", "--model", "claude-opus-4-7", "--body", _big_body(tmp_path))
    assert "(top-level [[routes]])" in r.out.splitlines()[0]
    cli("route", "explain", "--header", "nonsense", code=2)


def _big_body(tmp_path: Path) -> str:
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"model": "x", "messages": [{"role": "user", "content": "y" * 40_000}]}))
    return str(path)


def test_route_explain_sensitive_refuses_remote_entries(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("route", "explain", "--sensitive")
    lines = r.out.splitlines()
    assert lines[0] == "profile: main (chosen by the policy for sensitive work)"  # as `run --sensitive` would
    assert lines[2].startswith("1. p/big") and "local" in lines[2] and "refused" not in lines[2]
    assert lines[3].startswith("2. ant/claude-sonnet-4-6") and "remote, refused: not local" in lines[3]
    assert not any(line.startswith("REFUSED") for line in lines)
    # a remote profile named explicitly: refused outright, nothing would be sent
    r = cli("route", "explain", "--sensitive", "--profile", "claude")
    assert "REFUSED: ant is not local and the session is local-only" in r.out
    r = cli("route", "explain", "--complexity", "simple")
    assert r.out.startswith("profile: main (chosen by the policy for simple work)")
    assert "rule: when background → cheap" in r.out and "2. p/small" in r.out  # the small slot: background
    cli("route", "explain", "--complexity", "huge", code=2)
    # the web_search rule sends it to Anthropic: in a sensitive session that is refused outright
    body = tmp_path / "web.json"
    body.write_text(json.dumps({"model": "big", "tools": [WEB], "messages": []}))
    r = cli("route", "explain", "--sensitive", "--body", str(body))
    assert "REFUSED: ant is not local" in r.out
    r = cli("route", "explain", "--body", str(body))
    assert "REFUSED" not in r.out and "1. ant/claude-sonnet-4-6" in r.out
    # not sensitive, a provider that cannot run server tools drops them (and says so)
    r = cli("route", "explain", "--profile", "cheap", "--body", str(body))
    assert "drops web_search_20250305" in r.out


def test_the_token_estimate_runs_only_for_rules_that_need_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Estimating a long session's input costs far more than matching (bench/routing_bench.py
    measures both): rules without a token condition must never pay for it."""
    from hybridcc.proxy import rules

    calls: list[int] = []

    def counting(body: dict[str, object]) -> int:
        calls.append(1)
        return 5

    monkeypatch.setattr(rules, "estimate_input_tokens", counting)
    write_config(CFG.split("[[routes]]")[0].replace("min_tokens = 3", 'tool = "Missing"'))
    config = load_config()
    prof = config.profiles["main"]
    body = {"model": "big", "messages": [{"role": "user", "content": "hi"}]}
    assert first_match(prof, body, {}, config=config) is None
    assert calls == []  # no rule here has a token condition
    write_config(CFG.split("[[routes]]")[0])  # min_tokens = 3: now the estimate is needed, once
    config = load_config()
    first_match(config.profiles["main"], body, {}, config=config)
    assert calls == [1]
