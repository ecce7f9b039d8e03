"""Start-up cost of `hybridcc run`: run by hand (`python bench/run_bench.py`), prints a table.

1. `hybridcc run --dry-run` from start to exit.
2. `hybridcc run` from start to the `claude` child's first instruction, services already warm
   (a stand-in `claude` records the moment it starts; the proxy daemon is running).
Compared with `python -c pass` and `hybridcc --version` measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=20)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="hcc-runbench-"))
    out = home / "child-started"
    claude = home / "claude"
    claude.write_text(f"#!{sys.executable}\nimport time\nopen({str(out)!r}, 'w').write(repr(time.time()))\n")
    claude.chmod(0o755)
    (home / "config.toml").write_text(
        '[proxy]\nport = 0\n[providers.b]\napi = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n[profiles.b]\nprovider = "b"\nmodel = "m"\n'
    )
    env = {**os.environ, "HYBRIDCC_HOME": str(home)}
    hcc = [sys.executable, "-m", "hybridcc"]
    subprocess.run([*hcc, "proxy", "start"], env=env, check=True, capture_output=True)
    try:
        base = [timed([sys.executable, "-c", "pass"], env) for _ in range(args.n)]
        version = [timed([*hcc, "--version"], env) for _ in range(args.n)]
        dry = [
            timed([*hcc, "run", "--provider", "b", "--claude-path", str(claude), "--dry-run"], env)
            for _ in range(args.n)
        ]
        launch = []
        for _ in range(args.n):
            t0 = time.time()
            subprocess.run(
                [*hcc, "run", "--provider", "b", "--claude-path", str(claude)], env=env, check=True, capture_output=True
            )
            launch.append(float(out.read_text()) - t0)
    finally:
        subprocess.run([*hcc, "proxy", "stop"], env=env, capture_output=True)

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.0f} | {max(values) * 1000:.0f}"

    print(f"\nhybridcc run start-up — {os.cpu_count()} cores, n={args.n}\n")
    print("| measure | median ms | max ms |")
    print("|---|---|---|")
    print(f"| python -c pass (interpreter floor) | {ms(base)} |")
    print(f"| hybridcc --version | {ms(version)} |")
    print(f"| hybridcc run --dry-run, start to exit | {ms(dry)} |")
    print(f"| hybridcc run → claude child started (proxy warm) | {ms(launch)} |")


if __name__ == "__main__":
    main()
