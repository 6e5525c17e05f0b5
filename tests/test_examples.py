"""The runnable examples in examples/ and the code in docs/ do what the docs say."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.util import setup_testing_defaults

import pytest

from supernova_ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT.parent / "shared" / "example.jsonl"
if not EXAMPLE.exists():  # the SPEC example is also kept as a golden log
    EXAMPLE = ROOT / "tests" / "golden" / "spec_example.jsonl"
SPEC_DIGEST = "363493d66ddbf3e8886947d20da52f84d8451c2bc2cf622193c6cbeb42b615de"
SPEC_LOG_HEAD = "533004cce5c2746a24ca195f00b10f94b1ea568fc7699cd51ebeaadc2394c948"
CLI = [sys.executable, "-m", "supernova_ledger"]


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


http_ledger = load("http_ledger")
audit_recompute = load("audit_recompute")


# -- the WSGI handler, called directly ----------------------------------------------


def call(app: Any, method: str, path: str, body: bytes | None = None, query: str = "") -> tuple[int, Any]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
    if body is not None:
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
    setup_testing_defaults(environ)
    seen: list[str] = []
    chunks = app(environ, lambda status, headers: seen.append(status))
    return int(seen[0].split()[0]), json.loads(b"".join(chunks))


@pytest.fixture
def app() -> Iterator[Any]:
    with Ledger.open("memory:") as ledger:
        yield http_ledger.make_app(ledger)


def test_post_the_spec_example_then_get_the_report(app: Any) -> None:
    statuses = []
    for line in EXAMPLE.read_bytes().splitlines():
        status, outcome = call(app, "POST", "/events", line)
        statuses.append((status, outcome["status"], outcome["code"]))
    assert statuses[:12] == [(201, "accepted", None)] * 12
    assert statuses[12] == (422, "rejected", "below_minimum_payout")
    status, report = call(app, "GET", "/report")
    assert status == 200
    assert (report["digest"], report["log_head"], report["events"]) == (SPEC_DIGEST, SPEC_LOG_HEAD, 12)
    status, health = call(app, "GET", "/health")
    assert (status, health) == (200, {"events": 12, "log_head": SPEC_LOG_HEAD})


def test_balance_explain_and_statement_routes(app: Any) -> None:
    for line in EXAMPLE.read_bytes().splitlines():
        call(app, "POST", "/events", line)
    status, balances = call(app, "GET", "/balance", query="promoter=B")
    assert (status, balances) == (200, {"pending_fen": 0, "available_fen": -404, "in_payout_fen": 0,
                                        "paid_out_fen": 1500, "level1_fen": 1096, "level2_fen": 0})
    assert call(app, "GET", "/balance", query="promoter=Z")[0] == 404
    assert call(app, "GET", "/balance")[0] == 400
    status, explanation = call(app, "GET", "/explain", query="promoter=B")
    assert status == 200 and explanation["format"] == "supernova-ledger/explain@1"
    assert explanation["balances"] == balances
    assert sum(p["amount_fen"] for p in explanation["postings"] if p["kind"] == "earn") == 1596
    assert call(app, "GET", "/explain", query="promoter=Z")[0] == 404
    assert call(app, "GET", "/explain", query="promoter=B&period=2026-13")[0] == 400
    status, statement = call(app, "GET", "/statement", query="period=2026-11")
    assert status == 200 and statement["format"] == "supernova-ledger/statement@1"
    assert statement["totals"]["closing"]["available_fen"] == -404 + 198
    status, only_b = call(app, "GET", "/statement", query="period=2026-11&promoter=B&until=12")
    assert (status, list(only_b["promoters"]), only_b["events"]) == (200, ["B"], 12)
    assert call(app, "GET", "/statement")[0] == 400
    assert call(app, "GET", "/statement", query="period=2026-11&until=x")[0] == 400


def test_redelivery_is_a_duplicate_with_the_original_position(app: Any) -> None:
    line = EXAMPLE.read_bytes().splitlines()[1]
    assert call(app, "POST", "/events", line) == (201, {"status": "accepted", "id": "e1", "position": 1,
                                                        "code": None, "message": None})
    status, outcome = call(app, "POST", "/events", line)
    assert (status, outcome["status"], outcome["position"]) == (200, "duplicate", 1)


def test_bad_requests(app: Any) -> None:
    status, outcome = call(app, "POST", "/events", b"{not json")
    assert (status, outcome["status"], outcome["code"]) == (422, "rejected", "invalid_event")
    assert call(app, "GET", "/report", query="period=2026-13")[0] == 400
    assert call(app, "GET", "/report", query="top=-1")[0] == 400
    status, report = call(app, "GET", "/report", query="period=2026-11&top=0&until=0")
    assert (status, report["events"], report["period"], report["ranking"]) == (200, 0, "2026-11", [])
    assert call(app, "GET", "/nowhere")[0] == 404
    assert call(app, "DELETE", "/events")[0] == 405
    assert call(app, "POST", "/events")[0] == 411  # no Content-Length
    too_big = b"{" + b" " * http_ledger.MAX_BODY_BYTES + b"}"
    assert call(app, "POST", "/events", too_big)[0] == 413


# -- the same handler behind a real socket ------------------------------------------


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


def test_served_over_http_on_an_ephemeral_port(tmp_path: Path) -> None:
    with Ledger.open(f"sqlite:///{tmp_path / 'http.db'}") as ledger:
        server = make_server("127.0.0.1", 0, http_ledger.make_app(ledger), handler_class=QuietHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            for line in EXAMPLE.read_bytes().splitlines()[:12]:
                request = urllib.request.Request(f"{base}/events", data=line, method="POST",
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    assert response.status == 201
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(
                    f"{base}/events", data=EXAMPLE.read_bytes().splitlines()[12], method="POST"), timeout=10)
            assert refused.value.code == 422
            assert json.loads(refused.value.read())["code"] == "below_minimum_payout"
            with urllib.request.urlopen(f"{base}/report?top=1", timeout=10) as response:
                report = json.loads(response.read())
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
    assert report["ranking"] == [{"rank": 1, "promoter_id": "B", "net_gmv_fen": 24895, "orders": 1}]
    assert report["log_head"] == SPEC_LOG_HEAD


# -- the auditor's script against the command line ----------------------------------


def cli(*args: str, stdout: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    if stdout is None:
        return subprocess.run([*CLI, *args], capture_output=True)
    with open(stdout, "wb") as out:
        return subprocess.run([*CLI, *args], stdout=out, stderr=subprocess.PIPE)


def run_audit(log: Path, report: Path) -> subprocess.CompletedProcess[str]:
    # -S -I: no site-packages at all, so the script can only be using the standard library
    script = ROOT / "examples" / "audit_recompute.py"
    return subprocess.run([sys.executable, "-S", "-I", str(script), str(log), str(report)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def exported_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    folder = tmp_path_factory.mktemp("audit")
    store = f"sqlite:///{folder / 'audit.db'}"
    assert cli("ingest", str(EXAMPLE), "--store", store).returncode == 3  # one rejection
    assert cli("export", "--store", store, stdout=folder / "log.jsonl").returncode == 0
    assert cli("report", "--store", store, stdout=folder / "report.json").returncode == 0
    return folder / "log.jsonl", folder / "report.json", store


@pytest.fixture
def exported(exported_once: tuple[Path, Path, str], tmp_path: Path) -> tuple[Path, Path, str]:
    """Copies of the CLI's export and report, for a test to alter."""
    log, report, store = exported_once
    (tmp_path / "log.jsonl").write_bytes(log.read_bytes())
    (tmp_path / "report.json").write_bytes(report.read_bytes())
    return tmp_path / "log.jsonl", tmp_path / "report.json", store


def test_audit_script_recomputes_the_cli_figures(exported: tuple[Path, Path, str]) -> None:
    log, report, _ = exported
    done = run_audit(log, report)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"log_head   {SPEC_LOG_HEAD}" in done.stdout
    assert f"digest     {SPEC_DIGEST}" in done.stdout
    assert done.stdout.rstrip().endswith("OK: the log and the report agree")


def test_audit_script_with_a_report_until_n(exported: tuple[Path, Path, str], tmp_path: Path) -> None:
    log, _, store = exported
    assert cli("report", "--store", store, "--until", "2", stdout=tmp_path / "r2.json").returncode == 0
    done = run_audit(log, tmp_path / "r2.json")
    assert done.returncode == 0, done.stdout
    assert "log_head   b57ceb62c751f7d17677ce337f4db7e40c1973f8ed6e640759b38e054b8327fd" in done.stdout


def test_audit_script_finds_an_altered_log(exported: tuple[Path, Path, str]) -> None:
    log, report, _ = exported
    log.write_bytes(log.read_bytes().replace(b'"amount_fen":1500', b'"amount_fen":15000'))
    done = run_audit(log, report)
    assert done.returncode == 1
    assert "MISMATCH   log_head: recomputed" in done.stdout


def test_audit_script_finds_an_altered_report(exported: tuple[Path, Path, str]) -> None:
    log, report, _ = exported
    figures = json.loads(report.read_bytes())
    figures["promoters"]["B"]["paid_out_fen"] += 1
    report.write_text(json.dumps(figures))
    done = run_audit(log, report)
    assert done.returncode == 1
    assert "MISMATCH   digest: recomputed" in done.stdout


def test_audit_script_finds_a_non_canonical_line(exported: tuple[Path, Path, str]) -> None:
    log, report, _ = exported
    lines = log.read_bytes().splitlines()
    lines[1] = json.dumps(json.loads(lines[1]), ensure_ascii=True).encode()
    log.write_bytes(b"\n".join(lines) + b"\n")
    problems = audit_recompute.audit(log.read_bytes(), json.loads(report.read_bytes()))
    assert "log line 2: not in canonical form" in problems


def test_audit_of_a_demo_store(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'demo.db'}"
    assert cli("demo", "--store", store, "--promoters", "25", "--days", "6").returncode == 0
    assert cli("export", "--store", store, stdout=tmp_path / "log.jsonl").returncode == 0
    assert cli("report", "--store", store, stdout=tmp_path / "report.json").returncode == 0
    done = run_audit(tmp_path / "log.jsonl", tmp_path / "report.json")
    assert done.returncode == 0, done.stdout


def test_audit_script_unreadable_file(tmp_path: Path) -> None:
    done = run_audit(tmp_path / "nope.jsonl", tmp_path / "nope.json")
    assert done.returncode == 2


# -- the code blocks in docs/embedding.md run -----------------------------------------


def python_blocks(doc: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)


def test_reports_doc_code_runs() -> None:
    blocks = python_blocks(ROOT / "docs" / "reports.md")
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/reports.md", "exec"), {"__name__": "docs_reports"})


def test_embedding_doc_code_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # the blocks run from the project folder
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(ROOT / "docs" / "embedding.md")
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/embedding.md", "exec"), {"__name__": "docs_embedding"})
