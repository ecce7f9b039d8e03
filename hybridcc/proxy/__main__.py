"""The proxy daemon's entry point: ``python -m hybridcc.proxy --host H --port P``.

Kept lean (no typer, no rich): this is what `hybridcc proxy start` and `hybridcc run` spawn.
"""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hybridcc.proxy", description="hybridcc proxy daemon")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--provider", default=None)
    parser.add_argument("--allow-remote", action="store_true")
    args = parser.parse_args(argv)

    from hybridcc import paths
    from hybridcc.config import load_config
    from hybridcc.errors import HybridccError
    from hybridcc.proxy.server import PrivateLogHandler, serve
    from hybridcc.proxy_token import ensure_token

    # proxy.log is 0600 in a 0700 directory; a failed write is said once on stderr (the stdio log).
    handler = PrivateLogHandler(paths.service_log_file("proxy"), name="proxy")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    for name in ("hybridcc.proxy", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    log = logging.getLogger("hybridcc.proxy")
    try:
        config = load_config()

        def ready(host: str, port: int) -> None:
            log.info("listening on http://%s:%d", host, port)

        serve(config=config, token=ensure_token(), host=args.host, port=args.port, default_profile=args.provider,
              allow_remote=args.allow_remote or None, on_ready=ready)  # fmt: skip
    except HybridccError as exc:
        log.error("%s%s", exc.message, f" — fix: {exc.hint}" if exc.hint else "")
        print(f"error: {exc.message}", file=sys.stderr)
        return int(exc.exit_code)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
