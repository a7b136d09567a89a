"""Certificate expiry: local TLS servers with certificates made by the test (trustme)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from tests.services import HTTPTestServer, TLSProxy
from tests.webserver import serving
from website_monitor.cli import main
from website_monitor.probes.check import CheckOptions, Prober
from website_monitor.probes.conditions import parse_all


class Site:
    def __init__(self, url: str, not_after: datetime, issuer: str) -> None:
        self.url = url
        self.not_after = not_after
        self.issuer = issuer


@pytest.fixture
def sites(http_server: HTTPTestServer, tmp_path: Path, monkeypatch) -> Iterator[dict[str, Site]]:  # type: ignore[no-untyped-def]
    """Three HTTPS sites in front of the test server: a leaf expiring in 3 days, one in 90
    days, and one in 30 days issued by an intermediate CA (the server sends the chain)."""
    ca = trustme.CA()
    intermediate = ca.create_child_ca()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    port = int(http_server.url.rsplit(":", 1)[1])
    proxies = []
    found = {}
    for name, days, issuer in (("soon", 3, ca), ("later", 90, ca), ("chained", 30, intermediate)):
        not_after = now + timedelta(days=days)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        issuer.issue_cert("localhost", not_after=not_after).configure_cert(context)
        proxy = TLSProxy(port, context)
        proxies.append(proxy)
        found[name] = Site(f"https://localhost:{proxy.port}/", not_after, _subject(issuer))
    try:
        yield found
    finally:
        for proxy in proxies:
            proxy.close()


def _subject(ca: trustme.CA) -> str:
    """The CA's subject as RFC 4514 text, read by another library (cryptography)."""
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    return certificate.subject.rfc4514_string()


def test_https_checks_record_expiry_and_issuer(sites: dict[str, Site]) -> None:
    with Prober(CheckOptions(timeout=5)) as prober:
        soon = prober.check(sites["soon"].url)
        later = prober.check(sites["later"].url)
        again = prober.check(sites["soon"].url)  # a reused connection: still known
    for result, site in ((soon, sites["soon"]), (later, sites["later"]), (again, sites["soon"])):
        assert (result.http_status_code, result.ok, result.error) == (200, True, None)
        assert result.cert_expires_at == site.not_after
        assert result.cert_issuer == site.issuer
    assert again.connect_ms is None


def test_the_earliest_expiry_of_the_chain_and_the_leafs_issuer(sites: dict[str, Site]) -> None:
    with Prober(CheckOptions(timeout=5)) as prober:
        result = prober.check(sites["chained"].url)
    assert result.ok is True
    # the leaf (30 days) expires before the intermediate and the root
    assert result.cert_expires_at == sites["chained"].not_after
    assert result.cert_issuer == sites["chained"].issuer
    assert "Testing CA" in (result.cert_issuer or "")


def test_expect_cert_days_fails_a_certificate_about_to_expire(sites: dict[str, Site]) -> None:
    with Prober(CheckOptions(timeout=5, expect_cert_days=14)) as prober:
        soon = prober.check(sites["soon"].url)
        later = prober.check(sites["later"].url)
    assert (soon.http_status_code, soon.ok, soon.error) == (200, False, "cert_expiring")
    assert soon.error_detail is not None
    days = float(soon.error_detail.split(" days left")[0])
    assert 2.9 <= days <= 3.0
    assert "fewer than 14" in soon.error_detail
    assert (later.ok, later.error, later.error_detail) == (True, None, None)


def test_cert_days_in_conditions(sites: dict[str, Site]) -> None:
    conditions = parse_all(["cert_days > 14"])
    with Prober(CheckOptions(timeout=5, conditions=conditions)) as prober:
        soon = prober.check(sites["soon"].url)
        later = prober.check(sites["later"].url)
    assert (soon.ok, soon.error, soon.failed_condition) == (False, "condition", "cert_days > 14")
    assert soon.error_detail is not None and soon.error_detail.startswith("cert_days is ")
    assert 2.9 <= float(soon.error_detail.split()[2]) <= 3.0
    assert (later.ok, later.failed_condition) == (True, None)


def test_plain_http_has_no_certificate(http_server: HTTPTestServer) -> None:
    with Prober(CheckOptions(timeout=5, expect_cert_days=14)) as prober:
        result = prober.check(http_server.url)
    assert (result.ok, result.cert_expires_at, result.cert_issuer) == (True, None, None)


def test_expiry_reaches_stats_and_metrics(
    sites: dict[str, Site], store_url: str, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WM_PROBE_EXPECT_CERT_DAYS", "14")
    urls = [sites["soon"].url, sites["later"].url]
    probe = CliRunner().invoke(main, ["probe", *urls, "-d", store_url, "--json"])
    assert probe.exit_code == 0, probe.output
    printed = {r["url"]: r for r in map(json.loads, probe.stdout.splitlines())}
    assert printed[sites["soon"].url]["error"] == "cert_expiring"
    assert printed[sites["later"].url]["error"] is None

    stats = CliRunner().invoke(main, ["stats", "-d", store_url])
    assert stats.exit_code == 0, stats.output
    entries = {e["url"]: e for e in json.loads(stats.stdout)["stats"]}
    for name in ("soon", "later"):
        site = sites[name]
        assert datetime.fromisoformat(entries[site.url]["cert_expires_at"]) == site.not_after
    with serving(store_url) as served:
        text = served.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    expiry = {
        s.labels["url"]: s.value for s in families["wm_probe_cert_expiry_timestamp_seconds"].samples
    }
    assert expiry == {sites[n].url: sites[n].not_after.timestamp() for n in ("soon", "later")}
