"""The command line (SPEC §9): outputs, exit codes, rejections file, nothing written on usage errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from supernova_ledger.cli import main

GOLDEN = Path(__file__).parents[1] / "golden"
EXAMPLE = GOLDEN / "spec_example.jsonl"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'books.db'}"


def test_ingest_report_export_verify_across_processes(tmp_path: Path, store: str) -> None:
    rejects = tmp_path / "rejects.jsonl"
    cli = [sys.executable, "-m", "supernova_ledger"]
    done = subprocess.run([*cli, "ingest", str(EXAMPLE), "--store", store, "--rejects", str(rejects)],
                          capture_output=True, check=False)
    assert done.returncode == 3
    assert done.stdout == b'{"accepted":12,"duplicates":0,"rejected":1}\n'
    line = json.loads(rejects.read_text(encoding="utf-8"))
    assert {k: line[k] for k in ("line", "id", "code")} == {"line": 13, "id": "e12", "code": "below_minimum_payout"}
    assert "min_payout_fen" in line["message"]

    report = subprocess.run([*cli, "report", "--store", store], capture_output=True, check=True).stdout
    assert report.endswith(b"\n") and b" " not in report.replace("北京".encode(), b"")
    assert json.loads(report)["digest"] == "363493d66ddbf3e8886947d20da52f84d8451c2bc2cf622193c6cbeb42b615de"

    exported = subprocess.run([*cli, "export", "--store", store], capture_output=True, check=True).stdout
    lines = exported.splitlines()
    assert len(lines) == 12
    assert lines[6].decode() == (
        '{"at":"2026-11-01T12:15:00Z","customer_id":"c1","group_id":"g1","id":"e6","lines":[{"category":"daily",'
        '"paid_fen":9990,"quantity":2,"sku":"s1"},{"category":"appliance","paid_fen":19900,"quantity":1,'
        '"sku":"s2"}],"order_id":"o1","promoter_id":null,"type":"OrderPlaced"}'
    )
    verified = subprocess.run([*cli, "verify", "--store", store], capture_output=True, check=False)
    assert verified.returncode == 0, verified.stderr


def test_ingest_twice_gives_duplicates(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["ingest", str(EXAMPLE), "--store", store], capsys)[0] == 3
    code, out, _ = run(["ingest", str(EXAMPLE), "--store", store], capsys)
    assert (code, out) == (3, '{"accepted":0,"duplicates":12,"rejected":1}\n')


def test_ingest_clean_file_exits_0_and_counts_lines(tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()[:3]
    source = tmp_path / "in.jsonl"
    source.write_text("\n" + lines[0] + "\n   \n" + "not json\n" + lines[1] + "\r\n" + lines[2], encoding="utf-8")
    rejects = tmp_path / "r.jsonl"
    code, out, _ = run(["ingest", str(source), "--store", store, "--rejects", str(rejects)], capsys)
    assert (code, out) == (3, '{"accepted":3,"duplicates":0,"rejected":1}\n')
    row = json.loads(rejects.read_text(encoding="utf-8"))
    assert (row["line"], row["id"], row["code"]) == (4, None, "invalid_event")
    clean = tmp_path / "clean.jsonl"
    clean.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    assert run(["ingest", str(clean), "--store", store], capsys)[:2] == (0, '{"accepted":0,"duplicates":3,"rejected":0}\n')


def test_ingest_from_stdin(store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(EXAMPLE.read_bytes()))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert run(["ingest", "-", "--store", store], capsys)[:2] == (3, '{"accepted":12,"duplicates":0,"rejected":1}\n')


def test_unreadable_file_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "never.db"
    code, out, err = run(["ingest", str(EXAMPLE), str(tmp_path / "missing.jsonl"), "--store", f"sqlite:///{db}"], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "missing.jsonl" in err
    assert not db.exists()


def test_unwritable_rejects_path_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "never.db"
    code, _, err = run(["ingest", str(EXAMPLE), "--store", f"sqlite:///{db}", "--rejects", str(tmp_path)], capsys)
    assert code == 2 and "cannot write" in err
    assert not db.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["report", "--period", "2026-13"],
        ["report", "--period", "2026-11-31"],
        ["report", "--period", "26-11"],
        ["report", "--top", "-1"],
        ["report", "--until", "x"],
        ["report", "--store", "mysql://nope"],
        ["report", "--store", "sqlite:////no/such/dir/x.db"],
        ["frobnicate"],
    ],
)
def test_unusable_arguments_exit_2(args: list[str], store: str, capsys: pytest.CaptureFixture[str]) -> None:
    if "--store" not in args:
        args = [*args, "--store", store]
    code, out, err = run(args, capsys)
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1 and err.startswith("supernova-ledger: error: ")


def test_store_from_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERNOVA_STORE", f"sqlite:///{tmp_path / 'env.db'}")
    run(["ingest", str(EXAMPLE)], capsys)
    assert (tmp_path / "env.db").exists()
    code, out, _ = run(["report", "--until", "2", "--top", "0"], capsys)
    report = json.loads(out)
    assert (code, report["events"], report["ranking"]) == (0, 2, [])


def test_report_options(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(["ingest", str(EXAMPLE), "--store", store], capsys)
    code, out, _ = run(["report", "--store", store, "--period", "2026-10"], capsys)
    report = json.loads(out)
    assert report["period"] == "2026-10" and report["ranking"] == [] and report["groups"]["g1"]["orders"] == 0
    code, out, _ = run(["report", "--store", store, "--until", "1000"], capsys)
    assert json.loads(out)["events"] == 12


def test_byte_order_mark_opening_a_file_is_dropped(tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    lines = EXAMPLE.read_bytes().splitlines()
    source = tmp_path / "bom.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + lines[1] + b"\n" + b"\xef\xbb\xbf" + lines[2] + b"\n")
    rejects = tmp_path / "r.jsonl"
    code, out, _ = run(["ingest", str(source), "--store", store, "--rejects", str(rejects)], capsys)
    assert (code, out) == (3, '{"accepted":1,"duplicates":0,"rejected":1}\n')
    row = json.loads(rejects.read_text(encoding="utf-8"))
    assert (row["line"], row["id"], row["code"]) == (2, None, "invalid_event")
