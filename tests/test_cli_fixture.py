"""The `cli` fixture fails a test at the command that went wrong, not at a later output check."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def test_an_unexpected_exit_code_fails_with_the_command_and_its_stderr(cli: Cli) -> None:
    with pytest.raises(AssertionError) as info:
        cli("profile", "show", "ghost")
    message = str(info.value)
    assert "`hybridcc profile show ghost` exited 4, expected 0" in message
    assert 'no profile named "ghost"' in message  # the stderr, so the cause is on screen


def test_an_expected_code_or_none_is_accepted(cli: Cli) -> None:
    assert cli("profile", "show", "ghost", code=4).code == 4
    assert cli("profile", "show", "ghost", code=None).code == 4
    with pytest.raises(AssertionError, match="exited 0, expected 2"):
        cli("--version", code=2)
