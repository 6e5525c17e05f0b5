"""The command line for people: CSV that reads back as the JSON, --version, help with
defaults, --format everywhere, typed results, progress on a terminal only."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import pty
import re
import select
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from supernova_ledger import Ledger, __version__
from supernova_ledger.cli import _parser, main
from supernova_ledger.csvout import REPORT_TABLES
from supernova_ledger.events import canonical_json
from supernova_ledger.results import Balances, Explanation, Report, Statement
from supernova_ledger.tables import render_table
from signals import interruptible

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "golden" / "spec_example_v2.jsonl"
CLI = [sys.executable, "-m", "supernova_ledger"]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'books.db'}"
    with Ledger.open(url) as ledger:
        ledger.append_batch(EXAMPLE.read_bytes().splitlines())
    return url


def read_csv(text: bytes) -> list[list[str]]:
    assert text.endswith(b"\r\n")
    assert not text.startswith(b"\xef\xbb\xbf")  # UTF-8 without a byte order mark
    return list(csv.reader(io.StringIO(text.decode("utf-8"), newline="")))


def as_json_value(field: str, like: Any) -> Any:
    """A CSV field back as the JSON value it stands for (``like`` gives the type)."""
    if like is None:
        return None if field == "" else field
    if isinstance(like, bool):
        return {"true": True, "false": False}[field]
    if isinstance(like, int):
        return int(field)
    return field


def cli_bytes(*args: str) -> bytes:
    return subprocess.run([*CLI, *args], capture_output=True, check=True).stdout


# -- CSV ---------------------------------------------------------------------------------


@pytest.mark.parametrize("table", sorted(REPORT_TABLES))
def test_report_csv_reads_back_as_the_json(store: str, table: str) -> None:
    report = json.loads(cli_bytes("report", "--store", store))
    rows = read_csv(cli_bytes("report", "--store", store, "--format", "csv", "--table", table))
    key, columns = REPORT_TABLES[table]
    assert rows[0] == [key, *columns]
    if table == "ranking":
        assert [{key: int(r[0]), **{c: as_json_value(v, report["ranking"][0][c]) for c, v in zip(columns, r[1:])}}
                for r in rows[1:]] == report["ranking"]
        return
    json_rows = report[table]
    assert len(rows) - 1 == len(json_rows) > 0
    for row in rows[1:]:
        figures = json_rows[row[0]]
        assert {c: as_json_value(v, figures[c] if figures[c] is not None else None) for c, v in zip(columns, row[1:])
                } == {c: figures[c] for c in columns}
    # amounts are whole fen: integers, never yuan with a point
    fen_columns = [i for i, name in enumerate(rows[0]) if name.endswith("_fen")]
    assert all(re.fullmatch(r"-?[0-9]+", row[i]) for row in rows[1:] for i in fen_columns)


def test_report_csv_quotes_what_needs_quoting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    with Ledger.open(url) as ledger:
        for n, pid in enumerate(['a,"b"', "临沂\n一"]):
            outcome = ledger.append({"type": "PromoterJoined", "id": f"e{n}", "at": "2026-11-01T09:00:00+08:00",
                                     "promoter_id": pid, "program": "fenxiang", "city": "临沂", "city_tier": 4})
            assert outcome.status == "accepted"
    text = cli_bytes("report", "--store", url, "--format", "csv", "--table", "promoters")
    assert b'"a,""b"""' in text and '"临沂\n一"'.encode() in text
    assert [row[0] for row in read_csv(text)[1:]] == ['a,"b"', "临沂\n一"]


def test_statement_csv_reads_back_as_the_json(store: str) -> None:
    statement = json.loads(cli_bytes("statement", "--store", store, "--period", "2026-11"))
    rows = read_csv(cli_bytes("statement", "--store", store, "--period", "2026-11", "--format", "csv"))
    header = rows[0]
    assert header[0] == "promoter_id"
    assert len(rows) - 1 == len(statement["promoters"]) > 0
    for row in rows[1:]:
        account = statement["promoters"][row[0]]
        for name, value in zip(header[1:], row[1:]):
            if name.startswith(("opening_", "closing_")):
                side, balance = name.split("_", 1)
                assert int(value) == account[side][balance]
            else:
                assert int(value) == account[name]


def test_explain_csv_reads_back_as_the_json(store: str) -> None:
    explanation = json.loads(cli_bytes("explain", "B", "--store", store))
    rows = read_csv(cli_bytes("explain", "B", "--store", store, "--format", "csv"))
    assert len(rows) - 1 == len(explanation["postings"]) > 0
    for row, posting in zip(rows[1:], explanation["postings"]):
        assert dict(zip(rows[0], row)) == {k: "" if v is None else str(v) for k, v in posting.items()}


def test_rejections_csv_reads_back_as_the_json(store: str) -> None:
    entries = [json.loads(line) for line in cli_bytes("rejections", "--store", store).splitlines()]
    rows = read_csv(cli_bytes("rejections", "--store", store, "--format", "csv"))
    assert len(rows) - 1 == len(entries) > 0
    for row, entry in zip(rows[1:], entries):
        assert dict(zip(rows[0], row)) == {k: "" if v is None else str(v) for k, v in entry.items()}


def test_table_goes_with_csv(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["report", "--store", store, "--table", "groups"], capsys)
    assert (code, out) == (2, "") and "--table goes with --format csv" in err


def test_report_out_writes_a_file(store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "report.json"
    assert run(["report", "--store", store, "--out", str(target)], capsys)[:2] == (0, "")
    assert target.read_bytes() == cli_bytes("report", "--store", store)
    code, out, err = run(["report", "--store", store, "--out", str(tmp_path / "no" / "such" / "dir.json")], capsys)
    assert (code, out) == (2, "") and "cannot write" in err


# -- conventions -----------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"supernova-ledger {__version__}\n"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_option_has_help_that_shows_its_default() -> None:
    parser = _parser()
    commands = _subparsers(parser)
    assert set(commands) >= {"ingest", "report", "export", "verify", "explain", "statement", "rejections",
                             "simulate", "demo"}
    for name, sub in commands.items():
        formatter = sub._get_formatter()
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.dest}: no help"
            if action.option_strings and not action.required:
                shown = formatter._get_help_string(action) or ""  # what --help prints, before %-expansion
                assert "default" in shown, f"{name} {action.option_strings}: the default is not shown"
        assert "(default: " in sub.format_help()


def test_data_commands_offer_formats() -> None:
    commands = _subparsers(_parser())
    for name, formats in {"report": {"json", "table", "csv", "html"}, "explain": {"json", "table", "csv"},
                          "statement": {"json", "table", "csv"}, "rejections": {"json", "table", "csv"},
                          "verify": {"json", "table"}}.items():
        action = next(a for a in commands[name]._actions if a.dest == "format")
        assert set(action.choices or ()) == formats, name


def test_verify_format_json(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["verify", "--store", store, "--format", "json"], capsys)
    with Ledger.open(store) as ledger:
        expected = {"ok": True, "events": ledger.position, "log_head": ledger.log_head, "problem": None}
    assert code == 0
    assert out == canonical_json(expected).decode() + "\n"


def test_verify_format_json_names_the_problem(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(store[len("sqlite:///"):]) as db:  # the row holding position 7, whatever the layout
        (version, state) = db.execute("SELECT originator_version, state FROM stored_events WHERE originator_version <= 7"
                                      " ORDER BY originator_version DESC LIMIT 1").fetchone()
        db.execute("UPDATE stored_events SET state = ? WHERE originator_version = ?",
                   (bytes(state).replace(b'"paid_fen":9990', b'"paid_fen":9999'), version))
    code, out, _ = run(["verify", "--store", store, "--format", "json"], capsys)
    result = json.loads(out)
    assert code == 1 and result["ok"] is False and result["events"] == 6
    assert result["problem"].startswith("position 7: ")


def test_table_cells_cannot_carry_markup_or_controls() -> None:
    text = render_table("t [red]x[/red]", ["id"], [["[bold]p1[/bold]"], ["a\x1b[2Jb\x07\u202ec"]], [False])
    assert "[bold]p1[/bold]" in text and "t [red]x[/red]" in text  # literal, never interpreted
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "a\\x1b[2Jb\\x07\\u202ec" in text


# -- typed results -------------------------------------------------------------------------


def test_results_are_typed_and_serialise_to_the_spec_json(store: str) -> None:
    with Ledger.open(store) as ledger:
        report = ledger.report()
        explanation = ledger.explain("B")
        statement = ledger.statement("2026-11")
        balance = ledger.balance("B")
    assert isinstance(report, Report) and isinstance(explanation, Explanation)
    assert isinstance(statement, Statement) and isinstance(balance, Balances)
    assert report.to_json() + b"\n" == cli_bytes("report", "--store", store)
    assert explanation.to_json() + b"\n" == cli_bytes("explain", "B", "--store", store)
    assert statement.to_json() + b"\n" == cli_bytes("statement", "--period", "2026-11", "--store", store)
    # typed access and the earlier dict-style access agree
    assert report.promoters["B"].available_fen == report["promoters"]["B"]["available_fen"] == balance.available_fen
    assert balance["available_fen"] == balance.available_fen and dict(balance) == balance.to_dict()
    assert explanation.postings[0].from_ == explanation["postings"][0]["from"]
    assert statement.totals.closing.paid_out_fen == statement.to_dict()["totals"]["closing"]["paid_out_fen"]
    # equality with the plain JSON, and a round trip
    assert report == json.loads(report.to_json()) and Report.from_dict(report.to_dict()) == report
    assert "digest" in report and report.get("nope") is None
    with pytest.raises(KeyError):
        report["nope"]


# -- progress: a bar on a terminal, never on a pipe ------------------------------------------


def run_on_terminal(args: list[str]) -> tuple[int, bytes, bytes]:
    """Run the CLI with stderr on a pseudo-terminal (stdout a pipe); returns (code, stdout, terminal)."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    with subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=terminal, env=env) as process:
        os.close(terminal)
        stdout: list[bytes] = []
        reader = threading.Thread(target=lambda: stdout.append(process.stdout.read() if process.stdout else b""))
        reader.start()
        drawn = b""
        while True:
            ready, _, _ = select.select([controller], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process is done with it
                break
            if not chunk:
                break
            drawn += chunk
        code = process.wait(timeout=60)
        reader.join(timeout=60)
    os.close(controller)
    return code, stdout[0], drawn


@pytest.mark.parametrize(("command", "unit"), [
    (["verify"], b"events"), (["export"], b"events"), (["report"], b"events"),
    (["statement", "--period", "2026-11", "--until", "100000"], b"events"),  # a replay
    (["statement", "--period", "2026-11"], b"promoters"),  # read from the tables, promoter by promoter
])
def test_progress_on_a_terminal_only(store: str, command: list[str], unit: bytes) -> None:
    code, stdout, drawn = run_on_terminal([*command, "--store", store])
    assert code == 0
    assert command[0].encode() in drawn and unit in drawn  # the bar was drawn on the terminal
    assert b"\x1b" not in stdout  # standard output stays clean
    piped = subprocess.run([*CLI, *command, "--store", store], capture_output=True, check=True)
    assert piped.stderr == b"" and piped.stdout == stdout
    quiet = run_on_terminal([*command, "--store", store, "--quiet"])
    assert quiet[2] == b""


def test_simulate_progress_on_a_terminal() -> None:
    code, stdout, drawn = run_on_terminal(["simulate", "--promoters", "30", "--days", "5"])
    lines = stdout.count(b"\n")
    assert code == 0 and lines > 1_000
    assert f"simulate {lines:,} events".encode() in re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", drawn)


def test_ingest_progress_counts_bytes_with_a_total(tmp_path: Path) -> None:
    code, stdout, drawn = run_on_terminal(["ingest", str(EXAMPLE), "--store", f"sqlite:///{tmp_path / 'i.db'}"])
    assert code == 3 and stdout.startswith(b'{"accepted":')
    size = EXAMPLE.stat().st_size
    assert b"ingest" in drawn and f"/{size} bytes".encode() in re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", drawn)


def test_ctrl_c_on_a_terminal_ends_the_bar_then_one_line() -> None:
    """Ctrl-C while a bar is drawn: the bar's line is ended, then one line says so; exit 130."""
    controller, terminal = pty.openpty()
    args = [*CLI, "simulate", "--promoters", "300", "--days", "30"]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=terminal, env={**os.environ, "TERM": "xterm"},
                          preexec_fn=interruptible) as proc:
        os.close(terminal)
        sink = threading.Thread(target=lambda: proc.stdout.read() if proc.stdout else b"")
        sink.start()
        drawn = b""
        while b"events" not in drawn:  # wait until the bar is on the terminal
            ready, _, _ = select.select([controller], [], [], 30)
            assert ready, "no progress bar within 30 s"
            drawn += os.read(controller, 65536)
        proc.send_signal(signal.SIGINT)
        while True:
            ready, _, _ = select.select([controller], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
        code = proc.wait(timeout=60)
        sink.join(timeout=60)
    os.close(controller)
    assert code == 130
    shown = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", drawn).decode()
    after_bar = shown[shown.rindex("events") :].split("\n")[1:]
    assert [line.strip() for line in after_bar if line.strip()] == [
        "supernova-ledger: interrupted: nothing more was done"]
