"""`doctor --probe`: one small request through the real proxy that asks the model to call a tool."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from hybridcc.doctor.model import Check, Context

PROBE_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
PROBE_PROMPT = "What is the weather in Paris right now? Use the get_weather tool; do not answer in prose."


def check_probe(ctx: Context) -> Iterator[Check]:
    import httpx

    from hybridcc.envplan import proxy_base_url
    from hybridcc.errors import HybridccError
    from hybridcc.proxy.sse import SSEDecoder
    from hybridcc.proxy_token import ensure_token
    from hybridcc.services import leases
    from hybridcc.services import proxy as svc

    assert ctx.config is not None
    config = ctx.config
    try:
        state, _ = svc.start(config, owner="session")
    except HybridccError as exc:
        yield Check("probe.proxy", "probe", "fail", f"could not start the proxy: {exc.message}", exc.hint or "")
        return
    lease = leases.take("proxy")
    try:
        for profile in ctx.profiles:
            cid, area = f"probe.{profile.name}", "probe"
            url = proxy_base_url(state.host, state.port, profile.name) + "/v1/messages"
            body = {"model": profile.model, "max_tokens": 512, "stream": True, "tools": [PROBE_TOOL],
                    "messages": [{"role": "user", "content": PROBE_PROMPT}]}  # fmt: skip
            headers = {"x-api-key": ensure_token(), "anthropic-version": "2023-06-01"}
            t0 = time.perf_counter()
            ttft: float | None = None
            events: list[dict[str, object]] = []
            try:
                with httpx.stream(
                    "POST", url, json=body, headers=headers, timeout=httpx.Timeout(max(ctx.timeout, 30.0), connect=3.0)
                ) as resp:
                    if resp.status_code != 200:
                        resp.read()
                        try:
                            msg = resp.json()["error"]["message"]
                        except (ValueError, KeyError, TypeError):
                            msg = resp.text[:200]
                        yield Check(
                            cid,
                            area,
                            "fail",
                            f"{profile.name}: HTTP {resp.status_code}: {msg}",
                            "fix what the message names, then re-run",
                        )
                        continue
                    decoder = SSEDecoder()
                    for raw in resp.iter_bytes():
                        for ev in decoder.feed(raw):
                            data = json.loads(ev.data)
                            if ttft is None and data.get("type") == "content_block_delta":
                                ttft = time.perf_counter() - t0
                            events.append(data)
            except httpx.HTTPError as exc:
                yield Check(
                    cid,
                    area,
                    "fail",
                    f"{profile.name}: the probe failed ({type(exc).__name__})",
                    "see `hybridcc proxy logs`",
                )
                continue
            yield _judge(cid, area, profile.name, events, ttft)
    finally:
        leases.release(lease)
        svc.release_if_unused(config)


def _judge(cid: str, area: str, profile: str, events: list[dict[str, object]], ttft: float | None) -> Check:
    errors = [e for e in events if e.get("type") == "error"]
    if errors:
        err = errors[0].get("error")
        return Check(cid, area, "fail", f"{profile}: the stream failed: {err}", "see `hybridcc proxy logs`")
    tools: dict[int, dict[str, str]] = {}
    text = ""
    usage: dict[str, object] = {}
    for e in events:
        kind = e.get("type")
        if kind == "content_block_start":
            block = e.get("content_block")
            if isinstance(block, dict) and block.get("type") == "tool_use":
                tools[int(str(e.get("index")))] = {"name": str(block.get("name")), "json": ""}
        elif kind == "content_block_delta":
            delta = e.get("delta")
            idx = int(str(e.get("index")))
            if isinstance(delta, dict):
                if delta.get("type") == "input_json_delta" and idx in tools:
                    tools[idx]["json"] += str(delta.get("partial_json", ""))
                elif delta.get("type") == "text_delta":
                    text += str(delta.get("text", ""))
        elif kind == "message_delta" and isinstance(e.get("usage"), dict):
            usage = e["usage"]  # type: ignore[assignment]
    timing = f"first token after {ttft * 1000:.0f} ms, " if ttft is not None else ""
    spent = f"{usage.get('input_tokens', '?')} in / {usage.get('output_tokens', '?')} out tokens"
    for call in tools.values():
        try:
            args = json.loads(call["json"] or "{}")
        except ValueError:
            args = None
        if call["name"] == "get_weather" and isinstance(args, dict) and isinstance(args.get("city"), str):
            return Check(
                cid, area, "ok", f"{profile}: well-formed tool call get_weather({json.dumps(args)}); {timing}{spent}"
            )
        return Check(cid, area, "fail", f"{profile}: malformed tool call {call['name']}({call['json'][:80]}); {timing}{spent}",
                     "this model may not drive Claude Code reliably: try another")  # fmt: skip
    return Check(cid, area, "fail", f"{profile}: answered in prose instead of calling the tool ({text[:80]!r}); {timing}{spent}",
                 "this model cannot drive Claude Code's tools: choose a tool-capable model")  # fmt: skip
