"""Plain-text renderings of the ledger reports (tables and the per-day bar chart)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

from hybridcc.usage.prices import format_usd

_SHADES: Final = "█▓▒░#=+*"
_COLUMNS: Final = ("requests", "errors", "input", "output", "cache rd", "cache wr", "cost", "baseline", "saved")


def _n(value: int | None) -> str:
    value = value or 0
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.1f}k"
    return str(value)


def _saved(row: dict[str, Any]) -> str:
    if row.get("savings_usd") is None:
        return "—"
    pct = row.get("savings_pct")
    return format_usd(row["savings_usd"]) + (f" ({pct}%)" if pct is not None else "")


def _cost(row: dict[str, Any]) -> str:
    text = format_usd(row.get("cost_usd")) if row.get("cost_usd") is not None else "unknown"
    if row.get("unpriced_requests") and row.get("cost_usd") is not None:
        text += f" +{row['unpriced_requests']}?"
    return text


def _cells(label: str, row: dict[str, Any]) -> list[str]:
    return [
        label,
        str(row.get("requests") or 0),
        str(row.get("errors") or 0),
        _n(row.get("input_tokens")),
        _n(row.get("output_tokens")),
        _n(row.get("cache_read_tokens")),
        _n(row.get("cache_write_tokens")),
        _cost(row),
        format_usd(row.get("baseline_usd")) if row.get("baseline_usd") is not None else "unknown",
        _saved(row),
    ]


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        rest = [f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


def summary(report: dict[str, Any]) -> str:
    rows = [_cells(str(r["key"]), r) for r in report["rows"]]
    rows.append(_cells("total", report["total"]))
    since = f" since {report['since']}" if report.get("since") else ""
    notes = []
    if report["total"].get("unpriced_requests"):
        notes.append(
            f"{report['total']['unpriced_requests']} request(s) have no known price (shown as +N?): "
            'add them under [prices."PROVIDER/MODEL"] in config.toml'
        )
    title = f"Usage by {report['by']}{since}"
    return "\n".join([title, table([report["by"], *_COLUMNS], rows), *notes])


def session(report: dict[str, Any]) -> str:
    head = [
        f"Session {report['session_id']} ({', '.join(p for p in report['profiles'] if p) or 'no profile'})",
        f"{report['first']} → {report['last']}",
    ]
    agents = [_cells(f"{a['kind']}" + (f" {a['agent_id']}" if a.get("agent_id") else ""), a) for a in report["agents"]]
    agents.append(_cells("total", report["total"]))
    models = [_cells(f"{m['provider']}/{m['model']}", m) for m in report["models"]]
    return "\n".join([*head, "", table(["agent", *_COLUMNS], agents), "", table(["model", *_COLUMNS], models)])


def chart(rows: list[tuple[str, str, float]], *, width: int = 50) -> str:
    """Cost per day as horizontal bars, one shade per provider, with a legend."""
    if not rows:
        return "No priced requests in this period."
    days: dict[str, dict[str, float]] = defaultdict(dict)
    providers: list[str] = []
    for day, provider, cost in rows:
        days[day][provider] = days[day].get(provider, 0.0) + cost
        if provider not in providers:
            providers.append(provider)
    shade = {p: _SHADES[i % len(_SHADES)] for i, p in enumerate(providers)}
    peak = max(sum(v.values()) for v in days.values()) or 1.0
    lines = ["Cost per day by provider"]
    for day in sorted(days):
        bar = ""
        for provider in providers:
            cost = days[day].get(provider, 0.0)
            cells = round(cost / peak * width)
            if cost > 0 and cells == 0:
                cells = 1  # a paid day never looks free
            bar += shade[provider] * cells
        lines.append(f"{day}  {bar:<{width}}  {format_usd(sum(days[day].values()))}")
    lines.append("  ".join(f"{shade[p]} {p or '(none)'}" for p in providers))
    return "\n".join(lines)
