from __future__ import annotations

import stat
from pathlib import Path

from hybridcc.config.load import load_config
from hybridcc.envplan import apply, build_env, output_cap, render


def _cfg(tmp_path: Path, monkeypatch) -> object:
    monkeypatch.setenv("HYBRIDCC_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text("""
default_profile = "a"
[providers.a]
api = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "MY_CUSTOM_KEY"
max_output_tokens = 8000
[profiles.a]
provider = "a"
model = "m"
max_output_tokens = 16000
""")
    return load_config()


def test_keys_never_reach_the_child(tmp_path, monkeypatch) -> None:
    cfg = _cfg(tmp_path, monkeypatch)
    prof = cfg.profiles["a"]
    env = build_env(cfg, prof, base_url="http://127.0.0.1:1/p/a", token="hcc-x", extra_secrets=["CORP_SECRET"])
    child = apply(
        env,
        {
            "MY_CUSTOM_KEY": "k1",
            "OPENROUTER_API_KEY": "k2",
            "DEEPSEEK_API_KEY": "k3",
            "CORP_SECRET": "k4",
            "PATH": "/bin",
        },
    )
    assert child["PATH"] == "/bin"
    for name in ("MY_CUSTOM_KEY", "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY", "CORP_SECRET"):
        assert name not in child
    assert "unset OPENROUTER_API_KEY" in render(env, "bash") and "unset MY_CUSTOM_KEY" in render(env, "bash")
    assert "cannot unset" in render(env, "dotenv")
    assert child["ANTHROPIC_API_KEY"] == ""
    assert env["ENABLE_TOOL_SEARCH"] == "false"  # a loopback provider: every tool offered at once


def test_output_cap_is_the_lowest(tmp_path, monkeypatch) -> None:
    cfg = _cfg(tmp_path, monkeypatch)
    assert output_cap(cfg, cfg.profiles["a"]) == 8000
    env = build_env(cfg, cfg.profiles["a"], base_url="x", token="t")
    assert env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] == "8000"


def test_settings_file_private_and_removed(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HYBRIDCC_HOME", str(tmp_path))
    import importlib
    import sys
    import types

    # runner imports hybridcc.claude and run_args, absent in staging: stub them
    sys.modules.setdefault("hybridcc.claude", types.SimpleNamespace(ClaudeExe=object, find_claude=None))
    sys.modules.setdefault("hybridcc.run_args", types.SimpleNamespace(RunOptions=object))
    runner = importlib.import_module("hybridcc.runner")
    stale = tmp_path / "state" / "sessions"
    stale.mkdir(parents=True)
    (stale / "settings-999999.json").write_text("{}")
    with runner.settings_file({"env": {"ANTHROPIC_AUTH_TOKEN": "hcc-secret"}}) as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert not (stale / "settings-999999.json").exists()
        assert "hcc-secret" in path.read_text()
    assert not path.exists()
    settings, args = runner.merge_settings(
        ["-p", "hi", "--settings", '{"model":"x","env":{"A":"1"}}'], {"ANTHROPIC_AUTH_TOKEN": "t", "B": None}
    )
    assert args == ["-p", "hi"] and settings == {"model": "x", "env": {"A": "1", "ANTHROPIC_AUTH_TOKEN": "t"}}
