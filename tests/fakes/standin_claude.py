"""A stand-in for `claude` in launcher tests: records argv and env, then does what STANDIN_MODE says.

STANDIN_OUT=FILE     where to write {"argv", "settings", "env", "pid", "stdin_isatty"} as JSON
STANDIN_MODE=exit:N | sleep | trap | request | kill:SIG
  exit:N   exit with N
  sleep    sleep until signalled (default signal handling)
  trap     on SIGTERM/SIGHUP write the signal to STANDIN_OUT.sig and exit 100+N
  request  POST one message to $ANTHROPIC_BASE_URL/v1/messages with $ANTHROPIC_AUTH_TOKEN, print the answer
  kill:N   send itself signal N
  twice    request, write STANDIN_OUT.first, wait for STANDIN_OUT.go, request again retrying
           like Claude Code (up to 6 tries, 0.5 s apart), print both answers
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path


def main() -> int:
    out = os.environ.get("STANDIN_OUT")
    if out:
        args = sys.argv[1:]
        # The session's settings file is removed when the session ends: keep what it said.
        settings = json.loads(Path(args[1]).read_text()) if args[:1] == ["--settings"] else None
        with Path(out).open("w") as fh:
            json.dump(
                {
                    "argv": args,
                    "settings": settings,
                    "env": dict(os.environ),
                    "pid": os.getpid(),
                    "stdin_isatty": sys.stdin.isatty(),
                },
                fh,
            )
    mode = os.environ.get("STANDIN_MODE", "exit:0")
    kind, _, arg = mode.partition(":")
    if kind == "exit":
        return int(arg or 0)
    if kind == "sleep":
        time.sleep(60)
        return 0
    if kind == "trap":

        def handler(signum: int, _frame: object) -> None:
            with Path(f"{out}.sig").open("w") as fh:
                fh.write(str(signum))
            sys.exit(100 + signum)

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGHUP, handler)
        with Path(f"{out}.ready").open("w") as fh:
            fh.write("1")
        time.sleep(60)
        return 1
    if kind == "kill":
        os.kill(os.getpid(), int(arg))
        time.sleep(5)
        return 1
    if kind == "twice":
        first = _request()
        Path(f"{out}.first").write_text(first)
        deadline = time.monotonic() + 30
        while not Path(f"{out}.go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(first)
        for attempt in range(6):
            try:
                print(_request())
                return 0
            except OSError:
                if attempt == 5:
                    raise
                time.sleep(0.5)
    if kind == "request":
        print(_request())
        return 0
    return 2


def _request() -> str:
    """One message to the proxy, as claude would send it (its base URL and token)."""
    body = json.dumps(
        {
            "model": os.environ.get("ANTHROPIC_MODEL", "x"),
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    headers = {"authorization": "Bearer " + os.environ["ANTHROPIC_AUTH_TOKEN"], "content-type": "application/json"}
    url = os.environ["ANTHROPIC_BASE_URL"] + "/v1/messages"  # the proxy, on loopback
    req = urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)  # noqa: S310
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        return str(resp.read().decode())


if __name__ == "__main__":
    sys.exit(main())
