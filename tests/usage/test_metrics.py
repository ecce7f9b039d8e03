"""Prometheus metrics: counters, cost, histograms, and a valid text exposition."""

from __future__ import annotations

import re
import time

import pytest

from hybridcc.config.load import load_config
from hybridcc.usage.metrics import LATENCY_BUCKETS, Metrics
from hybridcc.usage.prices import Pricer, shipped_catalog
from tests.usage.conftest import record

_LINE = re.compile(r'^[a-z_]+(\{([a-z_]+="(?:[^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$|^[a-z_]+\{.*le="\+Inf".*\} \d+$')


def test_observe_and_render() -> None:
    m = Metrics(Pricer(load_config(), shipped_catalog()))
    m.observe(record(latency_ms=300.0, ttfb_ms=40.0, cache_read_input_tokens=500))
    m.observe(record(status=502, error="bad gateway", input_tokens=None, output_tokens=None, latency_ms=7000.0))
    m.observe(record(model_used="mystery", model_requested="mystery"))
    m.observe({"profile": 'we"ird', "status": 0})  # a record with nearly nothing still counts
    text = m.render()
    assert text.endswith("\n")
    for line in text.splitlines():
        assert line.startswith("# ") or _LINE.match(line), line
    labels = 'profile="deepseek",provider="deepseek",model="deepseek-chat"'
    assert f'hybridcc_requests_total{{{labels},status="2xx"}} 1' in text
    assert f'hybridcc_requests_total{{{labels},status="5xx"}} 1' in text
    assert f"hybridcc_request_errors_total{{{labels}}} 1" in text
    assert f'hybridcc_tokens_total{{{labels},kind="input"}} 100000' in text
    assert f'hybridcc_tokens_total{{{labels},kind="cache_read"}} 500' in text
    cost = float(re.search(rf"hybridcc_cost_usd_total\{{{labels}\}} (\S+)", text).group(1))  # type: ignore[union-attr]
    assert cost == pytest.approx((100_000 * 0.28 + 20_000 * 0.42 + 500 * 0.028) / 1e6)
    assert 'hybridcc_unpriced_requests_total{profile="deepseek",provider="deepseek",model="mystery"} 1' in text
    # Histograms are cumulative: 0.3 s falls in the 0.5 bucket, 7 s in the 10 bucket.
    assert f'hybridcc_request_duration_seconds_bucket{{{labels},le="0.25"}} 0' in text
    assert f'hybridcc_request_duration_seconds_bucket{{{labels},le="0.5"}} 1' in text
    assert f'hybridcc_request_duration_seconds_bucket{{{labels},le="10.0"}} 2' in text
    assert f'hybridcc_request_duration_seconds_bucket{{{labels},le="+Inf"}} 2' in text
    assert f"hybridcc_request_duration_seconds_count{{{labels}}} 2" in text
    assert f'hybridcc_time_to_first_byte_seconds_bucket{{{labels},le="0.05"}} 1' in text
    assert f'hybridcc_time_to_first_byte_seconds_bucket{{{labels},le="0.25"}} 2' in text
    assert 'profile="we\\"ird"' in text
    assert len(LATENCY_BUCKETS) == len(set(LATENCY_BUCKETS))


def test_observe_is_cheap() -> None:
    m = Metrics(Pricer(load_config(), shipped_catalog()))
    r = record()
    start = time.perf_counter()
    for _ in range(2000):
        m.observe(r)
    per_call = (time.perf_counter() - start) / 2000
    print(f"Metrics.observe: {per_call * 1e6:.1f} µs per request")
    assert per_call < 0.002
