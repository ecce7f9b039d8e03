"""`doctor --probe`: one small request through the real proxy that asks the model to call a tool.

The verdict says how tool calls arrive: ``native`` (the provider sent a real tool call),
``repaired`` (the model wrote it as text and the proxy's tool-call repair turned it into one;
issue 17) or ``prose`` (no call at all). The proxy's request log tells native from repaired: the
probe marks its request with its own session id and reads that record's ``repaired_tool_calls``.
"""

from __future__ import annotations

import functools
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from hybridcc.doctor.model import Check, Context

PROBE_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
PROBE_PROMPT = "What is the weather in Paris right now? Use the get_weather tool; do not answer in prose."
SESSION_HEADER: Final = "x-claude-code-session-id"  # kept in the request record (proxy/record.py)
LOG_WAIT: Final = 2.0  # seconds: the record is written just after the response ends


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
            session = "hybridcc-probe-" + secrets.token_hex(8)
            headers = {"x-api-key": ensure_token(), "anthropic-version": "2023-06-01", SESSION_HEADER: session}
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
            yield _judge(cid, area, profile.name, events, ttft, functools.partial(_repaired_calls, session))
    finally:
        leases.release(lease)
        svc.release_if_unused(config)


def _repaired_calls(session: str) -> int | None:
    """``repaired_tool_calls`` of the probe's own request record; None if it cannot be found."""
    from hybridcc import paths

    deadline = time.monotonic() + LOG_WAIT
    while True:
        try:
            lines = paths.request_log_file().read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            lines = []
        for line in reversed(lines):
            if session in line:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("session_id") == session:
                    return int(record.get("repaired_tool_calls") or 0)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def usage_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The message's usage: ``message_start`` first, then what ``message_delta`` adds or updates.

    An Anthropic-wire server (llama.cpp's /v1/messages) sends the input figures only in
    ``message_start``; ``message_delta`` has the output count (and, on translated streams, the
    final figures). A ``None`` never overwrites a number."""
    usage: dict[str, Any] = {}
    for e in events:
        found: Any = None
        if e.get("type") == "message_start" and isinstance(e.get("message"), dict):
            found = e["message"].get("usage")
        elif e.get("type") == "message_delta":
            found = e.get("usage")
        if isinstance(found, dict):
            usage.update({k: v for k, v in found.items() if v is not None})
    return usage


def spent(usage: dict[str, Any]) -> str:
    """``"880 in (870 cached) / 12 out tokens"``: input counts cache reads and writes back in
    (Anthropic's ``input_tokens`` leaves them out, so a cached prompt showed as "1 in")."""
    parts = [usage.get(k) for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")]
    numbers = [n for n in parts if isinstance(n, int)]
    cached = sum(n for n in parts[1:] if isinstance(n, int))
    inp = (f"{sum(numbers)} in" + (f" ({cached} cached)" if cached else "")) if numbers else "? in"
    out = usage.get("output_tokens")
    return f"{inp} / {out if isinstance(out, int) else '?'} out tokens"


def _judge(
    cid: str,
    area: str,
    profile: str,
    events: list[dict[str, Any]],
    ttft: float | None,
    repaired: Callable[[], int | None] = lambda: None,
) -> Check:
    errors = [e for e in events if e.get("type") == "error"]
    if errors:
        err = errors[0].get("error")
        return Check(cid, area, "fail", f"{profile}: the stream failed: {err}", "see `hybridcc proxy logs`")
    tools: dict[int, dict[str, str]] = {}
    text = ""
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
    timing = f"first token after {ttft * 1000:.0f} ms, " if ttft is not None else ""
    figures = spent(usage_of(events))
    for call in tools.values():
        try:
            args = json.loads(call["json"] or "{}")
        except ValueError:
            args = None
        if call["name"] == "get_weather" and isinstance(args, dict) and isinstance(args.get("city"), str):
            how = "repaired (the model wrote the call as text)" if repaired() else "native"
            return Check(cid, area, "ok", f"{profile}: tool calls: {how}; well-formed tool call "
                         f"get_weather({json.dumps(args)}); {timing}{figures}")  # fmt: skip
        return Check(cid, area, "fail", f"{profile}: malformed tool call {call['name']}({call['json'][:80]}); {timing}{figures}",
                     "this model may not drive Claude Code reliably: try another")  # fmt: skip
    return Check(cid, area, "fail", f"{profile}: tool calls: prose — answered in prose instead of calling the tool "
                 f"({text[:80]!r}); {timing}{figures}",
                 "this model cannot drive Claude Code's tools: choose a tool-capable model, or turn tool repair on "
                 "(`tool_repair = true` under [providers.NAME])")  # fmt: skip
