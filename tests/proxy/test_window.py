from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hybridcc.config.load import load_config
from hybridcc.window import Window, resolve_window, timeout_env, window_env


def _server(payload: dict) -> ThreadingHTTPServer:
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _send(self):
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = _send

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self._send()

    s = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def test_llamacpp_window_and_env(tmp_path, monkeypatch) -> None:
    srv = _server({"default_generation_settings": {"n_ctx": 8192}})
    monkeypatch.setenv("HYBRIDCC_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text(f"""
default_profile = "l"
[providers.l]
api = "openai"
base_url = "http://127.0.0.1:{srv.server_address[1]}/v1"
timeout = 1800
[profiles.l]
provider = "l"
model = "qwen"
[profiles.big]
provider = "l"
model = "qwen"
context_window = 262144
""")
    cfg = load_config()
    w = resolve_window(cfg, cfg.profiles["l"])
    assert w == Window(8192, "llama.cpp /props")
    assert window_env(w) == {"CLAUDE_CODE_MAX_CONTEXT_TOKENS": "8192"}  # below AUTO_COMPACT's range
    assert window_env(resolve_window(cfg, cfg.profiles["big"]))["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "262144"
    assert timeout_env(cfg, cfg.profiles["l"]) == {
        "CLAUDE_STREAM_IDLE_TIMEOUT_MS": "1800000",
        "API_TIMEOUT_MS": "1860000",
    }
    srv.shutdown()


def test_ollama_show(tmp_path, monkeypatch) -> None:
    srv = _server({"model_info": {"qwen2.context_length": 32768}})
    monkeypatch.setenv("HYBRIDCC_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text(f"""
default_profile = "o"
[ollama]
host = "127.0.0.1:{srv.server_address[1]}"
context_length = 16384
[providers.o]
api = "ollama"
[profiles.o]
provider = "o"
model = "qwen"
""")
    cfg = load_config()
    assert resolve_window(cfg, cfg.profiles["o"]) == Window(16384, "ollama /api/show")
    srv.shutdown()
