"""`hybridcc run`'s own options, split from the words that go to `claude` verbatim."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from hybridcc.errors import UsageError

# The profile is `--profile`/`-P` in every command: `-p` is claude's --print, and `run` passes
# everything it does not know to claude (issue 12). `--provider` stays as the old spelling.
PROFILE_FLAGS: Final = ("--profile", "-P", "--provider")
_VALUE_OPTS: Final = {
    **dict.fromkeys(PROFILE_FLAGS, "provider"),
    "--model": "model",
    "--small-model": "small_model",
    "--claude-path": "claude_path",
    "--port": "port",
    "--complexity": "complexity",
}
_FLAG_OPTS: Final = {
    "--no-preflight": "no_preflight",
    "--sensitive": "sensitive",
    "--local-only": "sensitive",
    "--dry-run": "dry_run",
    "--proxy": "force_proxy",
    "--force": "force_model",
    "--help": "help",
    "-h": "help",
}
# For completion and `--help`: each option once, with what it takes.
OPTION_HELP: Final = {
    "--profile": "profile to use (default: default_profile); -p is claude's --print, --provider the old spelling",
    "--model": "main model for this session (all slots unless --small-model)",
    "--small-model": "model for background / haiku requests",
    "--claude-path": "the claude executable (else HYBRIDCC_CLAUDE, claude_path, PATH, …)",
    "--proxy": "use the proxy even for the anthropic profile without a key",
    "--force": "use an Ollama model even if it does not list tool support",
    "--port": "proxy port for this session (when the configured one is taken)",
    "--no-preflight": "skip the provider check before claude starts",
    "--sensitive": "local-only session: every request must go to a local provider",
    "--complexity": "pick the profile by the [policy] tiers: simple, medium or complex",
    "--dry-run": "print what would run; run nothing",
    "--help": "show run's help",
}
OPTION_METAVAR: Final = {
    "--profile": "NAME",
    "--model": "M",
    "--small-model": "M",
    "--claude-path": "PATH",
    "--port": "N",
    "--complexity": "TIER",
}


@dataclass
class RunOptions:
    provider: str | None = None
    model: str | None = None
    small_model: str | None = None
    claude_path: str | None = None
    port: str | None = None  # checked by split_args: 0–65535
    no_preflight: bool = False
    sensitive: bool = False
    complexity: str | None = None
    dry_run: bool = False
    force_proxy: bool = False
    force_model: bool = False
    help: bool = False
    claude_args: list[str] = field(default_factory=list)


def split_args(argv: Sequence[str]) -> RunOptions:
    """hybridcc's own options out of ``argv``; everything else, in order, for `claude`.

    hybridcc's options are recognised only before a ``--``; after it every word goes to
    `claude` verbatim (use it for a prompt that looks like one of hybridcc's options).
    Raises :class:`UsageError` (exit 2) for a missing or unusable value.
    """
    opts = RunOptions()
    i = 0
    args = list(argv)
    while i < len(args):
        word = args[i]
        if word == "--":
            opts.claude_args.extend(args[i + 1 :])
            break
        name, eq, inline = word.partition("=")
        if name in _VALUE_OPTS:
            if eq:
                value = inline
            elif i + 1 < len(args) and not _looks_like_option(args[i + 1]):
                i += 1
                value = args[i]
            else:
                raise UsageError(f"{name} needs a value", hint=f"hybridcc run {name} VALUE [-- claude args…]")
            if not value:
                raise UsageError(f"{name} needs a value", hint=f"hybridcc run {name} VALUE [-- claude args…]")
            setattr(opts, _VALUE_OPTS[name], value)
        elif word in _FLAG_OPTS:
            setattr(opts, _FLAG_OPTS[word], True)
        else:
            opts.claude_args.append(word)
        i += 1
    _check_settings(opts.claude_args)
    if opts.complexity is not None and opts.complexity not in ("simple", "medium", "complex"):
        raise UsageError(f"--complexity {opts.complexity}: expected simple, medium or complex")
    if opts.port is not None and not (opts.port.isdigit() and 0 <= int(opts.port) <= 65535):
        raise UsageError(
            f"--port {opts.port}: expected a port number from 0 to 65535", hint="e.g. --port 8788, or 0 for a free one"
        )
    return opts


def _looks_like_option(word: str) -> bool:
    # `--profile --dry-run` is a forgotten value, not a profile named "--dry-run".
    return word.startswith("-") and len(word) > 1


def check_claude_path(value: str) -> None:
    """`--claude-path` must name an executable (a usage error, exit 2, before anything starts)."""
    path = Path(value).expanduser()
    if (path.is_file() and os.access(path, os.X_OK)) or ("/" not in value and shutil.which(value)):
        return
    why = "is not executable" if path.is_file() else "does not exist"
    raise UsageError(
        f"--claude-path {value}: {why}",
        hint="pass the path of the claude executable (`command -v claude` prints it)",
    )


def _check_settings(claude_args: list[str]) -> None:
    """`--settings '{…'` that is meant as JSON but does not parse is a usage error, caught here
    before anything starts (a file name is read, and checked, when the session is prepared)."""
    for i, word in enumerate(claude_args):
        if word == "--settings" and i + 1 < len(claude_args):
            text = claude_args[i + 1]
        elif word.startswith("--settings="):
            text = word.split("=", 1)[1]
        else:
            continue
        if not text.lstrip().startswith("{"):
            continue
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(
                f"--settings is not valid JSON ({exc})", hint="""pass a JSON object, e.g. --settings '{"model": "x"}'"""
            ) from None
        if not isinstance(data, dict):
            raise UsageError("--settings must be a JSON object", hint="""e.g. --settings '{"model": "x"}'""")
