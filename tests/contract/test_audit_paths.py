"""The auditor's paths through real processes: re-ingest, tamper, export → ingest."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from supernova_ledger import Ledger
from supernova_ledger.store import LogRecord, open_store
from supernova_ledger.store.recorded import HEADED_BATCH_TOPIC, batch_topic, decode_row, encode_batch

from contract_helpers import programme, run_cli, sql_on_store, write_jsonl

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
    """Edit the SQLite file directly, as an attacker with the file would: one byte
    inside the stored row (a batch row) that holds ``position``."""
    assert len(old) == len(new) and sum(a != b for a, b in zip(old, new)) == 1
    with sqlite3.connect(url[len("sqlite:///") :]) as db:
        version, state = db.execute(
            "SELECT originator_version, state FROM stored_events WHERE originator_version <= ?"
            " ORDER BY originator_version DESC LIMIT 1", (position,)).fetchone()
        assert state.count(old) == 1
        db.execute("UPDATE stored_events SET state = ? WHERE originator_version = ?", (state.replace(old, new), version))


def _rewrite_row(url: str, position: int, change: Callable[[list[LogRecord]], list[LogRecord]]) -> None:
    """Rewrite the batch row holding ``position`` as someone who knows the format would:
    decode it, ``change`` its records, encode it again (a consistent header)."""
    ((version, topic, state),) = sql_on_store(
        url, "SELECT originator_version, topic, state FROM {t} WHERE originator_version <= %s"
        " ORDER BY originator_version DESC LIMIT 1", (position,))
    assert str(topic).startswith(HEADED_BATCH_TOPIC)
    records = change(decode_row(int(version), str(topic), bytes(state)))  # type: ignore[call-overload]
    sql_on_store(url, "UPDATE {t} SET topic = %s, state = %s WHERE originator_version = %s",
                 (batch_topic(records), encode_batch(records), version))


def _replaced(records: list[LogRecord], position: int, event: bytes | None = None, head: str | None = None) -> list[LogRecord]:
    return [LogRecord(r.position, r.event if event is None else event, r.head if head is None else head)
            if r.position == position else r for r in records]


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
    # Replace the first hex digit of the head stored with that record.
    with open_store(durable_url) as store:
        record = store.record_at(position)
        assert record is not None
        digit = "1" if record.head[0] != "1" else "2"
    _rewrite_row(durable_url, position, lambda records: _replaced(records, position, head=digit + record.head[1:]))
    result = run_cli("verify", store=durable_url)
    assert result.returncode == 1
    assert f"position {position}" in result.stderr


def test_verify_names_a_removed_event(durable_url: str) -> None:
    _ingest(durable_url, EXAMPLE)
    _rewrite_row(durable_url, 4, lambda records: [r for r in records if r.position != 4])
    result = run_cli("verify", store=durable_url)
    assert result.returncode == 1
    assert "position 4" in result.stderr


def test_verify_names_the_first_position_of_a_removed_batch_row(durable_url: str) -> None:
    lines = [line for line in EXAMPLE.read_bytes().splitlines() if line.strip()]
    with Ledger.open(durable_url) as ledger:
        for k in range(0, len(lines), 3):
            ledger.append_batch(lines[k : k + 3])
    rows = sql_on_store(durable_url, "SELECT originator_version FROM {t} ORDER BY originator_version")
    second = int(rows[1][0])  # type: ignore[call-overload]
    assert len(rows) > 2 and second > 1
    sql_on_store(durable_url, "DELETE FROM {t} WHERE originator_version = %s", (second,))
    result = run_cli("verify", store=durable_url)
    assert result.returncode == 1
    assert f"position {second}" in result.stderr


def test_verify_names_the_first_position_of_a_batch_row_that_does_not_decode(durable_url: str) -> None:
    lines = [line for line in EXAMPLE.read_bytes().splitlines() if line.strip()]
    with Ledger.open(durable_url) as ledger:
        ledger.append_batch(lines[:5])
        ledger.append_batch(lines[5:])
    (version,), *_ = sql_on_store(durable_url, "SELECT originator_version FROM {t} ORDER BY originator_version DESC")
    # Cut the row's msgpack short: its structure, not just a value, is damaged.
    sql_on_store(durable_url, "UPDATE {t} SET state = substr(state, 1, 100) WHERE originator_version = %s", (version,))
    result = run_cli("verify", store=durable_url)
    assert result.returncode == 1
    assert f"position {version}" in result.stderr


def test_verify_names_the_first_of_two_swapped_events(durable_url: str) -> None:
    _ingest(durable_url, EXAMPLE)
    with open_store(durable_url) as store:
        third, fourth = store.record_at(3), store.record_at(4)
    assert third is not None and fourth is not None
    # Swap the events; each record keeps its own stored head.
    _rewrite_row(durable_url, 3, lambda records: _replaced(_replaced(records, 3, event=fourth.event), 4, event=third.event))
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
