"""Sensitive projects and complexity tiers through `run` (issue 16 policy, issue 18 run --local-only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridcc.config import load_config
from hybridcc.run_args import split_args
from tests.conftest import write_config
from tests.helpers import write_script

CFG = """
default_profile = "cloud"
[providers.remote]
api = "openai"
base_url = "https://api.example.invalid/v1"
api_key_env = "REMOTE_KEY"
[providers.box]
api = "openai"
base_url = "http://127.0.0.1:8/v1"
[profiles.cloud]
provider = "remote"
model = "mid"
small_model = "cheap"
[profiles.box]
provider = "box"
model = "qwen"
"""


@pytest.fixture
def claude(tmp_path: Path) -> str:
    return str(write_script(tmp_path / "bin" / "claude", "exit 0\n"))


def _prepare(argv: list[str]):  # type: ignore[no-untyped-def]
    from hybridcc.runner import prepare

    return prepare(load_config(), split_args(argv), port=4242, token="hcc-x-0123456789")


def test_sensitive_project_picks_the_local_profile_and_locks_the_session(
    tmp_path: Path, monkeypatch, claude: str
) -> None:  # type: ignore[no-untyped-def]
    write_config(CFG)
    repo = tmp_path / "repo" / "sub"
    repo.mkdir(parents=True)
    (tmp_path / "repo" / ".hybridcc.toml").write_text("sensitive = true\n")
    monkeypatch.chdir(repo)
    prepared = _prepare(["--claude-path", claude, "-p", "hi"])
    assert prepared.profile.name == "box"
    assert prepared.plan.env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:4242/p/box~local"
    assert prepared.plan.env["DISABLE_AUTOUPDATER"] == "1"
    assert {"WebFetch", "WebSearch"} <= set(prepared.settings["permissions"]["deny"])


def test_sensitive_refuses_a_remote_profile(tmp_path: Path, monkeypatch, claude: str) -> None:  # type: ignore[no-untyped-def]
    from hybridcc.errors import ConfigError

    write_config(CFG)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="not local"):
        _prepare(["--sensitive", "-P", "cloud", "--claude-path", claude])


def test_complexity_tiers(tmp_path: Path, monkeypatch, claude: str) -> None:  # type: ignore[no-untyped-def]
    write_config(CFG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REMOTE_KEY", "k")
    simple = _prepare(["--complexity", "simple", "--claude-path", claude])
    assert simple.profile.name == "cloud" and simple.plan.env["ANTHROPIC_MODEL"] == "cheap"
    assert _prepare(["--complexity", "medium", "--claude-path", claude]).plan.env["ANTHROPIC_MODEL"] == "mid"


def test_bad_complexity_is_a_usage_error() -> None:
    from hybridcc.errors import UsageError

    with pytest.raises(UsageError):
        split_args(["--complexity", "huge"])


def test_policy_table_maps_tiers(tmp_path: Path, monkeypatch, claude: str) -> None:  # type: ignore[no-untyped-def]
    write_config(CFG + '[policy]\nsimple = "box"\nsensitive = "box"\n')
    monkeypatch.chdir(tmp_path)
    assert _prepare(["--complexity", "simple", "--claude-path", claude]).profile.name == "box"
    assert _prepare(["--sensitive", "--claude-path", claude]).profile.name == "box"


def test_policy_table_is_validated(cli) -> None:  # type: ignore[no-untyped-def]
    write_config(CFG + '[policy]\ncomplex = "nope"\n')
    r = cli("config", "validate", code=3)
    assert "policy.complex" in (r.out + r.err)


def test_dry_run_with_port_zero_names_the_port_honestly(cli, tmp_path: Path, monkeypatch, claude: str) -> None:  # type: ignore[no-untyped-def]
    write_config(CFG.replace('default_profile = "cloud"', 'default_profile = "box"') + "[proxy]\nport = 0\n")
    monkeypatch.chdir(tmp_path)
    r = cli("run", "--dry-run", "--claude-path", claude)
    assert "127.0.0.1:0/" not in r.out and "<free port chosen at start>" in r.out


def test_doctor_shows_local_providers_and_a_sensitive_project(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json

    write_config(CFG)
    (tmp_path / ".hybridcc.toml").write_text("sensitive = true\n")
    monkeypatch.chdir(tmp_path)
    r = cli("doctor", "--json", code=None)  # other checks (no claude here) may fail: only policy.* matters
    checks = {c["id"]: c for c in json.loads(r.out)["checks"]}
    assert "box" in checks["policy.local"]["message"] and "remote" not in checks["policy.local"]["message"]
    assert checks["policy.project"]["status"] == "ok" and "local-only" in checks["policy.project"]["message"]


def test_sensitive_paths_in_the_users_config(tmp_path: Path, monkeypatch, claude: str) -> None:  # type: ignore[no-untyped-def]
    from hybridcc.policy import project_sensitive, sensitive_glob

    home = Path.home()
    client = home / "clients" / "acme" / "api"
    other = home / "oss" / "tool"
    for d in (client, other):
        d.mkdir(parents=True)
    config_path = write_config(CFG + '[policy]\nsensitive_paths = ["~/clients/*", "/nowhere/**"]\n')
    # a folder matching a glob is sensitive with everything below it; others are not
    assert sensitive_glob(client, ("~/clients/*",)) == "~/clients/*"
    assert sensitive_glob(home / "clients", ("~/clients/*",)) is None
    assert sensitive_glob(client, ("~/clients/acme/**",)) == "~/clients/acme/**"
    assert project_sensitive(client) == config_path
    assert project_sensitive(other) is None
    # a repository's `.hybridcc.toml` saying false does not undo the user's own list
    (client / ".hybridcc.toml").write_text("sensitive = false\n")
    assert project_sensitive(client) == config_path
    monkeypatch.chdir(client)
    prepared = _prepare(["--claude-path", claude, "-p", "hi"])
    assert prepared.profile.name == "box" and prepared.plan.env["ANTHROPIC_BASE_URL"].endswith("/p/box~local")
    monkeypatch.chdir(other)
    monkeypatch.setenv("REMOTE_KEY", "k")
    assert _prepare(["--claude-path", claude, "-p", "hi"]).profile.name == "cloud"


def test_doctor_names_the_config_that_marks_a_path_sensitive(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json

    config_path = write_config(CFG + f'[policy]\nsensitive_paths = ["{tmp_path}"]\n')
    monkeypatch.chdir(tmp_path)
    checks = {c["id"]: c for c in json.loads(cli("doctor", "--json", code=None).out)["checks"]}  # policy.* only
    assert str(config_path) in checks["policy.project"]["message"]
    assert "local-only" in checks["policy.project"]["message"]
