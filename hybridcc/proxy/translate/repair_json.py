"""Lenient JSON for tool-call repair: a resumable bracket matcher, a forgiving parser, schema fitting.

Network-free and pure. Small local models write almost-JSON (single quotes, trailing commas,
Python literals, arguments as a JSON string); these helpers accept that much and no more, so
prose that merely contains braces is never mistaken for a call (issue 17).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

_CLOSER: Final = {"{": "}", "[": "]"}
_INT: Final = re.compile(r"-?\d+")
_NUM: Final = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_MAX_DEPTH: Final = 12
_WORD: Final = re.compile(r"[A-Za-z_]+")


@dataclass
class Balance:
    """Progress of matching the brackets of one JSON value; resumes where the last call stopped.

    A streamed call is re-examined on every delta, so rescanning from its start each time would
    be quadratic in its length; the state below makes the whole scan linear.
    """

    start: int
    pos: int = -1
    stack: list[str] = field(default_factory=list)
    quote: str | None = None
    escaped: bool = False
    end: int | None = None  # index after the matching closer
    broken: bool = False  # a closer that does not match: not JSON

    def scan(self, s: str) -> None:
        if self.end is not None or self.broken:
            return
        i = self.start if self.pos < 0 else self.pos
        stack, quote, escaped = self.stack, self.quote, self.escaped
        n = len(s)
        while i < n:
            ch = s[i]
            i += 1
            if quote is not None:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == quote:
                    quote = None
            elif ch in "\"'":
                quote = ch
            elif ch in "{[":
                stack.append(_CLOSER[ch])
            elif ch in "}]":
                if not stack or stack[-1] != ch:
                    self.broken = True
                    break
                stack.pop()
                if not stack:
                    self.end = i
                    break
        self.pos, self.quote, self.escaped = i, quote, escaped

    def closed_by_force(self, s: str, *, max_missing: int = 1) -> str | None:
        """The value with up to ``max_missing`` closers added, for a message that ended early."""
        if self.end is not None or self.broken or self.quote is not None or len(self.stack) > max_missing:
            return None
        return s[self.start :].rstrip() + "".join(reversed(self.stack))


def _normalize(text: str) -> str:
    """Single-quoted strings → double-quoted, trailing commas dropped, Python literals → JSON."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            j = i + 1
            buf: list[str] = []
            while j < n and text[j] != ch:
                if text[j] == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    buf.append(nxt if (ch == "'" and nxt == "'") else text[j : j + 2])
                    j += 2
                    continue
                buf.append('\\"' if (ch == "'" and text[j] == '"') else text[j])
                j += 1
            out.append('"' + "".join(buf) + '"')
            i = j + 1
            continue
        if ch == ",":
            k = i + 1
            while k < n and text[k].isspace():
                k += 1
            if k < n and text[k] in "}]":
                i += 1
                continue
        if ch.isalpha():
            m = _WORD.match(text, i)
            word = m.group(0) if m else ch
            out.append({"True": "true", "False": "false", "None": "null"}.get(word, word))
            i += len(word)
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def loads_loose(text: str) -> tuple[bool, Any]:
    """``(True, value)`` for JSON or almost-JSON, ``(False, None)`` otherwise."""
    for candidate in (text, None):
        try:
            return True, json.loads(candidate if candidate is not None else _normalize(text), strict=False)
        except ValueError:
            continue
    return False, None


def _types(schema: dict[str, Any]) -> list[str] | None:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [k for k in kind if isinstance(k, str)]
    return None


def fit(value: Any, schema: Any, depth: int = 0) -> tuple[bool, Any]:
    """Check ``value`` against a JSON schema, applying light repairs; ``(ok, repaired value)``.

    Checked: ``type`` (string/number/integer/boolean/object/array/null), ``required``,
    ``properties``, ``items``, ``enum``, ``anyOf``/``oneOf``. Anything else is trusted: the
    client validates the call again and reports a mistake back to the model.
    """
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return True, value
    enum = schema.get("enum")
    types = _types(schema)
    if types is None:
        alternatives = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(alternatives, list) and alternatives:
            for alt in alternatives:
                ok, fixed = fit(value, alt, depth + 1)
                if ok:
                    return True, fixed
            return False, None
        ok, fixed = True, value
    else:
        for kind in types:
            ok, fixed = _coerce(value, kind, schema, depth)
            if ok:
                break
        else:
            return False, None
    if isinstance(enum, list) and fixed not in enum:
        return False, None
    return True, fixed


def _coerce(value: Any, kind: str, schema: dict[str, Any], depth: int) -> tuple[bool, Any]:
    if kind == "object":
        if isinstance(value, str):  # arguments sent as a JSON string
            ok, value = loads_loose(value)
            if not ok:
                return False, None
        return _object(value, schema, depth) if isinstance(value, dict) else (False, None)
    if kind == "array":
        if isinstance(value, str):
            ok, value = loads_loose(value)
            if not ok:
                return False, None
        if not isinstance(value, list):
            return False, None
        out = []
        for item in value:
            ok, fixed = fit(item, schema.get("items"), depth + 1)
            if not ok:
                return False, None
            out.append(fixed)
        return True, out
    if kind == "string":
        if isinstance(value, str):
            return True, value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return True, str(value)
        return False, None
    if kind == "integer":
        if isinstance(value, bool):
            return False, None
        if isinstance(value, int):
            return True, value
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        if isinstance(value, str) and _INT.fullmatch(value.strip()):
            return True, int(value.strip())
        return False, None
    if kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return True, value
        if isinstance(value, str) and _NUM.fullmatch(value.strip()):
            number = float(value.strip())
            return True, int(number) if _INT.fullmatch(value.strip()) else number
        return False, None
    if kind == "boolean":
        if isinstance(value, bool):
            return True, value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return True, value.strip().lower() == "true"
        return False, None
    if kind == "null":
        return (True, None) if value is None else (False, None)
    return True, value  # a type we do not know: trust it


def _object(value: dict[str, Any], schema: dict[str, Any], depth: int) -> tuple[bool, Any]:
    props = schema.get("properties")
    props = props if isinstance(props, dict) else {}
    required = schema.get("required")
    required = [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
    closed = schema.get("additionalProperties") is False
    out: dict[str, Any] = {}
    for key, item in value.items():
        sub = props.get(key)
        if sub is None:
            if not closed:
                out[key] = item
            continue  # a key the tool does not know: dropped rather than failing the call
        if item is None and key not in required and "null" not in (_types(sub) or ["null"]):
            continue  # `"timeout": null` for an optional field means "not given"
        ok, fixed = fit(item, sub, depth + 1)
        if not ok:
            return False, None
        out[key] = fixed
    if any(r not in out for r in required):
        return False, None
    return True, out
