"""Shell aliases per profile (`cc-ollama` → `hybridcc run --profile ollama`) and their install.

An alias does not end in `--`: `cc-NAME --dry-run` reaches hybridcc, while everything hybridcc
does not know still reaches claude. Installed blocks are rewritten when profiles are added or
removed (:func:`refresh_installed`), so an alias never names a profile that is gone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from hybridcc import paths
from hybridcc.errors import UsageError
from hybridcc.fsutil import atomic_write

SHELLS: Final = ("bash", "zsh", "fish")
BEGIN: Final = "# >>> hybridcc aliases >>>"
END: Final = "# <<< hybridcc aliases <<<"
# A profile name must work as an alias name, in the proxy's /p/NAME path and unquoted in a shell.
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_profile_name(name: str) -> None:
    """Raise a usage error unless ``name`` can be a profile name (see ``_SAFE``)."""
    if not _SAFE.match(name) or len(name) > 64:
        raise UsageError(
            f'"{name}" cannot be a profile name',
            hint="use letters, digits, '-', '_' and '.', starting with a letter or digit (at most 64)",
        )


def alias_name(profile: str) -> str:
    return f"cc-{profile}"


def alias_lines(profiles: list[str], shell: str) -> list[str]:
    out: list[str] = []
    for name in profiles:
        if not _SAFE.match(name):  # a name a shell would need quoting for gets no alias
            continue
        if shell == "fish":
            out.append(f"function {alias_name(name)} --wraps claude; hybridcc run --profile {name} $argv; end")
        else:
            out.append(f"alias {alias_name(name)}='hybridcc run --profile {name}'")
    return out


def block(profiles: list[str], shell: str) -> str:
    body = "\n".join(alias_lines(profiles, shell))
    return f"{BEGIN}\n# managed by `hybridcc alias --install`; edits inside this block are replaced\n{body}\n{END}\n"


def install(profiles: list[str], shell: str, rc: Path | None = None) -> tuple[Path, bool]:
    """Put the block in the shell's rc file; returns (file, changed). Idempotent, keeps a backup."""
    rc = rc or paths.shell_rc_file(shell)
    try:
        text = rc.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    new_block = block(profiles, shell)
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.S)
    if pattern.search(text):
        new_text = pattern.sub(lambda _m: new_block, text, count=1)
    else:
        sep = "" if not text or text.endswith("\n") else "\n"
        new_text = text + sep + ("\n" if text else "") + new_block
    if new_text == text:
        return rc, False
    atomic_write(rc, new_text, backup=rc.exists())
    return rc, True


def refresh_installed(profiles: list[str]) -> list[Path]:
    """Rewrite the alias block in every rc file that already has one; returns the files changed."""
    changed: list[Path] = []
    for shell in SHELLS:
        rc = paths.shell_rc_file(shell)
        try:
            has_block = BEGIN in rc.read_text(encoding="utf-8")
        except OSError:
            continue
        if has_block and install(profiles, shell, rc)[1]:
            changed.append(rc)
    return changed
