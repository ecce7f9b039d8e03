"""Recognise one tool call written as text, in the formats real models use (issue 17).

Each parser looks at a buffer from a candidate's first character and answers NEED (the text
so far could still become a call: wait for more), MISS (it is not a call) or a :class:`Hit`
(the call ends at ``end``). Answers are *prefix-stable*: a MISS or a Hit on a prefix stays the
same answer for every continuation, and ``final=True`` (the message ended) never answers NEED.
That is what lets a stream be cut anywhere and still give the non-streaming result.

Formats: a bare JSON object ``{"name": …, "arguments"|"parameters": …}`` or a list of them, the
same inside a ```json fence, Hermes/Qwen ``<tool_call>…</tool_call>``, Mistral ``[TOOL_CALLS]``
(a JSON list, or ``name[ARGS]{…}``), Llama ``<|python_tag|>``, ``<function=name>{…}</function>``
and Qwen3-Coder's ``<function=name><parameter=key>value</parameter></function>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from hybridcc.proxy.translate.repair_json import Balance, fit, loads_loose
from hybridcc.proxy.translate.request import ToolNames

# Claude Code's stand-in for tools it has not loaded yet (ToolSearch): never a call target.
PLACEHOLDER_TOOLS: Final = frozenset({"DeferredToolPlaceholder"})
# Bounded look-ahead: a candidate longer than this is released as text.
MAX_HOLD: Final = 100_000
# Strong markers are special tokens no prose contains: they may start a call mid-line.
STRONG: Final = ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", "<function=")
FENCE_LANGS: Final = frozenset({"", "json", "json5", "jsonc", "tool_call", "tool_code", "tool_calls"})
NAME_KEYS: Final = ("name", "tool_name", "tool", "function")
ARG_KEYS: Final = ("arguments", "parameters", "input", "args", "tool_input")
# The keys a call object may have; any other key (a package.json's "version") means it is data.
CALL_KEYS: Final = frozenset({*NAME_KEYS, *ARG_KEYS, "id", "type", "call_id", "tool_call_id"})
_LIST_KEYS: Final = ("tool_calls", "function_calls")
_NAME: Final = re.compile(r"[A-Za-z0-9_.:\-]+")
_KEY: Final = re.compile(r"""(["'])([A-Za-z_]{0,40})\1""")
_KEY_PART: Final = re.compile(r"""["'][A-Za-z_]{0,40}""")
_PARAM: Final = re.compile(r"<parameter=([^>\s]+)>\n?(.*?)\n?(?:</parameter>|(?=<parameter=)|\Z)", re.S)


class Wait(Enum):
    NEED = "need"
    MISS = "miss"


NEED: Final = Wait.NEED
MISS: Final = Wait.MISS


@dataclass(frozen=True)
class ToolCall:
    """A call recovered from text: an offered tool's name and arguments that fit its schema."""

    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Hit:
    end: int
    calls: tuple[ToolCall, ...]


Answer = Wait | Hit


@dataclass(frozen=True)
class _Tool:
    name: str
    schema: dict[str, Any]


class Offered:
    """The tools a request offered, looked up the lenient ways a small model names them."""

    def __init__(self, tools: Any) -> None:
        self.by_name: dict[str, _Tool] = {}
        names = ToolNames()
        for tool in tools if isinstance(tools, list) else []:
            if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
                continue  # server tools (web_search…) run at Anthropic, not in the client
            name = tool.get("name")
            if not isinstance(name, str) or not name or name in PLACEHOLDER_TOOLS or tool.get("defer_loading"):
                continue
            schema = tool.get("input_schema")
            schema = dict(schema) if isinstance(schema, dict) else {}
            schema.setdefault("type", "object")
            entry = _Tool(name, schema)
            self.by_name[name] = entry
            self.by_name.setdefault(names.shorten(name), entry)  # the name the OpenAI wire showed
        self._folded: dict[str, _Tool | None] = {}
        for key, entry in self.by_name.items():
            folded = key.lower()
            seen = self._folded.get(folded, entry)
            self._folded[folded] = entry if seen is entry else None  # ambiguous: no guess

    def __bool__(self) -> bool:
        return bool(self.by_name)

    def lookup(self, name: Any) -> _Tool | None:
        if not isinstance(name, str):
            return None
        name = name.strip()
        return self.by_name.get(name) or self._folded.get(name.lower())

    def make(self, name: Any, args: Any) -> ToolCall | None:
        tool = self.lookup(name)
        if tool is None:
            return None
        if args is None or (isinstance(args, str) and not args.strip()):
            args = {}
        ok, fixed = fit(args, tool.schema)
        return ToolCall(tool.name, fixed) if ok and isinstance(fixed, dict) else None

    def call(self, item: Any) -> ToolCall | None:
        if not isinstance(item, dict) or not item or not set(item) <= CALL_KEYS:
            return None
        fn = item.get("function")
        if isinstance(fn, dict):  # OpenAI's own shape {"type": "function", "function": {…}}
            if not set(fn) <= CALL_KEYS:
                return None
            item = {k: v for k, v in item.items() if k != "function"} | fn
        name = next((item[k] for k in NAME_KEYS if isinstance(item.get(k), str)), None)
        args = next((item[k] for k in ARG_KEYS if k in item), None)
        return self.make(name, args)

    def calls(self, value: Any) -> tuple[ToolCall, ...] | None:
        if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _LIST_KEYS:
            value = next(iter(value.values()))
        items = value if isinstance(value, list) else [value]
        out = [self.call(item) for item in items]
        if not out or any(c is None for c in out):
            return None
        return tuple(c for c in out if c is not None)


def skip_ws(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i].isspace():
        i += 1
    return i


def _prefix_of(s: str, i: int, token: str) -> bool:
    """``s[i:]`` is a proper, non-empty-or-empty beginning of ``token`` (more text may complete it)."""
    return len(s) - i < len(token) and token.startswith(s[i:])


class Parser:
    """Parses candidates in one growing buffer; ``memo`` keeps bracket scans between calls."""

    def __init__(self, offered: Offered) -> None:
        self.offered = offered
        self.memo: dict[int, Balance] = {}

    def reset(self) -> None:
        self.memo.clear()  # the buffer was cut at the front: positions moved

    # -- shared pieces ---------------------------------------------------------------------
    def _end(self, final: bool) -> Wait:
        return MISS if final else NEED

    def optional(self, s: str, p: int, tokens: tuple[str, ...], final: bool) -> int | Wait:
        """Position after one of ``tokens`` (after whitespace), or ``p`` when none follows."""
        i = skip_ws(s, p)
        for token in tokens:
            if s.startswith(token, i):
                return i + len(token)
        if not final and any(_prefix_of(s, i, t) for t in tokens):
            return NEED
        return p

    def json_at(self, s: str, p: int, final: bool) -> tuple[int, Any] | Wait:
        """A JSON value starting at ``s[p]`` (``{`` or ``[``): its end and value."""
        bal = self.memo.get(p)
        if bal is None:
            bal = self.memo[p] = Balance(p)
        bal.scan(s)
        if bal.broken:
            return MISS
        if bal.end is None:
            if len(s) - p > MAX_HOLD:
                return MISS
            if not final:
                return NEED
            text = bal.closed_by_force(s)  # a model that forgot the last brace
            end = len(s)
        else:
            if bal.end - p > MAX_HOLD:
                return MISS
            text, end = s[p : bal.end], bal.end
        if text is None:
            return MISS
        ok, value = loads_loose(text)
        return (end, value) if ok else MISS

    def calls_json(self, s: str, p: int, final: bool) -> Answer:
        got = self.json_at(s, p, final)
        if isinstance(got, Wait):
            return got
        calls = self.offered.calls(got[1])
        return Hit(got[0], calls) if calls else MISS

    def _head(self, s: str, p: int, final: bool) -> Wait | None:
        """Cheap early answer for bare JSON: the first key must be one a call object has."""
        i = skip_ws(s, p + 1)
        if s[p] == "[":
            if i >= len(s):
                return self._end(final)
            if s[i] != "{":
                return MISS
            i = skip_ws(s, i + 1)
        if i >= len(s):
            return self._end(final)
        m = _KEY.match(s, i)
        if m is None:
            partial = _KEY_PART.match(s, i)
            return NEED if not final and partial and partial.end() == len(s) else MISS
        return None if m.group(2) in CALL_KEYS or m.group(2) in _LIST_KEYS else MISS

    # -- entry -----------------------------------------------------------------------------
    def at(self, s: str, p: int, final: bool, *, strong_only: bool, in_fence: bool = False) -> Answer:
        """Is there a call starting at ``s[p]``?"""
        for marker in STRONG:
            if s.startswith(marker, p):
                return self._marker(marker, s, p + len(marker), final)
        if not final and any(_prefix_of(s, p, m) for m in STRONG):
            return NEED
        if strong_only:
            return MISS
        ch = s[p]
        if ch in "{[":
            head = self._head(s, p, final)
            return head if head is not None else self.calls_json(s, p, final)
        if ch == "`" and not in_fence:
            if s.startswith("```", p):
                return self._fence(s, p + 3, final)
            return NEED if not final and _prefix_of(s, p, "```") else MISS
        return MISS

    def _marker(self, marker: str, s: str, p: int, final: bool) -> Answer:
        if marker == "<tool_call>":
            return self._tool_call(s, p, final)
        if marker == "[TOOL_CALLS]":
            return self._mistral(s, p, final)
        if marker == "<|python_tag|>":
            return self._python_tag(s, p, final)
        return self._function(s, p, final)

    # -- formats ---------------------------------------------------------------------------
    def _fence(self, s: str, p: int, final: bool) -> Answer:
        nl = s.find("\n", p, p + 21)
        if nl < 0:
            return self._end(final) if len(s) - p <= 20 else MISS
        if s[p:nl].strip().lower() not in FENCE_LANGS:
            return MISS  # ```python and friends: ordinary code, released at the end of the line
        i = skip_ws(s, nl + 1)
        if i >= len(s):
            return self._end(final)
        got = self.at(s, i, final, strong_only=False, in_fence=True)
        if isinstance(got, Wait):
            return got
        k = skip_ws(s, got.end)
        if s.startswith("```", k):
            return Hit(k + 3, got.calls)
        if k >= len(s):
            return Hit(k, got.calls) if final else NEED
        return NEED if not final and _prefix_of(s, k, "```") else MISS

    def _tool_call(self, s: str, p: int, final: bool) -> Answer:
        i = skip_ws(s, p)
        if i >= len(s):
            return self._end(final)
        if s.startswith("<function=", i):
            got = self._function(s, i + len("<function="), final)
        elif _prefix_of(s, i, "<function="):
            return self._end(final)
        elif s[i] in "{[":
            got = self.calls_json(s, i, final)
        else:
            return MISS
        if isinstance(got, Wait):
            return got
        end = self.optional(s, got.end, ("</tool_call>",), final)
        return end if isinstance(end, Wait) else Hit(end, got.calls)

    def _python_tag(self, s: str, p: int, final: bool) -> Answer:
        calls: list[ToolCall] = []
        pos = p
        while True:  # Llama 3.2 may chain calls with "; "
            i = skip_ws(s, pos)
            if i >= len(s) or s[i] not in "{[":
                if calls and (i < len(s) or final):
                    break
                return self._end(final) if i >= len(s) else MISS
            got = self.calls_json(s, i, final)
            if isinstance(got, Wait):
                return got
            calls.extend(got.calls)
            sep = self.optional(s, got.end, (";",), final)
            if isinstance(sep, Wait):
                return sep
            pos = sep
            if sep == got.end:
                break
        end = self.optional(s, pos, ("<|eom_id|>", "<|eot_id|>"), final)
        return end if isinstance(end, Wait) else Hit(end, tuple(calls))

    def _mistral(self, s: str, p: int, final: bool) -> Answer:
        i = skip_ws(s, p)
        if i >= len(s):
            return self._end(final)
        if s[i] in "{[":
            return self.calls_json(s, i, final)
        m = _NAME.match(s, i)  # the newer form: name[ARGS]{…}, maybe with [CALL_ID]id between
        if m is None:
            return MISS
        name, j = m.group(0), m.end()
        if j >= len(s):
            return self._end(final)
        if s.startswith("[CALL_ID]", j):
            idm = _NAME.match(s, j + len("[CALL_ID]"))
            j = idm.end() if idm else j + len("[CALL_ID]")
            if j >= len(s):
                return self._end(final)
        if s.startswith("[ARGS]", j):
            j += len("[ARGS]")
        elif _prefix_of(s, j, "[ARGS]") or _prefix_of(s, j, "[CALL_ID]"):
            return self._end(final)
        else:
            return MISS
        i = skip_ws(s, j)
        if i >= len(s):
            return self._end(final)
        if s[i] != "{":
            return MISS
        got = self.json_at(s, i, final)
        if isinstance(got, Wait):
            return got
        call = self.offered.make(name, got[1])
        return Hit(got[0], (call,)) if call else MISS

    def _function(self, s: str, p: int, final: bool) -> Answer:
        m = _NAME.match(s, p)
        if m is None:
            return self._end(final) if p >= len(s) else MISS
        if m.end() >= len(s):
            return self._end(final) if m.end() - p <= 200 else MISS
        name, j = m.group(0), m.end()
        if s[j] != ">":
            return MISS
        i = skip_ws(s, j + 1)
        if i >= len(s):
            return self._end(final)
        if s[i] == "{":  # Llama 3.1: <function=name>{…}</function>
            got = self.json_at(s, i, final)
            if isinstance(got, Wait):
                return got
            call = self.offered.make(name, got[1])
            end = self.optional(s, got[0], ("</function>",), final)
            if isinstance(end, Wait):
                return end
            return Hit(end, (call,)) if call else MISS
        if s.startswith("</function>", i):
            call = self.offered.make(name, {})
            return Hit(i + len("</function>"), (call,)) if call else MISS
        if not s.startswith("<parameter=", i):
            prefix = _prefix_of(s, i, "<parameter=") or _prefix_of(s, i, "</function>")
            return self._end(final) if prefix else MISS
        close = s.find("</function>", i)  # Qwen3-Coder: one <parameter=key>value</parameter> per argument
        if (close if close >= 0 else len(s)) - p > MAX_HOLD:
            return MISS  # the same answer whether the closing tag came in this delta or a later one
        if close < 0 and not final:
            return NEED
        body = s[i:] if close < 0 else s[i:close]
        end = len(s) if close < 0 else close + len("</function>")
        args: dict[str, Any] = {}
        pos = 0
        for pm in _PARAM.finditer(body):
            if body[pos : pm.start()].strip():
                return MISS
            args[pm.group(1)] = pm.group(2)
            pos = pm.end()
        if body[pos:].strip():
            return MISS
        call = self.offered.make(name, args)
        return Hit(end, (call,)) if call else MISS
