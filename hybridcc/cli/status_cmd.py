"""`hybridcc status`: every service, the default profile, and where things are."""

from __future__ import annotations

import typer

from hybridcc.cli import render


def status(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """One view: proxy and Ollama (running, pid, port, uptime, version, owner, leases), profile, paths."""
    from hybridcc import paths
    from hybridcc.cli.status_view import breakers_line, ollama_dict, proxy_dict
    from hybridcc.config import load_config
    from hybridcc.services import ollama as ollama_svc
    from hybridcc.services import proxy as proxy_svc

    config = load_config()
    data = {
        "proxy": proxy_dict(proxy_svc.status(config)),
        "ollama": ollama_dict(ollama_svc.status(config)),
        "default_profile": config.default_profile,
        "config": str(paths.config_file()) + ("" if config.source else " (absent: built-in defaults)"),
        "logs": str(paths.log_dir()),
        "state": str(paths.state_dir()),
    }
    if json_:
        render.print_json(data)
        return
    for name in ("proxy", "ollama"):
        svc = data[name]
        assert isinstance(svc, dict)
        details = ", ".join(
            f"{k} {render.yes_no(v)}" for k, v in svc.items() if k not in ("status", "breakers") and v not in (None, "")
        )
        render.out.print(f"{name:8} {svc['status']:9} {details}", markup=False)
        if name == "proxy" and svc["status"] == "running":
            render.out.print(f"{'breakers':16} {breakers_line(svc.get('breakers') or {})}", markup=False)
    for key in ("default_profile", "config", "logs", "state"):
        render.out.print(f"{key:16} {data[key]}", markup=False)
