"""doctor warns about unknown model names the proxy served with the main model lately (issue 13)."""

from __future__ import annotations

import json
import time

from hybridcc import paths
from hybridcc.config import load_config
from hybridcc.doctor.model import Check, Context
from hybridcc.doctor.requests_check import RECENT_S, check_recent_requests
from hybridcc.proxy.models import fallback_note
from hybridcc.proxy.record import RequestRecord
from hybridcc.proxy.redact import Redactor
from hybridcc.proxy.server import setup_logging
from tests.conftest import write_config

CONFIG = """
[providers.up]
api = "openai"
base_url = "http://127.0.0.1:9/v1"
[profiles.main]
provider = "up"
model = "sdk-model"
"""


def _context() -> Context:
    config = load_config()
    return Context(config, None, list(config.profiles.values()))


def _served(requested: str, *, note: bool = True) -> None:
    """One request record, written by the proxy's own logger as `proxy serve` writes it."""
    profile = load_config().profiles["main"]
    record = RequestRecord("req", "/v1/messages", profile="main", provider="up", model_requested=requested,
                           model_used="sdk-model", status=200)  # fmt: skip
    if note:
        record.model_note = fallback_note(profile, requested)
    record.emit(Redactor())


def _checks() -> list[Check]:
    return list(check_recent_requests(_context()))


def test_unknown_model_names_are_named_with_the_fix() -> None:
    write_config(CONFIG)
    setup_logging(to_stderr=False)
    for name in ("gpt-4o", "gpt-4o", "o3-mini", "sdk-model"):
        _served(name, note=name != "sdk-model")
    [check] = _checks()
    assert check.status == "warn" and check.id == "requests.models"
    assert '"gpt-4o" (2× on profile main, served by sdk-model)' in check.message
    assert '"o3-mini" (1×' in check.message and '"sdk-model"' not in check.message
    assert "add the model to the profile" in check.fix and "provider/model" in check.fix


def test_a_name_the_profile_knows_now_and_old_requests_are_not_reported() -> None:
    write_config(CONFIG)
    setup_logging(to_stderr=False)
    _served("gpt-4o")
    old = {"ts": time.time() - RECENT_S - 60, "path": "/v1/messages", "profile": "main", "status": 200,
           "model_requested": "ancient", "model_note": 'unknown model name "ancient": served by …'}  # fmt: skip
    with paths.request_log_file().open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(old) + "\nnot json\n")
    assert "ancient" not in _checks()[0].message
    # the user took the advice: the profile has the model now
    write_config(CONFIG.replace('model = "sdk-model"', 'model = "sdk-model"\nsmall_model = "gpt-4o"'))
    [check] = _checks()
    assert check.status == "ok", check


def test_no_request_log_says_nothing() -> None:
    write_config(CONFIG)
    assert not paths.request_log_file().exists()
    assert _checks() == []
