from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from hybridcc import paths
from tests.conftest import CliResult
from tests.helpers import require_tool

Cli = Callable[..., CliResult]
PROBE = ["ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY", "ANTHROPIC_MODEL",
         "ANTHROPIC_DEFAULT_HAIKU_MODEL", "CLAUDE_CODE_SUBAGENT_MODEL", "CLAUDE_CODE_USE_BEDROCK"]  # fmt: skip


def _expected(cli: Cli, profile: str) -> dict[str, str | None]:
    r = cli("env", "-P", profile, "--format", "json", "--no-start")
    data: dict[str, str | None] = json.loads(r.out)
    return data


def test_env_json_points_at_proxy_with_proxy_token(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-providerkey000")
    env = _expected(cli, "openrouter")
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8787/p/openrouter"
    assert env["ANTHROPIC_AUTH_TOKEN"] == paths.token_file().read_text().strip()
    assert env["ANTHROPIC_API_KEY"] == ""
    assert env["ANTHROPIC_MODEL"] == "qwen/qwen3-coder"
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "google/gemini-2.5-flash"
    assert env["CLAUDE_CODE_SUBAGENT_MODEL"] == "qwen/qwen3-coder"
    assert env["CLAUDE_CODE_ATTRIBUTION_HEADER"] == "0"
    assert env["CLAUDE_CODE_USE_BEDROCK"] is None
    assert "sk-or-v1-providerkey000" not in json.dumps(env)
    assert not any("claude" in (v or "") for k, v in env.items() if k.endswith("MODEL"))


def test_env_model_override(cli: Cli) -> None:
    env = _expected(cli, "ollama") | {}
    assert env["ANTHROPIC_MODEL"] == "qwen3-coder:30b"
    r = cli("env", "-P", "ollama", "-f", "json", "--model", "llama3.3", "--no-start")
    env = json.loads(r.out)
    assert (
        env["ANTHROPIC_MODEL"]
        == env["ANTHROPIC_DEFAULT_HAIKU_MODEL"]
        == env["ANTHROPIC_DEFAULT_OPUS_MODEL"]
        == "llama3.3"
    )


def test_env_bad_format(cli: Cli) -> None:
    r = cli("env", "--format", "tcsh", "--no-start", code=2)
    assert "'tcsh' is not one of" in r.err  # a usage error


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_env_evaluated_by_real_shell(cli: Cli, shell: str, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = require_tool(shell)
    expected = _expected(cli, "ollama")
    script = cli("env", "-P", "ollama", "--format", shell, "--no-start").out
    if shell == "fish":
        prog = script + "".join(f'echo "{k}=${k}"\n' for k in PROBE if k != "CLAUDE_CODE_USE_BEDROCK")
        prog += "if set -q CLAUDE_CODE_USE_BEDROCK; echo CLAUDE_CODE_USE_BEDROCK=set\n"
        prog += "else; echo CLAUDE_CODE_USE_BEDROCK=unset; end\n"
    else:
        prog = script + "".join(f'echo "{k}=${{{k}-unset}}"\n' for k in PROBE)
    child_env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "CLAUDE_CODE_USE_BEDROCK": "1"}
    done = subprocess.run([exe, "-c", prog], capture_output=True, text=True, check=False, env=child_env)
    assert done.returncode == 0, done.stderr
    seen = dict(line.split("=", 1) for line in done.stdout.splitlines())
    for key in PROBE:
        want = expected[key]
        assert seen[key] == ("unset" if want is None else want), key


def test_env_powershell_and_dotenv(cli: Cli) -> None:
    ps = cli("env", "-P", "ollama", "-f", "powershell", "--no-start").out
    assert "$env:ANTHROPIC_API_KEY = ''" in ps and "Remove-Item Env:CLAUDE_CODE_USE_BEDROCK" in ps
    dot = cli("env", "-P", "ollama", "-f", "dotenv", "--no-start").out
    assert 'ANTHROPIC_MODEL="qwen3-coder:30b"' in dot and "\nCLAUDE_CODE_USE_BEDROCK=" not in dot
    assert dot.startswith("# dotenv cannot unset variables") and "CLAUDE_CODE_USE_BEDROCK" in dot.splitlines()[0]


def test_alias_print_and_install_idempotent(cli: Cli, isolated_env: Path) -> None:
    r = cli("alias")
    assert "alias cc-ollama='hybridcc run --profile ollama'" in r.out
    rc = isolated_env / ".bashrc"
    rc.write_text("# mine\nexport FOO=1\n")
    cli("alias", "--install")
    first = rc.read_text()
    assert first.startswith("# mine\nexport FOO=1\n") and first.count(">>> hybridcc aliases >>>") == 1
    assert (isolated_env / ".bashrc.bak").read_text() == "# mine\nexport FOO=1\n"
    r = cli("alias", "--install")
    assert "nothing changed" in r.err
    assert rc.read_text() == first
    bash = require_tool("bash")
    done = subprocess.run([bash, "-ic", "alias cc-openrouter"], capture_output=True, text=True, check=False,
                          env={"HOME": str(isolated_env), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert "hybridcc run --profile openrouter" in done.stdout


def test_alias_fish(cli: Cli, isolated_env: Path) -> None:
    cli("alias", "--shell", "fish", "--install")
    text = (isolated_env / ".config" / "fish" / "conf.d" / "hybridcc.fish").read_text()
    assert "function cc-ollama --wraps claude; hybridcc run --profile ollama $argv; end" in text
    fish = require_tool("fish")
    prog = f"source {isolated_env}/.config/fish/conf.d/hybridcc.fish; functions -q cc-gemini; and echo ok"
    child_env = {"HOME": str(isolated_env), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([fish, "-c", prog], capture_output=True, text=True, check=False, env=child_env)
    assert done.stdout.strip() == "ok"


def test_env_starts_the_proxy_and_its_output_works(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """`eval "$(hybridcc env)"` then a client: the printed address and token answer."""
    import anthropic

    from hybridcc.services import proxy as svc
    from tests.conftest import write_config
    from tests.fakes.upstream import FakeUpstream, openai_json

    with FakeUpstream(lambda r: openai_json("through env")) as up:
        write_config(
            f'[proxy]\nport = 0\n[providers.up]\napi = "openai"\nbase_url = "{up.url}/v1"\n[profiles.up]\nprovider = "up"\nmodel = "m"\n'
        )
        try:
            r = cli("env", "-P", "up", "-f", "json")
            assert "proxy started" in r.err
            env = json.loads(r.out)
            client = anthropic.Anthropic(
                base_url=env["ANTHROPIC_BASE_URL"], auth_token=env["ANTHROPIC_AUTH_TOKEN"], api_key=None, max_retries=0
            )
            msg = client.messages.create(
                model=env["ANTHROPIC_MODEL"], max_tokens=10, messages=[{"role": "user", "content": "x"}]
            )
            assert msg.content[0].text == "through env"  # type: ignore[union-attr]
            assert "proxy started" not in cli("env", "-P", "up", "-f", "json").err  # reused
        finally:
            svc.stop()
