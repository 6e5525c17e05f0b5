"""The auditor's paths through real processes: re-ingest, tamper, export → ingest."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import psycopg
import pytest

from supernova_ledger import Ledger
from supernova_ledger.store import open_store
from supernova_ledger.store.postgres import parse_postgres_url

from contract_helpers import programme, run_cli, write_jsonl

EXAMPLE = Path(__file__).parents[1] / "golden" / "spec_example.jsonl"  # SPEC §10's example.jsonl

@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A realistic programme (~1,200 events, a few rejected)."""
    path = tmp_path_factory.mktemp("logs") / "programme.jsonl"
    write_jsonl(path, programme(100))
    return path


def _ingest(url: str, path: Path) -> None:
    """Set up a store in this process (quicker than the CLI; the CLI is what is under test)."""
    with Ledger.open(url) as ledger:
        ledger.append_batch([line for line in path.read_bytes().splitlines() if line.strip()])


def _counts(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    counts: dict[str, int] = json.loads(result.stdout)
    return counts


# -- ingesting twice ---------------------------------------------------------------------


def test_ingesting_a_file_again_in_a_new_process_gives_only_duplicates(durable_url: str, log_file: Path) -> None:
    first = run_cli("ingest", str(log_file), store=durable_url)
    assert first.returncode in (0, 3), first.stderr
    counts = _counts(first)
    assert counts["accepted"] > 1_000 and counts["duplicates"] == 0

    again = run_cli("ingest", str(log_file), store=durable_url)
    assert _counts(again) == {"accepted": 0, "duplicates": counts["accepted"], "rejected": counts["rejected"]}
    assert again.returncode == first.returncode
    with open_store(durable_url) as store:
        assert store.head()[0] == counts["accepted"]


# -- tampering -----------------------------------------------------------------------------


def _alter_one_byte_sqlite(url: str, position: int, old: bytes, new: bytes) -> None:
    """Edit the SQLite file directly, as an attacker with the file would."""
    assert len(old) == len(new) and sum(a != b for a, b in zip(old, new)) == 1
    with sqlite3.connect(url[len("sqlite:///") :]) as db:
        (state,) = db.execute("SELECT state FROM stored_events WHERE originator_version = ?", (position,)).fetchone()
        assert state.count(old) == 1
        db.execute("UPDATE stored_events SET state = ? WHERE originator_version = ?", (state.replace(old, new), position))


def _sql_on_store(url: str, statement: str, params: tuple[object, ...] = ()) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url[len("sqlite:///") :]) as db:
            db.execute(statement.replace("%s", "?").replace("{t}", "stored_events"), params)
        return
    target = parse_postgres_url(url)
    with psycopg.connect(host=target.host, port=target.port, user=target.user, dbname=target.dbname,
                         autocommit=True) as conn:
        conn.execute(statement.replace("{t}", f"{target.schema}.stored_events"), params)  # type: ignore[arg-type]


def test_verify_passes_on_an_untouched_store(durable_url: str) -> None:
    _ingest(durable_url, EXAMPLE)
    result = run_cli("verify", store=durable_url)
    assert result.returncode == 0, result.stderr
    assert "533004cce5c2746a24ca195f00b10f94b1ea568fc7699cd51ebeaadc2394c948" in result.stdout


def test_verify_names_the_position_of_one_altered_byte_in_the_sqlite_file(sqlite_url: str) -> None:
    _ingest(sqlite_url, EXAMPLE)
    _alter_one_byte_sqlite(sqlite_url, 7, b'"paid_fen":9990', b'"paid_fen":9991')  # o1, still a valid event
    result = run_cli("verify", store=sqlite_url)
    assert result.returncode == 1
    assert "position 7" in result.stderr


def test_verify_names_the_position_of_a_byte_that_breaks_the_event(sqlite_url: str) -> None:
    _ingest(sqlite_url, EXAMPLE)
    _alter_one_byte_sqlite(sqlite_url, 7, b'"type":"OrderPlaced"', b'"type":"OrderPlaceD"')
    result = run_cli("verify", store=sqlite_url)
    assert result.returncode == 1
    assert "position 7" in result.stderr


@pytest.mark.parametrize("position", [1, 12])
def test_verify_names_an_altered_log_head(durable_url: str, position: int) -> None:
    _ingest(durable_url, EXAMPLE)
    # The stored head is the first 64 bytes of ``state``: replace its first hex digit.
    with open_store(durable_url) as store:
        record = store.record_at(position)
        assert record is not None
        digit = "1" if record.head[0] != "1" else "2"
    _sql_on_store(durable_url, "UPDATE {t} SET state = %s WHERE originator_version = %s",
                  ((digit + record.head[1:]).encode() + record.event, position))
    result = run_cli("verify", store=durable_url)
    assert result.returncode == 1
    assert f"position {position}" in result.stderr


def test_verify_names_a_removed_event(durable_url: str) -> None:
    _ingest(durable_url, EXAMPLE)
    _sql_on_store(durable_url, "DELETE FROM {t} WHERE originator_version = %s", (4,))
    result = run_cli("verify", store=durable_url)
    assert result.returncode == 1
    assert "position 4" in result.stderr


def test_verify_names_the_first_of_two_swapped_events(durable_url: str) -> None:
    _ingest(durable_url, EXAMPLE)
    with open_store(durable_url) as store:
        third, fourth = store.record_at(3), store.record_at(4)
    assert third is not None and fourth is not None
    # Swap the events; each row keeps its own stored head.
    for row, event in ((third, fourth.event), (fourth, third.event)):
        _sql_on_store(durable_url, "UPDATE {t} SET state = %s WHERE originator_version = %s",
                      (row.head.encode() + event, row.position))
    result = run_cli("verify", store=durable_url)
    assert result.returncode == 1
    assert "position 3" in result.stderr


# -- export → ingest -------------------------------------------------------------------------


def test_export_then_ingest_into_an_empty_store_gives_the_same_head_and_digest(
    durable_url: str, tmp_path: Path, log_file: Path
) -> None:
    _ingest(durable_url, log_file)
    exported = run_cli("export", store=durable_url)
    assert exported.returncode == 0, exported.stderr
    export_file = tmp_path / "export.jsonl"
    export_file.write_text(exported.stdout, encoding="utf-8")

    auditor = f"sqlite:///{tmp_path / 'auditor.db'}"
    ingested = run_cli("ingest", str(export_file), store=auditor)
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    assert _counts(ingested)["rejected"] == 0

    with Ledger.open(durable_url) as original, Ledger.open(auditor) as rebuilt:
        expected, got = original.report(), rebuilt.report()
        assert (got["log_head"], got["digest"]) == (expected["log_head"], expected["digest"])
        assert b"".join(line + b"\n" for line in rebuilt.export()).decode() == exported.stdout


def test_export_then_append_through_the_api_round_trips_on_every_store(store_url: str, log_file: Path) -> None:
    lines = [line for line in log_file.read_bytes().splitlines() if line]
    with Ledger.open(store_url) as source:
        source.append_batch(lines)
        exported = list(source.export())
        report = source.report()
    with Ledger.open("memory:") as auditor:
        outcomes = auditor.append_batch(exported)
        assert {o.status for o in outcomes} == {"accepted"}
        again = auditor.report()
    assert (again["log_head"], again["digest"]) == (report["log_head"], report["digest"])
