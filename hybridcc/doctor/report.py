"""Run the checks, aggregate, render (rich table or the stable JSON schema), and apply safe fixes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from hybridcc.doctor.model import Check, Context


def build_context(*, provider: str | None, all_profiles: bool, online: bool, probe: bool, timeout: float) -> Context:
    from hybridcc.config import load_config
    from hybridcc.config.load import get_profile
    from hybridcc.errors import HybridccError

    try:
        config = load_config()
    except HybridccError as exc:
        return Context(None, exc.message, online=online, probe=probe, timeout=timeout)
    profiles = list(config.profiles.values()) if all_profiles else [get_profile(config, provider)]
    return Context(config, None, profiles, online=online, probe=probe, timeout=timeout)


def run_checks(ctx: Context, *, all_profiles: bool = False, privacy: bool = False) -> list[Check]:
    """Every check; ``all_profiles`` (doctor --all) skips, with a warning, built-in profiles the
    user never set up instead of failing them; ``privacy`` (doctor --privacy) adds the privacy area."""
    from functools import partial, update_wrapper

    from hybridcc.doctor import checks, requests_check, service_checks
    from hybridcc.doctor.probe import check_probe
    from hybridcc.engines.doctor import check_engines

    def lenient(check: Callable[..., Iterator[Check]]) -> Callable[[Context], Iterator[Check]]:
        return update_wrapper(partial(check, lenient=all_profiles), check)

    groups: list[Callable[[Context], Iterator[Check]]] = [
        checks.check_config,
        checks.check_claude,
        checks.check_claude_settings,
    ]
    if ctx.config is not None:
        groups += [
            lenient(checks.check_profiles),
            service_checks.check_proxy,
            lenient(service_checks.check_ollama),
            checks.check_policy,
            check_engines,
            requests_check.check_recent_requests,
        ]
        if ctx.probe:
            groups.append(check_probe)
        if privacy:
            from hybridcc.doctor.privacy import check_privacy

            groups.append(check_privacy)
    out: list[Check] = []
    for group in groups:
        try:
            out.extend(group(ctx))
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            out.append(Check(f"{group.__name__}.error", "doctor", "fail", f"{group.__name__} crashed: {type(exc).__name__}: {exc}",
                             "report this with `hybridcc --debug doctor`"))  # fmt: skip
    return out


def fixable(results: list[Check]) -> list[Check]:
    """The checks `apply_fixes` would act on (what `doctor --fix` offers)."""
    return [c for c in results if c.action and (c.status != "ok" or c.action == "init")]


def ok(results: list[Check]) -> bool:
    return not any(c.status == "fail" for c in results)


def as_json(results: list[Check]) -> dict[str, object]:
    return {"ok": ok(results), "checks": [c.as_dict() for c in results]}


def summary(results: list[Check]) -> str:
    counts = {s: sum(c.status == s for c in results) for s in ("ok", "warn", "fail")}
    verdict = (
        "all good"
        if not counts["fail"] and not counts["warn"]
        else ("problems found" if counts["fail"] else "usable, with warnings")
    )
    return f"{counts['ok']} ok, {counts['warn']} warnings, {counts['fail']} failures — {verdict}"


def apply_fixes(results: list[Check], confirm: Callable[[str], bool]) -> list[str]:
    """Apply each safe fix once (after ``confirm``); returns what was done."""
    import os

    from hybridcc.config import load_config
    from hybridcc.errors import HybridccError

    done: list[str] = []
    seen: set[str] = set()
    for c in results:
        action = c.action
        if not action or action in seen or (c.status == "ok" and action != "init"):
            continue
        seen.add(action)
        if not confirm(f"{c.message} → {c.fix}"):
            continue
        try:
            if action == "init":
                from hybridcc.wizard import detect, write_initial_config

                d = detect()
                choice = d.proposals()[0]
                write_initial_config(choice, d.ollama_model() if choice == "ollama" else None, force=False)
                done.append(f"wrote config.toml (default profile {choice})")
            elif action == "start_proxy":
                from hybridcc.services import proxy as svc

                state, what = svc.start(load_config(), owner="user")
                done.append(f"proxy {what} on port {state.port}")
            elif action == "start_ollama":
                from hybridcc.services import ollama as osvc

                st, what = osvc.start(load_config(), owner="user")
                done.append(f"ollama {what} at {st.url}")
            elif action.startswith("pull:"):
                from hybridcc.services import ollama as osvc

                model = action.split(":", 1)[1]
                for _ in osvc.pull(osvc.base_url(load_config()), model):
                    pass
                done.append(f"pulled {model}")
            elif action.startswith("chmod:"):
                os.chmod(action.split(":", 1)[1], 0o600)
                done.append(f"chmod 600 {action.split(':', 1)[1]}")
        except HybridccError as exc:
            done.append(f"could not apply ({action}): {exc.message}")
    return done
