"""A stand-in for the `litellm` executable: LiteLLM's documented health and key API on loopback.

Run as ``python fake_litellm.py --config FILE --host H --port P …`` (the argv `gateway start`
builds). It answers ``GET /health/liveliness`` like LiteLLM, ``POST /key/generate`` as LiteLLM's
docs describe it (Bearer master key; ``user_id``, ``max_budget``, ``key_alias`` → ``key``), and
``GET /_fake/env`` with which variables it was started with (names and booleans only, no values)
so tests can check the child's environment. ``FAKE_LITELLM_NO_DB=1`` makes the key API fail the
way LiteLLM without its database does.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

NO_DB = {
    "error": {"message": "DB not connected. This endpoint needs a database; set DATABASE_URL", "type": "auth_error"}
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument("--num_workers", type=int, default=1)
    args = parser.parse_args()
    Path(args.config).read_text(encoding="utf-8")  # LiteLLM refuses to start without its config
    master = os.environ.get("LITELLM_MASTER_KEY", "")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_a: Any) -> None:
            pass

        def _send(self, status: int, data: Any) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            if self.path == "/health/liveliness":
                self._send(200, "I'm alive!")
            elif self.path == "/_fake/env":
                names = ("LITELLM_LOCAL_MODEL_COST_MAP", "FAKE_KEY", "HYBRIDCC_GATEWAY_KEY_CMDPROV")
                env = {n: os.environ.get(n) == "True" if n.startswith("LITELLM") else bool(os.environ.get(n))
                       for n in names}  # fmt: skip
                env["master_key_ok"] = master.startswith("sk-") and len(master) >= 20
                self._send(200, {**env, "argv_has_secret": any(master in a for a in sys.argv if master)})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
            if self.path != "/key/generate":
                self._send(404, {"error": "not found"})
            elif self.headers.get("authorization") != f"Bearer {master}":
                self._send(401, {"error": {"message": "Authentication Error, invalid proxy server token passed"}})
            elif os.environ.get("FAKE_LITELLM_NO_DB"):
                self._send(500, NO_DB)
            else:
                self._send(200, {"key": "sk-virtual-" + secrets.token_hex(8), "user_id": body.get("user_id"),
                                 "max_budget": body.get("max_budget"), "key_alias": body.get("key_alias"),
                                 "expires": None})  # fmt: skip

    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
