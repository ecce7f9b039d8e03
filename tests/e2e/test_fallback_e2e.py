"""A real `claude` session whose primary provider dies between turns: the next turn is served by the
profile's fallback, without the user doing anything (issue 16)."""

from __future__ import annotations

import json

from tests.conftest import write_config
from tests.fakes.upstream import RecordedRequest, Reply, openai_json, openai_text_stream


def _answer(text: str):  # type: ignore[no-untyped-def]
    def handle(r: RecordedRequest) -> Reply:
        body = r.json() or {}
        if not body.get("tools"):
            return openai_json('{"title": "t"}') if not body.get("stream") else openai_text_stream(['{"title": "t"}'])
        return openai_text_stream([text])

    return handle


def test_next_turn_goes_to_the_fallback_when_the_primary_dies(run_claude, upstream) -> None:  # type: ignore[no-untyped-def]
    primary = upstream(_answer("from the primary"))
    backup = upstream(_answer("from the fallback"))
    write_config(f"""
[proxy]
port = 0
[providers.prim]
api = "openai"
base_url = "{primary.url}/v1"
api_key_env = "FAKE_KEY"
[providers.back]
api = "openai"
base_url = "{backup.url}/v1"
api_key_env = "FAKE_KEY"
[profiles.main]
provider = "prim"
model = "p-model"
fallback = ["backup"]
[profiles.backup]
provider = "back"
model = "b-model"
""")
    first = run_claude("main", ["-p", "hello", "--output-format", "json"])
    assert first.code == 0, first.stderr
    assert json.loads(first.stdout)["result"] == "from the primary"
    sid = json.loads(first.stdout)["session_id"]
    primary.__exit__(None, None, None)  # the primary provider goes away mid-session
    second = run_claude("main", ["--resume", sid, "-p", "and now?", "--output-format", "json"])
    assert second.code == 0, second.stderr
    assert json.loads(second.stdout)["result"] == "from the fallback"
    replayed = [r.json() for r in backup.requests if r.method == "POST" and (r.json() or {}).get("tools")]
    assert replayed and any("hello" in json.dumps(b["messages"]) for b in replayed)  # the history moved along
