from __future__ import annotations

from collections.abc import Callable

from tests.fakes.upstream import FakeUpstream, Handler, openai_json, openai_text_stream
from tests.proxy.conftest import RunningProxy, config_text


def test_sdk_stream_through_openai(
    keys: dict[str, str], start_proxy: Callable[..., RunningProxy], upstream: Callable[[Handler], FakeUpstream]
) -> None:
    up = upstream(lambda r: openai_text_stream(["Hel", "lo"]) if r.json().get("stream") else openai_json("Hello"))
    proxy = start_proxy(config_text(up.url))
    client = proxy.client()
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Hello"
    assert final.model == "big-model"
    msg = client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].text == "Hello"
    assert up.requests[-1].json()["model"] == "small-model"
