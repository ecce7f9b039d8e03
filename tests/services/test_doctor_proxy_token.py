"""doctor fails a running proxy that holds an old token (issue 11 item 12) and places claude in the tested range."""

from __future__ import annotations

import json

import pytest

from hybridcc.claude import NEWEST_TESTED, OLDEST_TESTED
from hybridcc.claude import tested_fit as fit_of
from hybridcc.proxy_token import rotate_token
from hybridcc.services import proxy as proxy_svc


def test_doctor_fails_a_proxy_with_an_old_token(cli, proxy_config) -> None:  # type: ignore[no-untyped-def]
    proxy_config("")
    cli("proxy", "start")
    rotate_token()
    r = cli("doctor", "--json", code=1)  # a FAIL check: doctor exits 1
    checks = {c["id"]: c for c in json.loads(r.out)["checks"]}
    assert checks["proxy.token_current"]["status"] == "fail", checks.get("proxy.token_current")
    assert "old proxy token" in checks["proxy.token_current"]["message"]
    assert proxy_svc.stop()


@pytest.mark.parametrize(
    ("version", "fit"),
    [
        ("2.1.100", "older"),
        (OLDEST_TESTED, "tested"),
        (NEWEST_TESTED, "tested"),
        ("2.1.400", "newer"),
        ("3.0.0", "newer"),
    ],
)
def test_tested_fit(version: str, fit: str) -> None:
    assert fit_of(version) == fit
