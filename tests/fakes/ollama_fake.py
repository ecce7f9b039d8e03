"""A faithful fake `ollama` executable for tests: `ollama serve` on OLLAMA_HOST with the API
hybridcc uses (version, tags, show, pull with streamed progress, ps, OpenAI and Anthropic chat).

Scripted through the environment:
  FAKE_OLLAMA_VERSION      server version (default 0.14.2)
  FAKE_OLLAMA_START_DELAY  seconds before the server listens
  FAKE_OLLAMA_MODELS       JSON list of installed models: {"name", "capabilities", "context_length"}
  FAKE_OLLAMA_CATALOG      JSON map of pullable names to {"capabilities", "context_length"} (or {"error": …})
  FAKE_OLLAMA_PULL_STEPS   progress lines per pull (default 5); FAKE_OLLAMA_PULL_DELAY seconds between them
  FAKE_OLLAMA_PULL_MARK    a file that gets the model's name appended when a pull starts streaming
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

VERSION = os.environ.get("FAKE_OLLAMA_VERSION", "0.14.2")
MODELS: dict[str, dict[str, Any]] = {m["name"]: m for m in json.loads(os.environ.get("FAKE_OLLAMA_MODELS", "[]"))}
CATALOG: dict[str, dict[str, Any]] = json.loads(os.environ.get("FAKE_OLLAMA_CATALOG", "{}"))
LOCK = threading.Lock()


def _model_key(name: str) -> str | None:
    for candidate in (name, f"{name}:latest"):
        if candidate in MODELS:
            return candidate
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:
        sys.stderr.write("[fake-ollama] " + (fmt % args) + "\n")

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> Any:
        n = int(self.headers.get("content-length") or 0)
        return json.loads(self.rfile.read(n)) if n else {}

    def _stream(self, content_type: str, parts: list[bytes], delay: float = 0.0) -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for part in parts:
            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.flush()
            if delay:
                time.sleep(delay)
        self.wfile.write(b"0\r\n\r\n")

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path == "/":
            body = b"Ollama is running"
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/api/version":
            self._json(200, {"version": VERSION})
        elif self.path == "/api/tags":
            with LOCK:
                models = [
                    {
                        "name": n,
                        "model": n,
                        "size": 1000,
                        "digest": "sha256:abc",
                        "modified_at": "2026-01-01T00:00:00Z",
                        "details": {},
                    }
                    for n in MODELS
                ]
            self._json(200, {"models": models})
        elif self.path == "/api/ps":
            self._json(200, {"models": []})
        elif self.path == "/fake/env":
            self._json(200, {k: v for k, v in os.environ.items() if k.startswith("OLLAMA_")})
        elif self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": n, "object": "model"} for n in MODELS]})
        else:
            self._json(404, {"error": "404 page not found"})

    def do_POST(self) -> None:
        data = self._body()
        if self.path == "/api/show":
            key = _model_key(str(data.get("model") or data.get("name") or ""))
            if key is None:
                self._json(404, {"error": f"model '{data.get('model')}' not found"})
                return
            m = MODELS[key]
            self._json(200, {"capabilities": m.get("capabilities", ["completion"]), "details": {"family": "fake"},
                             "model_info": {"general.architecture": "fake", "fake.context_length": m.get("context_length", 32768)}})  # fmt: skip
        elif self.path == "/api/pull":
            name = str(data.get("model") or data.get("name"))
            entry = CATALOG.get(name)
            steps = int(os.environ.get("FAKE_OLLAMA_PULL_STEPS", "5"))
            delay = float(os.environ.get("FAKE_OLLAMA_PULL_DELAY", "0"))
            lines = [{"status": "pulling manifest"}]
            if entry is None or "error" in entry:
                lines.append({"error": (entry or {}).get("error", "pull model manifest: file does not exist")})
            else:
                total = 1_000_000
                lines.append({"status": "pulling sha256:feed", "digest": "sha256:feed", "total": total})
                lines += [
                    {
                        "status": "pulling sha256:feed",
                        "digest": "sha256:feed",
                        "total": total,
                        "completed": total * (i + 1) // steps,
                    }
                    for i in range(steps)
                ]
                lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}, {"status": "success"}]
            parts = [json.dumps(x).encode() + b"\n" for x in lines]
            mark = os.environ.get("FAKE_OLLAMA_PULL_MARK")
            if mark:  # a test can wait for a pull to be under way instead of sleeping
                with Path(mark).open("a", encoding="utf-8") as f:
                    f.write(name + "\n")
            try:
                self._stream("application/x-ndjson", parts, delay)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client cancelled: like Ollama, keep no model (a later pull resumes)
            if entry is not None and "error" not in entry:
                with LOCK:
                    MODELS[name] = {"name": name, **entry}
        elif self.path == "/v1/chat/completions":
            chunk = {
                "id": "c",
                "object": "chat.completion.chunk",
                "model": data.get("model"),
                "choices": [{"index": 0, "delta": {"content": "fake ollama reply"}, "finish_reason": "stop"}],
            }
            if data.get("stream"):
                self._stream(
                    "text/event-stream", [b"data: " + json.dumps(chunk).encode() + b"\n\n", b"data: [DONE]\n\n"]
                )
            else:
                self._json(200, {"id": "c", "object": "chat.completion", "model": data.get("model"),
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "fake ollama reply"}, "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 5, "completion_tokens": 3}})  # fmt: skip
        elif self.path == "/v1/messages":
            if _model_key(str(data.get("model"))) is None:
                self._json(
                    404,
                    {
                        "type": "error",
                        "error": {"type": "not_found_error", "message": f"model '{data.get('model')}' not found"},
                    },
                )
                return
            self._json(200, {"id": "msg_fake", "type": "message", "role": "assistant", "model": data.get("model"),
                             "content": [{"type": "text", "text": "fake ollama reply"}], "stop_reason": "end_turn", "stop_sequence": None,
                             "usage": {"input_tokens": 5, "output_tokens": 3}})  # fmt: skip
        else:
            self._json(404, {"error": "404 page not found"})


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that cancelled (pull Ctrl-C), as real Ollama shrugs it off
        super().handle_error(request, client_address)


def serve() -> int:
    host = os.environ.get("OLLAMA_HOST", "127.0.0.1:11434")
    if "://" in host:
        host = host.split("://", 1)[1]
    hostname, _, port = host.rpartition(":")
    delay = float(os.environ.get("FAKE_OLLAMA_START_DELAY", "0"))
    if delay:
        time.sleep(delay)
    server = QuietServer((hostname or "127.0.0.1", int(port or 11434)), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    sys.stderr.write(f"[fake-ollama] listening on {hostname}:{port} (version {VERSION})\n")
    sys.stderr.flush()
    server.serve_forever()
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-v", "--version"):
        print(f"ollama version is {VERSION}")
        return 0
    if argv[0] == "serve":
        return serve()
    print(f"Error: unknown command {argv[0]!r} for fake ollama", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
