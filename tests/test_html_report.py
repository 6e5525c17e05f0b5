"""``report --format html``: the charts' numbers equal the JSON report's, the page is
self-contained, and a real browser (headless Chromium) draws it without a network request."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from supernova_ledger import Ledger
from supernova_ledger.html_report import GROUP_SIZES, TOP, chart_data, render_html
from supernova_ledger.results import DayFigures

CLI = [sys.executable, "-m", "supernova_ledger"]
DATA = re.compile(r'<script type="application/json" id="chart-data">(.*?)</script>', re.S)


def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CLI, *args], capture_output=True, check=False)


def chart_json(page: str) -> dict[str, Any]:
    found = DATA.search(page)
    assert found is not None, "no chart-data in the page"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("html")
    store = f"sqlite:///{folder / 'demo.db'}"
    done = cli("demo", "--store", store, "--promoters", "40", "--days", "12")
    assert done.returncode == 0, done.stderr
    return store


@pytest.fixture(scope="module")
def page(demo_store: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("page") / "report.html"
    done = cli("report", "--store", demo_store, "--format", "html", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""
    return out


def test_chart_numbers_are_the_json_reports(demo_store: str, page: Path) -> None:
    data = chart_json(page.read_text(encoding="utf-8"))
    report = json.loads(cli("report", "--store", demo_store).stdout)
    assert (data["events"], data["log_head"], data["digest"], data["period"]) == (
        report["events"], report["log_head"], report["digest"], None)
    assert data["tiers"] == [{"tier": int(t), **report["tiers"][t]} for t in "12345"]
    lower = [report["tiers"][t] for t in "345"]
    assert data["tier_3_5"]["groups"] == sum(t["groups"] for t in lower)
    assert data["tier_3_5"]["net_fen"] == sum(t["net_fen"] for t in lower)
    assert data["top_promoters"] == report["ranking"][:TOP]
    promoters, groups = report["promoters"].values(), report["groups"].values()
    assert data["levels"] == {"level1_fen": sum(p["level1_fen"] for p in promoters),
                              "level2_fen": sum(p["level2_fen"] for p in promoters)}
    for key in ("pending_fen", "available_fen", "in_payout_fen", "paid_out_fen"):
        assert data["balances"][key] == sum(p[key] for p in promoters)
    summary = data["summary"]
    assert summary["group_orders"] == sum(g["orders"] for g in groups)
    assert summary["net_fen"] == sum(g["net_fen"] for g in groups)
    assert summary["ranked_orders"] == sum(r["orders"] for r in report["ranking"])
    sizes = {b["members"]: b["groups"] for b in data["group_sizes"]}
    assert sum(sizes.values()) == len(report["groups"])
    for label, low, high in GROUP_SIZES:
        assert sizes[label] == sum(1 for g in groups if low <= g["members"] and (high is None or g["members"] <= high))
    # the daily series adds up to the whole report's group figures
    assert sum(d["gross_fen"] for d in data["daily"]) == sum(g["gross_fen"] for g in groups)
    assert sum(d["refunded_fen"] for d in data["daily"]) == sum(g["refunded_fen"] for g in groups)
    assert sum(d["orders"] for d in data["daily"]) == summary["group_orders"]


def test_rejections_and_statement_come_from_the_journal_and_the_statement(demo_store: str, page: Path) -> None:
    data = chart_json(page.read_text(encoding="utf-8"))
    journal = [json.loads(line) for line in cli("rejections", "--store", demo_store).stdout.splitlines()]
    assert data["rejections"]["total"] == len(journal) > 0
    by_code: dict[str, int] = {}
    for entry in journal:
        by_code[entry["code"]] = by_code.get(entry["code"], 0) + 1
    assert {r["code"]: r["events"] for r in data["rejections"]["by_code"]} == by_code
    statement = data["statement"]
    assert statement["latest"] is True  # no --period: the latest month with postings
    with Ledger.open(demo_store) as ledger:
        latest = ledger.latest_statement()
        assert latest is not None
        assert statement["period"] == latest.period == max(
            p["book"] for pid in ledger.report().promoters for p in ledger.explain(pid)["postings"])
    shown = json.loads(cli("statement", "--store", demo_store, "--period", statement["period"]).stdout)
    assert statement["totals"] == shown["totals"]
    assert statement["closed"] == shown["closed"]


def test_daily_series_equals_a_report_per_day(demo_store: str) -> None:
    with Ledger.open(demo_store) as ledger:
        days = ledger.daily()
        assert len(days) >= 10
        for day in days:
            groups = ledger.report(period=day.day).groups.values()
            assert day == DayFigures(day=day.day, orders=sum(g.orders for g in groups),
                                     gross_fen=sum(g.gross_fen for g in groups),
                                     refunded_fen=sum(g.refunded_fen for g in groups),
                                     net_fen=sum(g.net_fen for g in groups))
    # one day through the command line too, as the user would ask for it
    first = days[0]
    report = json.loads(cli("report", "--store", demo_store, "--period", first.day).stdout)
    assert first.gross_fen == sum(g["gross_fen"] for g in report["groups"].values())


def test_period_scopes_the_page(demo_store: str, tmp_path: Path) -> None:
    with Ledger.open(demo_store) as ledger:
        month = ledger.daily()[-1].day[:7]
    out = tmp_path / "month.html"
    assert cli("report", "--store", demo_store, "--format", "html", "--out", str(out), "--period", month).returncode == 0
    data = chart_json(out.read_text(encoding="utf-8"))
    assert data["period"] == month and data["daily"]
    assert all(d["day"].startswith(month + "-") for d in data["daily"])
    assert data["statement"]["period"] == month and data["statement"]["latest"] is False
    report = json.loads(cli("report", "--store", demo_store, "--period", month).stdout)
    assert data["digest"] == report["digest"]
    assert data["top_promoters"] == report["ranking"][:TOP]


def test_page_is_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"\b(src|href|srcset|action)\s*=", text, re.I)
    assert "http://" not in text and "https://" not in text and "//" not in text.replace("://", "")
    assert "default-src 'none'" in text  # and the browser is told to fetch nothing
    assert text.count("<script") == 1  # the JSON data block, which no browser runs
    assert text.count('class="chart"') == 10


def test_event_data_cannot_inject_markup() -> None:
    with Ledger.open("memory:") as ledger:
        nasty = '</script><img src="http://x/">&\x1b[31m'
        ledger.append({"type": "PromoterJoined", "id": "e1", "at": "2026-11-01T09:00:00+08:00",
                       "promoter_id": nasty, "program": "fenxiang", "city": "临沂", "city_tier": 4})
        ledger.append({"type": "GroupOpened", "id": "e2", "at": "2026-11-01T09:05:00+08:00", "group_id": "g<b>",
                       "owner_id": nasty, "city": "临沂", "city_tier": 4})
        ledger.append({"type": "GroupOpened", "id": "e3", "at": "2026-11-01T09:06:00+08:00", "group_id": "g<b>",
                       "owner_id": nasty, "city": "临沂", "city_tier": 4})
        report = ledger.report()
        entries = [msgspec.to_builtins(entry) for entry in ledger.rejections()]
        page = render_html(chart_data(report, ledger.daily(), entries, None))
    assert "<img" not in page and "g<b>" not in page and "\x1b" not in page
    assert "g&lt;b&gt;" in page and "\\x1b[31m" in page  # shown as text, the control character escaped
    assert page.count("</script>") == 1
    data = chart_json(page)
    assert data["rejections"]["owners"] == [{"promoter_id": nasty, "events": 2}]  # not qualified: both refused
    assert data["rejections"]["groups"] == [{"group_id": "g<b>", "events": 2}]


# -- a real browser ---------------------------------------------------------------------------

#: Hosts Chromium itself talks to (time, component updates, accounts) whatever the page holds.
BROWSER_OWN_HOSTS = ("clients2.google.com", "update.googleapis.com", "accounts.google.com",
                     "safebrowsingohttpgateway.googleapis.com", "optimizationguide-pa.googleapis.com",
                     "content-autofill.googleapis.com", "www.google.com", "android.clients.google.com",
                     "redirector.gvt1.com", "edgedl.me.gvt1.com")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        reason = "headless Chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    return found


class RecordingProxy:
    """A TCP listener posing as the browser's HTTP proxy: records every request's first line."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.server.settimeout(0.1)  # accept() wakes up to see close(): a closed socket does not wake it
        self.requests: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    self.requests.append(conn.recv(512).decode("latin-1").split("\r\n", 1)[0])
                except OSError as exc:
                    self.requests.append(f"(unreadable: {exc})")

    def page_requests(self) -> list[str]:
        def host(line: str) -> str:
            target = line.split(" ")[1] if " " in line else line
            return re.sub(r"^[a-z]+://", "", target).split("/")[0].split(":")[0]
        return [line for line in self.requests if host(line) not in BROWSER_OWN_HOSTS]

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.server.close()


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    recorder = RecordingProxy()
    yield recorder
    recorder.close()


def run_chromium(browser: str, proxy: RecordingProxy, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}",
        # every request goes to the recording proxy, and no name resolves: nothing can leave the machine
        f"--proxy-server=http://127.0.0.1:{proxy.port}", "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--no-pings",
    ]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=180, check=False)


def test_recording_proxy_sees_a_page_that_fetches(tmp_path: Path, proxy: RecordingProxy) -> None:
    """The control: a page with remote resources is caught, so silence below means something."""
    browser = chromium()
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<html><body><img src="http://example.com/x.png">hi</body></html>', encoding="utf-8")
    done = run_chromium(browser, proxy, tmp_path / "profile", "--dump-dom", leaky.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert any("example.com" in line for line in proxy.page_requests())


def test_chromium_draws_every_chart_without_a_request(page: Path, tmp_path: Path, proxy: RecordingProxy) -> None:
    browser = chromium()
    dom = run_chromium(browser, proxy, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    charts = re.findall(r'<svg class="chart" data-chart="([a-z-]+)"', dom.stdout)
    assert charts == ["daily", "tier-gmv", "tier-groups", "top-promoters", "levels", "balances", "group-sizes",
                      "rejections-by-code", "refused-groups", "refused-owners"]
    data = chart_json(page.read_text(encoding="utf-8"))
    assert dom.stdout.count('<polyline class="line') == 3
    bars = len(re.findall(r'<rect class="bar [a-z]+" x="\d+" y="\d+" width="\d+" height="\d+" data-label', dom.stdout))
    assert bars == (5 + 5 + len(data["top_promoters"]) + 2 + 4 + len(GROUP_SIZES)
                    + len(data["rejections"]["by_code"]) + len(data["rejections"]["groups"])
                    + len(data["rejections"]["owners"]))
    shot = tmp_path / "report.png"
    drawn = run_chromium(browser, proxy, tmp_path / "profile2", "--window-size=1100,2600",
                         f"--screenshot={shot}", page.as_uri())
    assert drawn.returncode == 0, drawn.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1100, 2600)
    assert len(png) > 50_000  # a blank page of this size compresses to a few kilobytes
    assert proxy.page_requests() == []
