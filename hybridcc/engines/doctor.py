"""doctor's checks for the engines (issue 18): is ccr installed and at the tested version, is it
running, and what a direct external engine gives up. The provider's own endpoint and key are
checked by doctor's profile checks (with --online, one authenticated request), as for any provider.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from hybridcc.doctor.model import Check, Context, Status
from hybridcc.errors import HybridccError

TESTED_CCR: Final = "2.0.0"


def check_engines(ctx: Context) -> Iterator[Check]:
    """One or two checks per provider with an engine that a checked profile uses."""
    if ctx.config is None:
        return
    from hybridcc.engines import ccr

    seen: set[str] = set()
    for profile in ctx.profiles:
        provider = ctx.config.providers[profile.provider]
        if provider.engine is None or provider.name in seen:
            continue
        seen.add(provider.name)
        area, cid = f"engine {provider.name}", f"engine.{provider.name}"
        if provider.engine == "external":
            if provider.direct:
                yield Check(f"{cid}.direct", area, "warn",
                            "direct = true: claude holds this provider's key and its usage is not recorded",
                            f"remove `direct` from [providers.{provider.name}] to go through hybridcc's proxy")  # fmt: skip
            else:
                yield Check(f"{cid}.proxy", area, "ok", "external Anthropic-compatible URL, through hybridcc's proxy")
            continue
        try:
            argv = ccr.command()
        except HybridccError as exc:
            yield Check(f"{cid}.installed", area, "fail", exc.message, exc.hint or "")
            continue
        version = ccr.version(argv)
        if version == TESTED_CCR:
            yield Check(f"{cid}.installed", area, "ok", f"claude-code-router {version} at {argv[-1]}")
        else:
            yield Check(f"{cid}.installed", area, "warn",
                        f"claude-code-router {version} at {argv[-1]}: hybridcc is tested with {TESTED_CCR}",
                        f"npm install -g @musistudio/claude-code-router@{TESTED_CCR}")  # fmt: skip
        st = ccr.status(provider)
        if st.running and st.state is not None:
            status: Status = "ok" if st.healthy else "fail"
            what = "answering" if st.healthy else "not answering /health"
            yield Check(f"{cid}.running", area, status,
                        f"running on port {st.state.port} (pid {st.state.pid}, {st.leases} session(s)), {what}",
                        "" if st.healthy else f"the next `hybridcc run -P {profile.name}` replaces it")  # fmt: skip
        else:
            yield Check(f"{cid}.running", area, "ok", "not running (started by the first session that needs it)")
