"""Shell aliases per profile (`cc-ollama` → `hybridcc run --provider ollama`) and their install."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from hybridcc import paths
from hybridcc.fsutil import atomic_write

SHELLS: Final = ("bash", "zsh", "fish")
BEGIN: Final = "# >>> hybridcc aliases >>>"
END: Final = "# <<< hybridcc aliases <<<"
_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


def alias_name(profile: str) -> str:
    return f"cc-{profile}"


def alias_lines(profiles: list[str], shell: str) -> list[str]:
    out: list[str] = []
    for name in profiles:
        if not _SAFE.match(name):  # a name a shell would need quoting for gets no alias
            continue
        if shell == "fish":
            out.append(f"function {alias_name(name)} --wraps claude; hybridcc run --provider {name} -- $argv; end")
        else:
            out.append(f"alias {alias_name(name)}='hybridcc run --provider {name} --'")
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
