from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from hybridcc import __version__, paths
from tests.conftest import CliResult, write_config

Cli = Callable[..., CliResult]


def test_version(cli: Cli) -> None:
    r = cli("--version")
    assert (r.out.strip(), r.err) == (f"hybridcc {__version__}", "")


def test_python_dash_m_and_installed_script(hybridcc_exe: list[str]) -> None:
    done = subprocess.run([*hybridcc_exe, "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.strip() == f"hybridcc {__version__}"
    script = Path(sys.executable).with_name("hybridcc")
    assert script.exists(), "pip install should create the hybridcc console script"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "profile" in done.stdout


def test_unknown_command_is_usage_error(cli: Cli) -> None:
    r = cli("frobnicate", code=2)
    assert "No such command" in r.err


def test_profile_list_json_and_table(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-secretsecret9876")
    r = cli("profile", "list", "--json")
    rows = {row["name"]: row for row in json.loads(r.out)}
    assert rows["openrouter"]["ready"] is True and rows["gemini"]["ready"] is False
    assert rows["ollama"]["default"] is True
    r = cli("profile", "list")
    assert "openrouter" in r.out and "$OPENROUTER_API_KEY" in r.out
    assert "secretsecret" not in r.out + r.err


def test_profile_show_unknown_exit_4(cli: Cli) -> None:
    r = cli("profile", "show", "ghost", code=4)
    assert r.out == ""
    assert 'error: no profile named "ghost"' in r.err and "fix:" in r.err
    assert "Traceback" not in r.err


def test_profile_add_show_default_remove(cli: Cli) -> None:
    cli("profile", "add", "lms", "--base-url", "http://127.0.0.1:1234/v1", "--api", "openai",
        "--model", "qwen", "--small-model", "tiny", "--api-key-env", "LMS_KEY")  # fmt: skip
    info = json.loads(cli("profile", "show", "lms", "--json").out)
    assert info["model"] == "qwen" and info["key_source"] == "$LMS_KEY" and info["ready"] is False
    cli("profile", "default", "lms")
    assert json.loads(cli("profile", "show", "lms", "--json").out)["default"] is True
    cli("profile", "remove", "lms")
    cli("profile", "show", "lms", code=4)


def test_profile_add_bad_api(cli: Cli) -> None:
    r = cli("profile", "add", "x", "--base-url", "http://127.0.0.1:1/v1", "--api", "grpc", "--model", "m", code=2)
    assert "'grpc' is not one of" in r.err  # a usage error


def test_init_yes_writes_config_and_token(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-deep-123456789")
    monkeypatch.setenv("PATH", "/nonexistent")
    r = cli("init", "--yes")
    assert "DEEPSEEK_API_KEY → deepseek" in r.err
    cfg = paths.config_file().read_text()
    assert 'default_profile = "deepseek"' in cfg
    token = paths.token_file()
    assert token.read_text().startswith("hcc-")
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    # A second init refuses, --force backs the old file up.
    r = cli("init", "--yes", code=3)
    assert "already exists" in r.err and "--force" in r.err
    cli("init", "--yes", "--force", "--default", "gemini")
    assert 'default_profile = "gemini"' in paths.config_file().read_text()
    assert paths.backup_file(paths.config_file()).read_text() == cfg


def test_config_path_show_validate(cli: Cli) -> None:
    assert cli("config", "path").out.strip() == str(paths.config_file())
    r = cli("config", "show")
    assert "built-in defaults" in r.out and "[providers.gemini]" in r.out
    write_config(
        '[providers.team]\napi = "openai"\nbase_url = "https://gw.example/v1"\napi_key = "sk-team-abcdefgh1234"\n'
    )
    r = cli("config", "show", "--json")
    assert json.loads(r.out)["providers"]["team"]["api_key"] == "sk-tea…1234"
    cli("config", "validate")
    write_config("[proxy]\nport = 70000\nbogus = 1\n")
    r = cli("config", "validate", code=3)
    assert "proxy.port: expected 0 (any free port) to 65535, got 70000" in r.err
    assert "proxy.bogus: unknown key" in r.err


def test_config_error_exit_code_and_no_traceback(cli: Cli) -> None:
    write_config("[proxy\n")
    r = cli("profile", "list", code=3)
    assert "invalid TOML" in r.err and "Traceback" not in r.err


def _editor(tmp_path: Path, content: str) -> str:
    script = tmp_path / "editor.sh"
    script.write_text(f"#!/bin/sh\nprintf '%s' '{content}' > \"$1\"\n")
    script.chmod(0o755)
    return str(script)


def test_config_edit_restores_invalid_save(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config("schema_version = 1\n# mine\n")
    monkeypatch.setenv("EDITOR", _editor(tmp_path, '[proxy]\nport = "x"\n'))
    r = cli("config", "edit", code=3)
    assert "not kept" in r.err
    assert path.read_text() == "schema_version = 1\n# mine\n"
    assert path.with_name("config.toml.rejected").exists()
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "[proxy]\nport = 9000\n"))
    cli("config", "edit")
    assert "port = 9000" in path.read_text()
    assert paths.backup_file(path).read_text() == "schema_version = 1\n# mine\n"


def test_debug_shows_traceback_for_internal_errors(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import hybridcc.config.describe as describe

    def broken(*_a: object) -> object:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(describe, "profile_info", broken)
    r = cli("profile", "list", code=1)
    assert "internal error" in r.err and "ZeroDivisionError" in r.err
    assert "Traceback" not in r.err
    with pytest.raises(ZeroDivisionError):
        cli("--debug", "profile", "list")


def test_completions_are_fresh() -> None:
    from hybridcc.cli.completion import SHELLS, completion_script

    root = Path(__file__).resolve().parents[2] / "completions"
    for shell, name in SHELLS.items():
        committed = (root / name).read_text()
        assert committed == completion_script(shell), f"completions/{name} is stale: python -m hybridcc.cli.completion"


def test_shell_completion_answers(hybridcc_exe: list[str]) -> None:
    env = {**os.environ, "_HYBRIDCC_COMPLETE": "complete_bash", "COMP_WORDS": "hybridcc pro", "COMP_CWORD": "1"}
    done = subprocess.run(hybridcc_exe, capture_output=True, text=True, env=env, check=False)
    assert "profile" in done.stdout.split()


def test_init_interactive(hybridcc_exe: list[str], isolated_env: Path) -> None:
    env = {**os.environ, "GEMINI_API_KEY": "g-123456789", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [*hybridcc_exe, "init"], input="gemini\ny\n", capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Default profile" in done.stderr and "GEMINI_API_KEY → gemini" in done.stderr
    assert 'default_profile = "gemini"' in paths.config_file().read_text()
    done = subprocess.run(
        [*hybridcc_exe, "init", "--force"], input="ollama\nn\n", capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 1  # declined: nothing written
    assert 'default_profile = "gemini"' in paths.config_file().read_text()


def test_install_completion(hybridcc_exe: list[str], isolated_env: Path) -> None:
    env = {**os.environ, "SHELL": "/bin/bash"}
    # typer finds the shell among the parent processes: run it from a real bash, as a user would
    # (under xdist the nearest parents are Python processes).
    command = " ".join(shlex.quote(w) for w in [*hybridcc_exe, "--install-completion", "bash"])
    done = subprocess.run(["bash", "-c", f"{command}; exit $?"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "hybridcc" in (isolated_env / ".bash_completions" / "hybridcc.sh").read_text()
    assert ".bash_completions/hybridcc.sh" in (isolated_env / ".bashrc").read_text()


def test_cli_reference_is_fresh() -> None:
    from hybridcc.cli.reference import render

    committed = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    assert committed == render(), "docs/cli.md is stale: python -m hybridcc.cli.reference"
