"""`hybridcc gateway …`: a team gateway on LiteLLM's proxy (config, start, stop, status, key create)."""

from __future__ import annotations

from pathlib import Path

import typer

from hybridcc.cli import render
from hybridcc.cli.complete import profile_names

app = typer.Typer(
    help="A team gateway on LiteLLM's proxy: write its config, run instances, create keys.", no_args_is_help=True
)
key_app = typer.Typer(help="Virtual keys through LiteLLM's key API (needs its database).", no_args_is_help=True)
app.add_typer(key_app, name="key")

PROFILE_HELP = "Profile to serve (repeat it; default: default_profile)."
CONFIG_HELP = "The LiteLLM config file (default: gateway/litellm.yaml in hybridcc's config directory)."


@app.command("config")
def config_(
    profiles: list[str] = typer.Option([], "--profile", "-P", autocompletion=profile_names, help=PROFILE_HELP),  # noqa: B008 - typer reads defaults
    out: Path | None = typer.Option(None, "--out", "-o", help=CONFIG_HELP),  # noqa: B008 - typer reads defaults
    stdout: bool = typer.Option(False, "--stdout", help="Print the config instead of writing it."),
    redis: str | None = typer.Option(None, "--redis", help="redis://HOST:PORT shared by every instance."),
    redis_password_env: str | None = typer.Option(None, "--redis-password-env", help="Env var with Redis' password."),
    rpm: int | None = typer.Option(None, "--rpm", min=1, help="Requests per minute per model, across instances."),
) -> None:
    """Write LiteLLM's proxy config (model_list, router settings) from hybridcc's profiles.

    Keys stay in the environment (os.environ/VAR references); the master key is $LITELLM_MASTER_KEY.
    """
    from hybridcc import paths
    from hybridcc.config import load_config
    from hybridcc.config.load import get_profile
    from hybridcc.gateway import litellm_config

    config = load_config()
    chosen = [get_profile(config, name) for name in (profiles or [config.default_profile])]
    options = litellm_config.GatewayOptions(redis_url=redis, redis_password_env=redis_password_env, rpm=rpm)
    path = None if stdout else (out or paths.gateway_config_file())
    text = litellm_config.generate(config, chosen, options, path=path)
    if path is None:
        render.out.print(text, markup=False, end="")
        return
    env = [v for v in litellm_config.referenced_env(text) if v != litellm_config.MASTER_KEY_ENV]
    render.success(f"wrote {path} ({len(chosen)} profile(s))")
    if env:
        render.note(f"LiteLLM reads {', '.join(env)} from its environment at start")


@app.command("start")
def start(
    config_file: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),  # noqa: B008 - typer reads defaults
    instances: int = typer.Option(1, "--instances", "-n", min=1, max=16, help="How many LiteLLM processes."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (0.0.0.0 serves the network)."),
    port: int = typer.Option(4000, "--port", min=0, max=65535, help="First port (instance i: PORT+i; 0 = free ports)."),
    litellm: str | None = typer.Option(None, "--litellm", help="The litellm executable (or $HYBRIDCC_LITELLM)."),
    timeout: float = typer.Option(240.0, "--timeout", min=1, help="Seconds to wait for each health probe."),
) -> None:
    """Start LiteLLM instances in the background; returns once each answers its health probe."""
    from hybridcc import paths
    from hybridcc.config import load_config
    from hybridcc.gateway import supervise

    started = supervise.start(
        config=load_config(), config_path=config_file or paths.gateway_config_file(), instances=instances, host=host,
        port=port, litellm=litellm, timeout=timeout,
    )  # fmt: skip
    for inst in started:
        render.success(f"gateway {inst.index}: {inst.url} (pid {inst.state.pid})")


@app.command("stop")
def stop() -> None:
    """Stop every gateway instance hybridcc started. Not running is not an error."""
    from hybridcc.gateway import supervise

    stopped = supervise.stop()
    render.success(f"stopped {len(stopped)} gateway instance(s)") if stopped else render.note("no gateway running")


@app.command("status")
def status(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Each instance probed now (exit 0 when all answer, 1 when one does not or none runs)."""
    from hybridcc.gateway import supervise

    found = supervise.status()
    if json_:
        render.print_json([i.as_dict() for i in found])
    elif not found:
        render.out.print("gateway: not running", markup=False)
    for inst in [] if json_ else found:
        state = "healthy" if inst.healthy else "running, not answering" if inst.running else "stopped"
        mem = f", {inst.rss_mb:.0f} MB" if inst.rss_mb is not None else ""
        render.out.print(f"gateway {inst.index}: {state} {inst.url} (pid {inst.state.pid}{mem})", markup=False)
    if not found or not all(i.healthy for i in found):
        raise typer.Exit(1)


@key_app.command("create")
def key_create(
    user: str = typer.Option(..., "--user", help="Who the key is for (LiteLLM's user_id)."),
    budget: float | None = typer.Option(None, "--budget", help="Spend limit in USD."),
    url: str | None = typer.Option(None, "--url", help="The gateway (default: the first running instance)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Where to write the key (0600)."),  # noqa: B008 - typer reads defaults
) -> None:
    """Create a virtual key for USER; it is written to a 0600 file, never printed."""
    from hybridcc.errors import ServiceError
    from hybridcc.gateway import keys, supervise

    if url is None:
        running = [i for i in supervise.status() if i.healthy]
        if not running:
            raise ServiceError("no gateway is running here", hint="pass --url URL, or `hybridcc gateway start`")
        url = running[0].url
    created = keys.create_key(url, supervise.master_key(create=False), user=user, budget=budget, out=out)
    limit = f" with a budget of ${created.budget:g}" if created.budget is not None else ""
    render.success(f"created a key for {user}{limit}: written to {created.path}")
    render.note(f"give it to {user}: `export TEAM_KEY=$(cat {created.path})`")
