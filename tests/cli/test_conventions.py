"""Issue 12: printing, the profile flag, usage errors, completion, aliases, readiness, first run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import get_args

import pytest

from hybridcc import paths
from hybridcc.errors import HybridccError, UsageError
from hybridcc.run_args import split_args
from tests.conftest import CliResult, write_config
from tests.helpers import require_tool

Cli = Callable[..., CliResult]
ROOT = Path(__file__).resolve().parents[2]


def one_error(r: CliResult, code: int, *needles: str) -> None:
    """Exit ``code``, one `error:` line (plus an optional `fix:` line), no traceback, no usage box."""
    assert r.code == code, (r.code, r.err)
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error:"), r.err
    assert len(lines) <= 2 and all(x.lstrip().startswith(("error:", "fix:")) for x in lines), r.err
    assert "Traceback" not in r.err and "Usage:" not in r.err
    for needle in needles:
        assert needle in r.err, (needle, r.err)


# -- 2: user text is printed literally ---------------------------------------------------------


def test_brackets_in_names_and_hints_are_printed_not_parsed(cli: Cli) -> None:
    one_error(cli("run", "--profile", "[/x]", "--dry-run", code=4), 4, 'no profile named "[/x]"')
    one_error(cli("env", "-P", "[/bold]", "--no-start", code=4), 4, 'no profile named "[/bold]"')
    one_error(cli("profile", "show", "[red]x", code=4), 4, '"[red]x"')


def test_error_printer_keeps_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    from hybridcc.cli.main import _print_error

    _print_error(HybridccError("port [8787] taken", hint="set `port = 0` under [proxy] in config.toml"))
    err = capsys.readouterr().err
    assert "port [8787] taken" in err and "under [proxy] in config.toml" in err


# -- 7: one profile flag that is not claude's -p -----------------------------------------------


@pytest.mark.parametrize("flag", ["-P", "--profile", "--provider"])
def test_run_profile_flag_and_claude_print_flag(flag: str) -> None:
    opts = split_args([flag, "e2e", "-p", "hi"])
    assert opts.provider == "e2e" and opts.claude_args == ["-p", "hi"]
    assert split_args(["--profile=e2e"]).provider == "e2e"


def test_p_is_claudes_print_flag_in_run_and_profile_elsewhere(cli: Cli) -> None:
    assert split_args(["-p", "e2e"]).provider is None  # claude's --print, passed through
    for words in (["env"], ["doctor"], ["proxy", "serve"]):
        r = cli(*words, "--help")
        assert "-P, --profile" in r.out, (words, r.out)
    assert "-P, --profile" in cli("run", "--help").out


# -- 8: usage errors exit 2 with one line ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["env", "-f", "xml"], "'xml' is not one of"),
        (["run", "--provider"], "--provider needs a value"),
        (["run", "--profile", "--dry-run"], "--profile needs a value"),
        (["run", "--settings", "{bad json", "--dry-run"], "--settings is not valid JSON"),
        (["run", "--claude-path", "./x", "--dry-run"], "--claude-path ./x: does not exist"),
        (["profile", "add", "x", "--base-url", "http://127.0.0.1:1/v1", "--api", "x", "--model", "m"], "'--api'"),
        (["proxy", "start", "--port", "70000"], "--port"),
        (["proxy", "start", "--port", "-1"], "--port"),
        (["proxy", "serve", "--port", "70000"], "--port"),
        (["doctor", "--timeout", "-1"], "--timeout"),
        (["alias", "--shell", "tcsh"], "'tcsh' is not one of"),
        (["profil"], "Did you mean 'profile'?"),
    ],
)
def test_usage_errors_exit_2_with_one_line(cli: Cli, args: list[str], needle: str) -> None:
    one_error(cli(*args, code=2), 2, needle)


def test_declared_choices_match_their_homes() -> None:
    from hybridcc.aliases import SHELLS
    from hybridcc.cli.env_cmds import Shell
    from hybridcc.envplan import FORMATS, Format

    assert get_args(Format) == FORMATS and get_args(Shell) == SHELLS
    assert issubclass(UsageError, HybridccError) and UsageError.exit_code == 2


# -- 9: completion, through the real shells ----------------------------------------------------


@pytest.fixture
def on_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has a `hybridcc` that runs this checkout."""
    exe = tmp_path / "bin" / "hybridcc"
    exe.parent.mkdir()
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m hybridcc "$@"\n')
    exe.chmod(0o755)
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PATH": f"{exe.parent}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": pythonpath}


CASES = [
    (["run", "--profile", ""], "ollama"),
    (["run", "-P", "ol"], "ollama"),
    (["run", "--"], "--dry-run"),
    (["env", "-P", ""], "openrouter"),
    (["env", "-f", ""], "powershell"),
    (["profile", "show", ""], "gemini"),
    (["alias", "--shell", ""], "fish"),
]


@pytest.mark.parametrize(("words", "expected"), CASES)
def test_bash_completion(on_path: dict[str, str], words: list[str], expected: str) -> None:
    bash = require_tool("bash")
    array = " ".join(f"'{w}'" for w in ["hybridcc", *words])
    script = (f"source {ROOT / 'completions' / 'hybridcc.bash'}; COMP_WORDS=({array}); COMP_CWORD={len(words)}; "
              "_hybridcc_completion hybridcc; printf '%s\\n' \"${COMPREPLY[@]}\"")  # fmt: skip
    done = subprocess.run([bash, "--norc", "-c", script], capture_output=True, text=True, env=on_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout.split(), done.stdout


@pytest.mark.parametrize(("words", "expected"), CASES)
def test_fish_completion(on_path: dict[str, str], words: list[str], expected: str) -> None:
    fish = require_tool("fish")
    line = " ".join(["hybridcc", *words])
    script = f"source {ROOT / 'completions' / 'hybridcc.fish'}; complete -C '{line}'"
    done = subprocess.run([fish, "--no-config", "-c", script], capture_output=True, text=True, env=on_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert expected in [row.split("\t")[0] for row in done.stdout.splitlines()], done.stdout


@pytest.mark.parametrize(("words", "expected"), CASES)
def test_zsh_completion(on_path: dict[str, str], words: list[str], expected: str) -> None:
    zsh = require_tool("zsh")
    # zsh's completion system only runs inside the line editor: the builtins it would call are
    # replaced by functions that print what they receive.
    array = " ".join(f"'{w}'" for w in ["hybridcc", *words])
    script = ("compdef() { :; }; _arguments() { print -rl -- \"$@\"; }; _files() { print FILES; }; "
              f"source {ROOT / 'completions' / '_hybridcc'}; words=({array}); CURRENT={len(words) + 1}; "
              "_hybridcc_completion")  # fmt: skip
    done = subprocess.run([zsh, "-f", "-c", script], capture_output=True, text=True, env=on_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f'"{expected}"' in done.stdout, done.stdout


# -- 10: aliases --------------------------------------------------------------------------------


def test_aliases_reach_hybridcc_and_follow_profiles(cli: Cli, isolated_env: Path) -> None:
    r = cli("alias")
    assert "alias cc-ollama='hybridcc run --profile ollama'" in r.out
    assert not any(line.rstrip("'").endswith("--") for line in r.out.splitlines())
    assert split_args(["--profile", "ollama", "--dry-run"]).dry_run  # what `cc-ollama --dry-run` runs
    cli("alias", "--install")
    bashrc = isolated_env / ".bashrc"
    assert "cc-labx" not in bashrc.read_text()
    r = cli("profile", "add", "labx", "--base-url", "http://127.0.0.1:1234/v1", "--api", "openai", "--model", "q")
    assert "aliases updated" in r.err
    assert "alias cc-labx='hybridcc run --profile labx'" in bashrc.read_text()
    cli("profile", "remove", "labx")
    assert "cc-labx" not in bashrc.read_text()


@pytest.mark.parametrize("name", ["my profile", ".x", "a/b", "$(id)", "[x]"])
def test_profile_names_are_validated(cli: Cli, name: str) -> None:
    one_error(cli("profile", "add", name, "--base-url", "http://127.0.0.1:1/v1", "--api", "openai", "--model", "m",
                  code=2), 2, "cannot be a profile name")  # fmt: skip
    assert not paths.config_file().exists()


# -- 6: readiness means a session would start --------------------------------------------------


def test_readiness(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no ollama binary
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # and no server
    write_config('[providers.cmdkey]\napi = "openai"\nbase_url = "https://example.invalid/v1"\napi_key_cmd = "false"\n'
                 '[profiles.cmdkey]\nprovider = "cmdkey"\nmodel = "m"\n')  # fmt: skip
    rows = {row["name"]: row for row in json.loads(cli("profile", "list", "--json").out)}
    assert rows["ollama"]["ready"] is False and "not installed" in rows["ollama"]["ready_detail"]
    assert rows["anthropic"]["ready"] is True and "login" in rows["anthropic"]["ready_detail"]
    assert rows["cmdkey"]["ready"] is None  # list does not run key commands
    shown = json.loads(cli("profile", "show", "cmdkey", "--json").out)
    assert shown["ready"] is False and shown["ready_detail"] == "key command failed"
    table = cli("profile", "list").out
    assert "Ollama is not installed" in table and "True" not in table


def test_doctor_all_does_not_fail_profiles_never_set_up(cli: Cli, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:  # fmt: skip
    claude = tmp_path / "bin" / "claude"
    claude.parent.mkdir()
    claude.write_text("#!/bin/sh\necho '9.9.9 (Claude Code)'\n")
    claude.chmod(0o755)
    monkeypatch.setenv("PATH", str(claude.parent))
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    write_config('default_profile = "anthropic"\n[proxy]\nport = 0\n')
    r = cli("doctor", "--all", "--json")
    data = json.loads(r.out)
    failed = [c for c in data["checks"] if c["status"] == "fail"]
    assert not failed, failed
    skipped = {c["id"]: c for c in data["checks"] if c["message"].startswith("not set up")}
    assert "profile.gemini.key" in skipped and "ollama.binary" in skipped
    cli("doctor", "-P", "gemini", "--json", code=1)  # asked for by name: still a failure


# -- 11: output for humans ---------------------------------------------------------------------


def test_no_python_values_in_status_output() -> None:
    from hybridcc.cli.render import yes_no

    assert [yes_no(v) for v in (True, False, None, [], ["a", "b"], 3)] == ["yes", "no", "unknown", "none", "a, b", "3"]


def test_ollama_commands_name_the_install_when_not_installed(cli: Cli, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:  # fmt: skip
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    for words in (["ollama", "models"], ["ollama", "pull", "qwen3:0.6b"]):
        r = cli(*words, code=7)
        one_error(r, 7, "not installed", "ollama.com")
        assert "ollama start" not in r.err and "lost the connection" not in r.err


def test_proxy_logs_requests_table_and_json(cli: Cli) -> None:
    log = paths.request_log_file()
    log.parent.mkdir(parents=True, exist_ok=True)
    record = {"request_id": "r1", "path": "/v1/messages", "profile": "e2e", "model_requested": "claude-sonnet-4-6",
              "model_used": "qwen", "status": 200, "input_tokens": 1200, "output_tokens": 34, "latency_ms": 812.4,
              "ts": 1_800_000_000.0}  # fmt: skip
    log.write_text(json.dumps(record) + "\n")
    r = cli("proxy", "logs", "--requests")
    assert "e2e" in r.out and "claude-sonnet-4-6 → qwen" in r.out and "1,200" in r.out
    assert "{" not in r.out
    r = cli("proxy", "logs", "--requests", "--json")
    assert json.loads(r.out.strip()) == record


def test_serve_prints_one_line_per_request(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from hybridcc.cli.request_view import HumanRequestHandler

    logger = logging.getLogger("hybridcc.requests.test")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = HumanRequestHandler()
    logger.addHandler(handler)
    try:
        logger.info(json.dumps({"status": 401, "profile": "p", "model_used": "m", "latency_ms": 3.2,
                                "error": "provider rejected the key"}))  # fmt: skip
        logger.info("not json")
    finally:
        logger.removeHandler(handler)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and " 401 p m " in lines[0] and "rejected the key" in lines[0]


def test_doctor_fix_says_when_there_is_nothing_to_fix(cli: Cli, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:  # fmt: skip
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    # No claude anywhere: nor the one claude-agent-sdk bundles (installed with the dev extra).
    monkeypatch.setattr("hybridcc.claude._sdk_bundled", lambda: None)
    write_config('default_profile = "anthropic"\n[proxy]\nport = 0\n')
    r = cli("doctor", "--fix", "--yes", code=1)  # claude is missing: a failure it cannot fix
    assert "nothing hybridcc can fix by itself" in r.err
    claude_row = next(line for line in r.out.splitlines() if "claude.found" in line)
    assert "--claude-path" not in claude_row and "claude_path" in claude_row


# -- 5: first run ------------------------------------------------------------------------------


def test_init_without_a_terminal_names_yes(hybridcc_exe: list[str]) -> None:
    done = subprocess.run([*hybridcc_exe, "init"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "no terminal" in done.stderr and "hybridcc init --yes" in done.stderr and "Traceback" not in done.stderr
    assert not paths.config_file().exists()


def test_init_proposes_a_usable_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from hybridcc.wizard import Detection

    assert Detection(claude_path="/x/claude").proposals()[0] == "anthropic"  # no ollama, no key
    assert Detection(claude_path="/x/claude", keys={"gemini": "GEMINI_API_KEY"}).proposals()[0] == "gemini"
    assert Detection(ollama_version="0.14.0", ollama_models=["q"]).proposals()[0] == "ollama"


def test_init_force_keeps_the_users_profiles(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    for name in ("one", "two"):
        cli("profile", "add", name, "--base-url", "http://127.0.0.1:1/v1", "--api", "openai", "--model", "m")
    r = cli("init", "--yes", "--force")
    assert "kept" in r.err and "one, two" in r.err
    profiles = {row["name"] for row in json.loads(cli("profile", "list", "--json").out)}
    assert {"one", "two"} <= profiles
    cli("init", "--yes", "--force", "--reset-profiles")
    profiles = {row["name"] for row in json.loads(cli("profile", "list", "--json").out)}
    assert not {"one", "two"} & profiles


@pytest.fixture
def models_server() -> Iterator[str]:
    """A real OpenAI-style /v1/models on 127.0.0.1 that wants the key "sk-good"."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/v1/models" and self.headers.get("authorization") == "Bearer sk-good"
            body = json.dumps({"data": [{"id": "m"}]} if ok else {"error": "no"}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()
    thread.join()


def test_init_adds_a_custom_endpoint_checked_live(
    hybridcc_exe: list[str], models_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "PATH": "/usr/bin:/bin", "LAB_KEY": "sk-good", "OLLAMA_HOST": "127.0.0.1:9"}
    # default profile, write?, add an endpoint?, name, URL, wire, model, key variable, make default?
    answers = f"anthropic\ny\ny\nlab\n{models_server}\nopenai\nm\nLAB_KEY\ny\n"
    done = subprocess.run([*hybridcc_exe, "init"], input=answers, capture_output=True, text=True, env=env,
                          timeout=60, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "live check:" in done.stderr and "answered" in done.stderr
    text = paths.config_file().read_text()
    assert "[providers.lab]" in text and 'default_profile = "lab"' in text and "sk-good" not in text

    from hybridcc.wizard import check_endpoint

    monkeypatch.setenv("LAB_KEY", "sk-bad")
    ok, what = check_endpoint(models_server, "openai", "LAB_KEY")
    assert not ok and "rejected the key (HTTP 401)" in what


def test_unknown_profile_suggests_the_near_miss(cli: Cli) -> None:
    r = cli("env", "-P", "openroutr", "--no-start", code=4)
    assert 'no profile named "openroutr" (did you mean "openrouter"?)' in r.err
