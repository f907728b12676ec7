"""The operations samples under ``deploy/`` stay true to vinex: the dashboard queries metrics vinex serves,
the systemd units parse, nginx sets the headers vinex reads."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import event
from tests.factories import subscribe
from tests.feeds.roster import person, put_roster, roster_csv
from tests.site.scraping import metrics_text, scrape_token  # noqa: F401  (a fixture)
from tests.support.smtp import SmtpServer
from vinex.custody.models import Agency
from vinex.notify.worker import Worker

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "vinex-dashboard.json"
UNITS = sorted((DEPLOY / "systemd").glob("vinex-*.service")) + sorted((DEPLOY / "systemd").glob("vinex-*.timer"))
NGINX = DEPLOY / "nginx" / "vinex.conf"
INSTALLED_VINEX = "/opt/vinex/venv/bin/vinex"


def _queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert queries, "the dashboard queries nothing"
    return queries


def _post(api: Client, *events: dict[str, object]) -> None:
    response = api.post("/api/v1/custody-events", data=json.dumps({"events": list(events)}),
                        content_type="application/json")
    assert response.json()["accepted"] == len(events)


def _served_metrics() -> dict[str, set[str]]:
    """Each sample name on /metrics with the label names it carries."""
    served: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics_text()):
        for sample in family.samples:
            served.setdefault(sample.name, set()).update(sample.labels)
    return served


@pytest.mark.usefixtures("scrape_token")
def test_every_metric_and_label_the_dashboard_queries_is_served(
    agency: Agency, api: Client, smtp_settings: SmtpServer
) -> None:
    # Some activity: a roster (a feed heard from), events through the API, an email sent by the worker.
    _post(api, event("b1", "BOOKED"))
    subscribe(agency, email="victim@example.org")
    _post(api, event("r1", "RELEASED", minutes=30))
    assert Worker(threads=1).run_once() == 1
    assert put_roster(api, roster_csv([person("S-2")]), facility="annex").status_code == 200

    served = _served_metrics()
    for query in _queries():
        names = set(re.findall(r"\bvinex_[a-z0-9_]+", query))
        assert names, f"no vinex metric in {query!r}"
        missing = names - served.keys()
        assert not missing, f"{query!r} uses {missing}, which /metrics does not serve"
        labels = set().union(*(served[name] for name in names))
        used = {label for group in re.findall(r"\bby \(([^)]*)\)", query) for label in re.split(r",\s*", group)}
        used |= set(re.findall(r"([a-z_]+)=~?\"", query))
        assert used <= labels, f"{query!r} uses labels {used - labels} that its metrics do not carry"


def _unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)  # systemd repeats keys (SystemCallFilter)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


@pytest.mark.parametrize("path", [p for p in UNITS if p.suffix == ".service"], ids=lambda p: p.name)
def test_each_service_runs_vinex_sandboxed_as_its_own_user(path: Path) -> None:
    service = _unit(path)["Service"]
    assert f"{INSTALLED_VINEX} " in service["ExecStart"]
    assert service["User"] == "vinex" and service["EnvironmentFile"] == "/etc/vinex/vinex.env"
    assert (service["NoNewPrivileges"], service["ProtectSystem"], service["PrivateTmp"]) == ("yes", "strict", "yes")
    assert service["CapabilityBoundingSet"] == ""
    if service.get("Type") != "oneshot":
        assert service["Restart"] == "always"


def test_the_three_processes_each_have_a_unit() -> None:
    commands = {_unit(p)["Service"]["ExecStart"].split()[1] for p in UNITS if p.name != "vinex-backup.service"
                and p.suffix == ".service"}
    assert commands == {"serve", "worker", "scheduler"}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    # systemd checks that ExecStart exists: point the units at this installation's vinex.
    vinex = Path(sys.executable).parent / "vinex"
    for path in UNITS:
        (tmp_path / path.name).write_text(path.read_text().replace(INSTALLED_VINEX, str(vinex)))
    result = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / p.name) for p in UNITS)],
                            capture_output=True, text=True, timeout=60, check=False)
    complaints = [line for line in result.stderr.splitlines() if "vinex-" in line]
    assert result.returncode == 0 and not complaints, result.stderr


def test_nginx_sets_the_headers_vinex_trusts_and_keeps_metrics_internal() -> None:
    conf = NGINX.read_text()
    public, internal = conf.split("# Internal listener")
    # Django's convention: SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https").
    meta_name = getattr(settings, "SECURE_PROXY_SSL_HEADER", None) or ("HTTP_X_FORWARDED_PROTO", "https")
    header = "-".join(part.capitalize() for part in meta_name[0].removeprefix("HTTP_").split("_"))
    assert f"proxy_set_header {header} $scheme;" in public
    # One hop that replaces X-Forwarded-For: the address vinex rate-limits is the one nginx saw.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in public
    assert re.search(r"location = /metrics \{\s*return 404;\s*\}", public)
    assert re.search(r"location = /metrics \{[^}]*deny all;[^}]*proxy_pass", internal)
    assert re.search(r"location /api/v1/rosters/ \{[^}]*client_max_body_size 200m;", public)


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=vinex.example.org"], check=True, capture_output=True, timeout=60)
    site = re.sub(r"ssl_certificate /\S+;", f"ssl_certificate {cert};", NGINX.read_text())
    site = re.sub(r"ssl_certificate_key /\S+;", f"ssl_certificate_key {key};", site)
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ include {tmp_path}/site.conf; }}\n"
    )
    result = subprocess.run(["nginx", "-t", "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
