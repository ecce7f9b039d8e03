"""The proxy's per-request JSON lines (logger "hybridcc.requests") for humans.

`proxy logs --requests` renders them as a table and `proxy serve` prints one line per request
while it runs in the foreground; `--json` keeps the raw lines.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Final, TextIO

COLUMNS: Final = ("time", "status", "profile", "model", "in", "out", "ms", "note")


def parse(line: str) -> dict[str, Any] | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def row(data: dict[str, Any]) -> tuple[str, ...]:
    ts = data.get("ts")
    when = time.strftime("%H:%M:%S", time.localtime(ts)) if isinstance(ts, (int, float)) else "?"
    model = str(data.get("model_used") or data.get("model_requested") or "")
    if data.get("model_requested") and data.get("model_used") and data["model_requested"] != data["model_used"]:
        model = f"{data['model_requested']} → {data['model_used']}"
    latency = data.get("latency_ms")
    note = (
        data.get("error")
        or data.get("model_note")
        or ("" if data.get("path") in (None, "/v1/messages") else data["path"])
    )
    return (
        when,
        str(data.get("status", "?")),
        str(data.get("profile") or "-"),
        model or "-",
        _num(data.get("input_tokens")),
        _num(data.get("output_tokens")),
        f"{latency:.0f}" if isinstance(latency, (int, float)) else "?",
        str(note),
    )


def line(data: dict[str, Any]) -> str:
    when, status, profile, model, tin, tout, ms, note = row(data)
    text = f"{when} {status} {profile} {model} in={tin} out={tout} {ms} ms"
    return f"{text} — {note}" if note else text


def _num(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"


class HumanRequestHandler(logging.Handler):
    """Prints one short line per request record (for `proxy serve` in the foreground)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(logging.INFO)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = parse(record.getMessage())
            if data is None:
                return
            out = self.stream or sys.stderr
            out.write(line(data) + "\n")
            out.flush()
        except Exception:  # noqa: BLE001 - a display problem must never break a request
            self.handleError(record)
