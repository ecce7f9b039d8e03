"""One place that removes secrets from anything leaving the proxy or written to disk.

Known secrets are every resolved provider key, the proxy token, and the userinfo of any
configured base URL; providers quote keys back in errors ("Incorrect API key provided: sk-…"),
and a ``http://user:pass@gateway`` base URL would otherwise reach errors and logs (issue 11
item 3). Also a pattern pass for key-looking strings we were never told about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

MASK: Final = "[REDACTED]"
_MIN_SECRET = 6  # shorter values would mask ordinary words
# userinfo in any URL: scheme://user:pass@host → scheme://[REDACTED]@host
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]+(?::[^/@\s]*)?@")
# Common key shapes (OpenAI/Anthropic/OpenRouter/Google/...), in case a provider echoes a key
# hybridcc did not resolve itself (another profile's, a user's typo).
_KEYLIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{12,}|\bAIza[0-9A-Za-z_\-]{20,}|\bhcc-[A-Za-z0-9_\-]{12,}")


def url_userinfo(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.username is None and parts.password is None:
        return None
    return parts.netloc.rsplit("@", 1)[0]


def strip_userinfo(url: str) -> str:
    """The URL as it may be shown: userinfo replaced by the mask."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", url)


class Redactor:
    """``redact(text)`` masks every secret added with ``add``; cheap when there is none."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < _MIN_SECRET or secret in self._secrets:
            return
        self._secrets.add(secret)
        # Longest first, so a key that contains another is masked whole.
        alternatives = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in alternatives))

    def add_url(self, url: str | None) -> None:
        info = url_userinfo(url or "")
        if info:
            self.add(info)
            self.add(info.partition(":")[2] or None)

    def redact(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        if "://" in text and "@" in text:
            text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
        return _KEYLIKE.sub(MASK, text)

    def redact_bytes(self, body: bytes) -> bytes:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        out = self.redact(text)
        return body if out == text else out.encode("utf-8")
