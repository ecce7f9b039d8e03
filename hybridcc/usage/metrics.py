"""In-process request metrics, rendered in the Prometheus text format for `GET /metrics`.

The proxy calls :meth:`Metrics.observe` once per request with the record it logs; that only
adds to a few dicts under a lock (microseconds). Cost is priced with the same
:class:`~hybridcc.usage.prices.Pricer` the ledger uses, so a dashboard and `hybridcc usage`
agree. Counters restart at zero with the proxy, as Prometheus expects of a process.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from hybridcc.usage.prices import Pricer

# Seconds; covers a local model's long prefill as well as a cached cloud reply.
LATENCY_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_TOKEN_KINDS: Final = (
    ("input", "input_tokens"),
    ("output", "output_tokens"),
    ("cache_read", "cache_read_input_tokens"),
    ("cache_write", "cache_creation_input_tokens"),
)
Labels = tuple[str, str, str]  # profile, provider, model


class _Histogram:
    __slots__ = ("count", "counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * len(LATENCY_BUCKETS)
        self.count = 0
        self.total = 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1


class Metrics:
    """Counters and histograms by (profile, provider, model); thread-safe."""

    def __init__(self, pricer: Pricer | None = None) -> None:
        self.pricer = pricer
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str, str], int] = defaultdict(int)  # + status class
        self.errors: dict[Labels, int] = defaultdict(int)
        self.tokens: dict[tuple[str, str, str, str], int] = defaultdict(int)  # + kind
        self.cost: dict[Labels, float] = defaultdict(float)
        self.baseline: dict[Labels, float] = defaultdict(float)
        self.unpriced: dict[Labels, int] = defaultdict(int)
        self.latency: dict[Labels, _Histogram] = defaultdict(_Histogram)
        self.ttfb: dict[Labels, _Histogram] = defaultdict(_Histogram)

    def observe(self, record: Mapping[str, Any]) -> None:
        """Count one request record (the dict the proxy logs to requests.jsonl)."""
        labels: Labels = (
            str(record.get("profile") or ""),
            str(record.get("provider") or ""),
            str(record.get("model_used") or record.get("model_requested") or ""),
        )
        status = record.get("status")
        status_class = f"{status // 100}xx" if isinstance(status, int) and status > 0 else "none"
        failed = status_class in ("4xx", "5xx", "none") or bool(record.get("error"))
        cost = baseline = None
        if self.pricer is not None:
            try:
                cost, baseline, _ = self.pricer.price_row(record)
            except Exception:  # noqa: BLE001 - metrics must never fail a request
                cost = baseline = None
        with self._lock:
            self.requests[(*labels, status_class)] += 1
            if failed:
                self.errors[labels] += 1
            for kind, key in _TOKEN_KINDS:
                value = record.get(key)
                if isinstance(value, int) and value > 0:
                    self.tokens[(*labels, kind)] += value
            if cost is None:
                self.unpriced[labels] += 1
            else:
                self.cost[labels] += cost
            if baseline is not None:
                self.baseline[labels] += baseline
            for hist, key in ((self.latency, "latency_ms"), (self.ttfb, "ttfb_ms")):
                value = record.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                    hist[labels].add(value / 1000)

    def render(self) -> str:
        """Everything in the Prometheus text exposition format (version 0.0.4)."""
        with self._lock:
            out: list[str] = []
            _family(out, "hybridcc_requests_total", "counter", "Requests by profile, provider, model and status class.")
            for (p, pr, m, s), v in sorted(self.requests.items()):
                out.append(f"hybridcc_requests_total{_labels(p, pr, m, status=s)} {v}")
            _family(out, "hybridcc_request_errors_total", "counter", "Requests that failed (4xx, 5xx, broken streams).")
            out += [f"hybridcc_request_errors_total{_labels(*k)} {v}" for k, v in sorted(self.errors.items())]
            _family(out, "hybridcc_tokens_total", "counter", "Tokens by kind (input, output, cache_read, cache_write).")
            for (p, pr, m, kind), v in sorted(self.tokens.items()):
                out.append(f"hybridcc_tokens_total{_labels(p, pr, m, kind=kind)} {v}")
            _family(out, "hybridcc_cost_usd_total", "counter", "Cost at the provider's prices (priced requests only).")
            out += [f"hybridcc_cost_usd_total{_labels(*k)} {_num(v)}" for k, v in sorted(self.cost.items())]
            _family(out, "hybridcc_baseline_usd_total", "counter", "What Anthropic's list prices would have cost.")
            out += [f"hybridcc_baseline_usd_total{_labels(*k)} {_num(v)}" for k, v in sorted(self.baseline.items())]
            _family(out, "hybridcc_unpriced_requests_total", "counter", "Requests whose model has no known price.")
            out += [f"hybridcc_unpriced_requests_total{_labels(*k)} {v}" for k, v in sorted(self.unpriced.items())]
            for name, hists, help_ in (
                ("hybridcc_request_duration_seconds", self.latency, "Whole-request latency."),
                ("hybridcc_time_to_first_byte_seconds", self.ttfb, "Time to the first upstream byte."),
            ):
                _family(out, name, "histogram", help_)
                for k, h in sorted(hists.items()):
                    for bound, n in zip(LATENCY_BUCKETS, h.counts, strict=True):
                        out.append(f"{name}_bucket{_labels(*k, le=_num(bound))} {n}")
                    out.append(f"{name}_bucket{_labels(*k, le='+Inf')} {h.count}")
                    out.append(f"{name}_sum{_labels(*k)} {_num(h.total)}")
                    out.append(f"{name}_count{_labels(*k)} {h.count}")
        return "\n".join(out) + "\n"


def _family(out: list[str], name: str, kind: str, help_: str) -> None:
    out.append(f"# HELP {name} {help_}")
    out.append(f"# TYPE {name} {kind}")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(profile: str, provider: str, model: str, **extra: str) -> str:
    pairs = [("profile", profile), ("provider", provider), ("model", model), *extra.items()]
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _num(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else f"{value:.1f}"
