"""Misuse, hostile input and damage at rest (issue 10): never lose data, never crash, never mislead.

Every case is a one-line error with its documented exit code, and the store
verifies afterwards with nothing lost. Exit codes: 1 damaged log, 2 unusable
argument / no ledger / store failure, 3 rejections, 4 output failed, 130 Ctrl-C.
"""

from __future__ import annotations

import datetime
import decimal
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from supernova_ledger import Ledger, cli
from supernova_ledger.audit import ExpectedHead, verify
from supernova_ledger.cli import main
from supernova_ledger.domain.snapshot import restore, seal, snapshot, unseal
from supernova_ledger.errors import CorruptLog, NoLedger, StoreError, StoreUnavailable, UsageError
from supernova_ledger.store import open_store
from supernova_ledger.store.postgres import parse_postgres_url

from contract_helpers import cli_command, joined, programme, run_cli, write_jsonl
from signals import interruptible

EXAMPLE = Path(__file__).parents[1] / "golden" / "spec_example.jsonl"
HEAD_12 = "533004cce5c2746a24ca195f00b10f94b1ea568fc7699cd51ebeaadc2394c948"
LINES = EXAMPLE.read_bytes().splitlines()


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    """The stderr of a failed command: exactly one line, no traceback."""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(("supernova-ledger: ", "FAILED")), err
    return err


def assert_sound(url: str, events: int = 12, head: str | None = HEAD_12) -> None:
    """The store verifies and holds everything acknowledged."""
    with open_store(url) as store:
        result = verify(store)
    assert result.ok and result.events == events, result.describe()
    if head is not None:
        assert result.log_head == head


def ingest_example(url: str) -> None:
    with Ledger.open(url) as ledger:
        ledger.append_batch(LINES)


def ingest_example_event_by_event(url: str) -> None:
    """One append (so one stored row) per event: cutting rows after position N cuts the log there."""
    with Ledger.open(url) as ledger:
        for line in LINES:
            ledger.append(line)


def sql_on_store(url: str, statement: str, params: tuple[object, ...] = (), table: str = "stored_events") -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url[len("sqlite:///"):]) as db:
            db.execute(statement.replace("%s", "?").replace("{t}", table), params)
        return
    target = parse_postgres_url(url)
    with psycopg.connect(host=target.host, port=target.port, user=target.user, dbname=target.dbname,
                         autocommit=True) as conn:
        conn.execute(statement.replace("{t}", f"{target.schema}.{table}"), params)  # type: ignore[arg-type]


def row_holding(url: str, marker: bytes) -> tuple[int, bytes]:
    """``(originator_version, state)`` of the one stored row whose bytes hold ``marker``,
    whatever the row layout (one row per event or per batch)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url[len("sqlite:///"):]) as db:
            rows = db.execute("SELECT originator_version, state FROM stored_events").fetchall()
    else:
        target = parse_postgres_url(url)
        with psycopg.connect(host=target.host, port=target.port, user=target.user, dbname=target.dbname) as conn:
            rows = conn.execute(f"SELECT originator_version, state FROM {target.schema}.stored_events").fetchall()
    found = [(version, bytes(state)) for version, state in rows if marker in bytes(state)]
    assert len(found) == 1, f"{len(found)} rows hold {marker!r}"
    return found[0]


@pytest.fixture()
def sqlite_store(tmp_path: Path) -> tuple[str, Path]:
    db = tmp_path / "s.db"
    url = f"sqlite:///{db}"
    ingest_example(url)
    return url, db


# == data loss: --rejects ==========================================================================


@pytest.mark.parametrize("spelling", ["same", "dot", "symlink", "wal"])
def test_rejects_aimed_at_the_store_is_refused(
    sqlite_store: tuple[str, Path], tmp_path: Path, spelling: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, db = sqlite_store
    before = db.read_bytes()
    monkeypatch.chdir(tmp_path)
    target = {"same": str(db), "dot": "./s.db", "symlink": "link.db", "wal": "s.db-wal"}[spelling]
    if spelling == "symlink":
        os.symlink(db, tmp_path / "link.db")
    code, out, err = run(["ingest", str(EXAMPLE), "--store", url, "--rejects", target], capsys)
    assert (code, out) == (2, "")
    assert "store's own file" in one_line(err)
    assert db.read_bytes() == before
    assert_sound(url)


@pytest.mark.parametrize("spelling", ["same", "symlink", "hardlink"])
def test_rejects_aimed_at_an_input_is_refused(tmp_path: Path, spelling: str, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(EXAMPLE.read_bytes())
    target = tmp_path / "other.jsonl"
    if spelling == "same":
        target = source
    elif spelling == "symlink":
        target.symlink_to(source)
    else:
        os.link(source, target)
    url = f"sqlite:///{tmp_path / 's.db'}"
    code, out, err = run(["ingest", str(source), "--store", url, "--rejects", str(target)], capsys)
    assert (code, out) == (2, "")
    assert "input file" in one_line(err)
    assert source.read_bytes() == EXAMPLE.read_bytes()
    assert not (tmp_path / "s.db").exists()  # refused before anything was written


def test_rejects_refuses_a_foreign_non_empty_file_and_reuses_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    code, _, err = run(["ingest", str(EXAMPLE), "--store", url, "--rejects", str(notes)], capsys)
    assert code == 2 and "not a rejects file" in one_line(err)
    assert notes.read_text() == "my notes\n"
    rejects = tmp_path / "r.jsonl"
    rejects.write_bytes(b"")  # empty: fine
    assert run(["ingest", str(EXAMPLE), "--store", url, "--rejects", str(rejects)], capsys)[0] == 3
    first = rejects.read_bytes()
    assert json.loads(first)["id"] == "e12"
    # a rejects file from an earlier run may be overwritten
    assert run(["ingest", str(EXAMPLE), "--store", url, "--rejects", str(rejects)], capsys)[0] == 3
    assert rejects.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "r.jsonl", "s.db"]  # no temp files left
    assert_sound(url)


def test_rejects_dash_writes_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    code, out, _ = run(["ingest", str(EXAMPLE), "--store", url, "--rejects", "-"], capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 3 and rows[0]["id"] == "e12" and rows[-1] == {"accepted": 12, "duplicates": 0, "rejected": 1}


def test_an_ingest_failing_midway_says_what_it_stored_and_leaves_no_half_rejects_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    monkeypatch.setattr(cli, "INGEST_BATCH", 5)
    real = Ledger.append_batch
    calls = [0]

    def failing(self: Ledger, events: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2:
            raise StoreUnavailable("store: database stayed locked for 15 s")
        return real(self, events, **kwargs)

    monkeypatch.setattr(Ledger, "append_batch", failing)
    rejects = tmp_path / "r.jsonl"
    code, out, err = run(["ingest", str(EXAMPLE), "--store", url, "--rejects", str(rejects)], capsys)
    assert (code, out) == (2, "")
    assert "locked" in one_line(err) and "5 events stored by this ingest" in err
    assert not rejects.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]
    monkeypatch.setattr(Ledger, "append_batch", real)
    assert run(["ingest", str(EXAMPLE), "--store", url], capsys)[1] == '{"accepted":7,"duplicates":5,"rejected":1}\n'
    assert_sound(url)


# == false answers =================================================================================


def test_a_normal_open_refuses_an_altered_event(durable_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    ingest_example(durable_url)
    version, state = row_holding(durable_url, b'"paid_fen":9990,')  # o1 at position 7; its stored head kept
    forged = state.replace(b'"paid_fen":9990,', b'"paid_fen":9999,')  # same length: any row layout still reads
    sql_on_store(durable_url, "UPDATE {t} SET state = %s WHERE originator_version = %s", (forged, version))
    for command in (["report"], ["report", "--format", "table"]):
        code, out, err = run([*command, "--store", durable_url], capsys)
        assert (code, out) == (1, "")
        assert "position 7" in one_line(err)
    with Ledger.open(durable_url) as ledger, pytest.raises(CorruptLog, match="position 7"):
        ledger.report()  # the state is restored lazily: its first use refuses
    assert run(["verify", "--store", durable_url], capsys)[0] == 1


def _forge_checkpoint(url: str, key: bytes | None = None) -> None:
    """Decode an honest checkpoint, add 1,000,000 fen to B's available balance, re-seal it, store it
    (built on a private copy of the log, so that the store's own checkpoint row stays free)."""
    with open_store(url) as store:
        copy = Ledger(open_store("memory:"), checkpoint_key=None)
        copy.store.append(list(store.read()))
        position = copy.checkpoint()
        _, blob = copy.store.load_checkpoint() or (0, b"")
        copy.close()
        book = restore(unseal(blob))
        promoter = book.promoters["B"]
        promoter.available_fen += 1_000_000
        promoter.level1_fen += 1_000_000  # keeps the balance invariant, so the forgery restores
        store.save_checkpoint(position, seal(snapshot(book), key))


def test_verify_names_a_forged_checkpoint(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    ingest_example(store_url)
    with Ledger.open(store_url) as ledger:
        honest = ledger.balance("B")
    _forge_checkpoint(store_url)
    with open_store(store_url) as store:
        result = verify(store)
        assert not result.ok and result.position == 12 and "checkpoint" in (result.problem or "")
    if not store_url.startswith("memory"):
        code, _, err = run(["verify", "--store", store_url], capsys)
        assert code == 1 and "position 12: the stored checkpoint" in one_line(err)
    # With a key, the unkeyed forgery is never used: the ledger replays and says why.
    with Ledger.open(store_url, checkpoint_key=b"k" * 32) as keyed:
        assert keyed.balance("B") == honest
        assert "not sealed with the configured key" in (keyed.checkpoint_problem or "")


def test_keyed_checkpoints_from_the_environment(
    sqlite_store: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = sqlite_store
    key_file = tmp_path / "key"
    key_file.write_bytes(b"0123456789abcdef0123456789abcdef\n")
    monkeypatch.setenv("SUPERNOVA_CHECKPOINT_KEY_FILE", str(key_file))
    with Ledger.open(url) as ledger:
        ledger.checkpoint()
        expected = ledger.report()
    with open_store(url) as store:
        position, blob = store.load_checkpoint() or (0, b"")
    assert position == 12 and blob.startswith(b"supernova-ledger/checkpoint-hmac@2\n")
    unseal(blob, b"0123456789abcdef0123456789abcdef")
    with Ledger.open(url) as reopened:
        assert reopened.checkpoint_problem is None and reopened.report() == expected
    assert run(["verify", "--store", url], capsys)[0] == 0
    monkeypatch.setenv("SUPERNOVA_CHECKPOINT_KEY", "also")
    code, _, err = run(["report", "--store", url], capsys)
    assert code == 2 and "not both" in one_line(err)


def test_verify_expect_detects_a_truncated_tail(durable_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    ingest_example_event_by_event(durable_url)
    assert run(["verify", "--store", durable_url, "--expect", f"{HEAD_12}@12"], capsys)[0] == 0
    assert run(["verify", "--store", durable_url, "--expect", HEAD_12], capsys)[0] == 0
    sql_on_store(durable_url, "DELETE FROM {t} WHERE originator_version > %s", (10,))
    assert run(["verify", "--store", durable_url], capsys)[0] == 0  # undetectable from inside
    for expect in (f"{HEAD_12}@12", HEAD_12):
        code, out, err = run(["verify", "--store", durable_url, "--expect", expect], capsys)
        assert (code, out) == (1, "")
        assert "truncated" in one_line(err)
    with open_store(durable_url) as store:
        assert not verify(store, expect=[ExpectedHead(HEAD_12, 12)]).ok
    with Ledger.open(durable_url) as ledger:
        assert ledger.verify().ok and not ledger.verify([f"{HEAD_12}@12"]).ok


def test_verify_names_a_checkpoint_past_the_end_of_a_truncated_log(durable_url: str) -> None:
    ingest_example_event_by_event(durable_url)
    with Ledger.open(durable_url) as ledger:
        assert ledger.checkpoint() == 12
    sql_on_store(durable_url, "DELETE FROM {t} WHERE originator_version > %s", (10,))
    with open_store(durable_url) as store:
        result = verify(store)
    assert not result.ok and "after the log's end" in (result.problem or "")


@pytest.mark.parametrize("expect", ["abc", HEAD_12.upper(), f"{HEAD_12}@x", f"{HEAD_12}@-1"])
def test_verify_expect_must_be_a_head(sqlite_store: tuple[str, Path], expect: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["verify", "--store", sqlite_store[0], "--expect", expect], capsys)
    assert (code, out) == (2, "") and "HEAD@POSITION" in one_line(err)


# == crashes =======================================================================================


@pytest.mark.parametrize("damage", ["CAST(state AS TEXT)", "NULL"])
def test_a_stored_row_of_the_wrong_type_is_a_one_line_error(
    sqlite_store: tuple[str, Path], damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = sqlite_store
    version, _ = row_holding(url, b'"id":"e2"')  # position 3
    sql_on_store(url, f"UPDATE {{t}} SET state = {damage} WHERE originator_version = %s", (version,))
    for command in (["verify"], ["report"], ["export"]):
        code, _, err = run([*command, "--store", url], capsys)
        assert code == 1 and "position" in one_line(err), command
    with Ledger.open(url) as ledger, pytest.raises(CorruptLog, match="position"):
        ledger.report()  # the state is restored lazily: its first use refuses


@pytest.mark.parametrize("damage", ["NULL", "'nonsense'", "topic || '0'", "replace(topic, 'log-batch@2', 'log-batch@1')"])
def test_a_damaged_row_topic_is_a_one_line_error(durable_url: str, damage: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The topic names the row's format and (log-batch@2) its end: damage there is refused by
    position, whether the log's end is read from it or the row is decoded."""
    ingest_example(durable_url)
    version, _ = row_holding(durable_url, b'"id":"e2"')
    sql_on_store(durable_url, f"UPDATE {{t}} SET topic = {damage} WHERE originator_version = %s", (version,))
    for command in (["verify"], ["report"], ["export"]):
        code, _, err = run([*command, "--store", durable_url], capsys)
        assert code == 1 and f"position {version}" in one_line(err), (command, err)
    with Ledger.open(durable_url) as ledger, pytest.raises(CorruptLog, match=f"position {version}"):
        ledger.report()


def test_a_lone_surrogate_id_with_rejects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(LINES[1] + b"\n" + LINES[2].replace(b'"id":"e2"', b'"id":"\\ud800"') + b"\n" + LINES[3] + b"\n")
    rejects = tmp_path / "r.jsonl"
    url = f"sqlite:///{tmp_path / 's.db'}"
    code, out, _ = run(["ingest", str(source), "--store", url, "--rejects", str(rejects)], capsys)
    assert (code, out) == (3, '{"accepted":1,"duplicates":0,"rejected":2}\n')
    rows = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["line"], r["id"], r["code"]) for r in rows] == [(2, None, "invalid_event"), (3, "e3", "unknown_promoter")]
    with Ledger.open(url) as ledger:
        outcome = ledger.append({**joined("e9", "Z"), "id": "\ud800"})
        assert (outcome.status, outcome.code, outcome.id) == ("rejected", "invalid_event", None)
        assert [entry.event_id for entry in ledger.rejections()][-1] is None
        assert ledger.verify().ok


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def test_deep_nesting_is_a_rejection_not_a_recursion_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = {"type": "RulesAdopted", "id": "r9", "at": "2026-11-01T00:00:00Z"}
    deep = json.dumps(rules)[:-1] + ',"rules":{"category_rates":{"x":' + '{"a":' * 990 + "{}" + "}" * 993
    deeper = json.dumps(rules)[:-1] + ',"rules":' + '{"a":' * 5000 + "{}" + "}" * 5000 + "}"
    source = tmp_path / "in.jsonl"
    source.write_text(deep + "\n" + deeper + "\n")
    code, out, _ = run(["ingest", str(source), "--store", f"sqlite:///{tmp_path / 's.db'}"], capsys)
    assert (code, out) == (3, '{"accepted":0,"duplicates":0,"rejected":2}\n')
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with Ledger.open("memory:") as ledger:
        for value in (_nested(990), _nested(5000), loop):
            outcome = ledger.append({**rules, "rules": value})
            assert outcome.status == "rejected" and outcome.code in ("invalid_event", "invalid_rules")
        assert ledger.position == 0


@pytest.mark.parametrize("value", [b"X", bytearray(b"X"), uuid.UUID(int=1), datetime.date(2026, 11, 1),
                                   decimal.Decimal("1"), {"nested": b"X"}])
def test_the_api_takes_json_types_only(store_url: str, value: object) -> None:
    with Ledger.open(store_url) as ledger:
        outcome = ledger.append({**joined("e1", "A"), "city": value})
        assert (outcome.status, outcome.code) == ("rejected", "invalid_event")
        assert "city" in (outcome.message or "")
        assert ledger.append(joined("e1", "A")).status == "accepted"  # nothing of the refused one stayed
        assert ledger.verify().ok and ledger.position == 1


SECRET = "s3cretPW"


@pytest.mark.parametrize("url", [
    f"postgresql://postgres:{SECRET}@127.0.0.1:99999/test",
    f"postgresql://u:{SECRET}@[::1/test",
    f"postgresql://u:{SECRET}@h/test?schema=x&&",
    f"postgresql://u:{SECRET}@h/test?bogus=1",
    f"mysql://u:{SECRET}@h/test",
    f"sqlite://u:{SECRET}@h/x.db",
    f"postgresql://postgres:{SECRET}@127.0.0.1:1/test?connect_timeout=1",
])
@pytest.mark.parametrize("command", ["verify", "report", "ingest"])
def test_no_message_ever_shows_the_password(url: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = [command, "--store", url] + ([str(EXAMPLE)] if command == "ingest" else [])
    code, out, err = run(args, capsys)
    assert (code, out) == (2, "")
    assert SECRET not in one_line(err)
    with pytest.raises((UsageError, StoreUnavailable)) as raised:
        open_store(url)
    assert SECRET not in str(raised.value)


def test_demo_output_masks_the_password() -> None:
    from supernova_ledger.tables import render_demo

    with Ledger.open("memory:") as ledger:
        ledger.append_batch(LINES)
        text = render_demo(ledger.report(), None, f"postgresql://u:{SECRET}@db.internal/books")
    assert SECRET not in text and "postgresql://u:***@db.internal/books" in text


def test_output_to_a_full_disk_is_exit_4(sqlite_store: tuple[str, Path], tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    url, _ = sqlite_store
    for args in (["export"], ["verify"], ["report"], ["ingest", str(EXAMPLE), "--rejects", "/dev/full"]):
        with open("/dev/full", "wb") as full:
            done = subprocess.run(cli_command(*args, store=url), stdout=full, stderr=subprocess.PIPE, text=True,
                                  timeout=120, check=False)
        assert done.returncode == 4, (args, done.stderr)
        assert "No space left" in one_line(done.stderr)
    assert_sound(url)


def test_output_to_a_closed_pipe_is_exit_4(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    source = tmp_path / "p.jsonl"
    write_jsonl(source, programme(60))
    assert run_cli("ingest", str(source), store=url).returncode in (0, 3)
    reader = subprocess.Popen(cli_command("export", store=url), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.read(10)
    reader.stdout.close()  # like `export | head -c 10`
    err = reader.stderr.read().decode()
    assert reader.wait(timeout=120) == 4
    assert "broken pipe" in one_line(err)


def test_ctrl_c_during_ingest_is_exit_130_and_says_what_was_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    lines = [json.dumps(joined(f"e{i}", f"P{i}"), separators=(",", ":")).encode() for i in range(cli.INGEST_BATCH + 1)]
    env = {**os.environ, "PYTHONUTF8": "1"}
    proc = subprocess.Popen(cli_command("ingest", "-", store=url), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, preexec_fn=interruptible)
    assert proc.stdin is not None
    proc.stdin.write(b"\n".join(lines) + b"\n")  # one whole batch, then the stream stays open
    proc.stdin.flush()
    for _ in range(600):  # wait (bounded) until the first batch is stored
        if (tmp_path / "s.db").exists():
            try:
                with open_store(url, create=False) as store:
                    if store.head()[0] == cli.INGEST_BATCH:
                        break
            except StoreUnavailable:
                pass
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and out == b""
    assert f"interrupted: {cli.INGEST_BATCH} events stored by this ingest" in one_line(err.decode())
    assert_sound(url, cli.INGEST_BATCH, head=None)


# == leaks and resource use ========================================================================


class _Endless(io.RawIOBase):
    """``/dev/zero``-like input (no newline) of ``size`` bytes, then ``tail``; never held in memory."""

    def __init__(self, size: int, tail: bytes = b"") -> None:
        self.left, self.tail = size, tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self.left > 0:
            n = min(len(view), self.left)
            view[:n] = bytes(n)
            self.left -= n
            return n
        n = min(len(view), len(self.tail))
        view[:n] = self.tail[:n]
        self.tail = self.tail[n:]
        return n


def test_an_over_long_line_is_rejected_with_flat_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    line_bytes = 64 << 20  # 64 MiB of zeros without a newline, then one good event
    stdin = io.TextIOWrapper(io.BufferedReader(_Endless(line_bytes, b"\n" + LINES[1] + b"\n")))
    monkeypatch.setattr(sys, "stdin", stdin)
    rejects = tmp_path / "r.jsonl"
    tracemalloc.start()
    try:
        code, out, _ = run(["ingest", "-", "--store", f"sqlite:///{tmp_path / 's.db'}", "--rejects", str(rejects)], capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (code, out) == (3, '{"accepted":1,"duplicates":0,"rejected":1}\n')
    row = json.loads(rejects.read_text())
    assert (row["line"], row["code"]) == (1, "invalid_event") and "longer than" in row["message"]
    assert peak < 16 << 20, f"peak {peak} bytes while reading a {line_bytes}-byte line"


def test_endless_input_without_newline_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.BufferedReader(_Endless(8 << 20))
    tracemalloc.start()
    try:
        lines = list(cli._physical_lines(stream, limit=1 << 16))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(number, len(line)) for number, line in lines] == [(1, (1 << 16) + 1)]
    assert peak < 2 << 20


def test_tables_escape_control_characters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hostile = b'"g\\u001b]0;owned\\u0007\\r\\u001b[2J\\u202e"'  # a group id, JSON-escaped
    url = f"sqlite:///{tmp_path / 's.db'}"
    with Ledger.open(url) as ledger:
        ledger.append_batch([line.replace(b'"g1"', hostile) for line in LINES])
        assert ledger.position == 12
    code, out, _ = run(["report", "--store", url, "--format", "table"], capsys)
    assert code == 0
    assert not any(ch in out for ch in "\x1b\x07\r\u202e")
    assert "g\\x1b]0;owned\\x07\\x0d\\x1b[2J\\u202e" in out


# == misleading success ============================================================================


@pytest.mark.parametrize("command", [["verify"], ["report"], ["export"], ["report", "--format", "table"],
                                     ["explain", "B"], ["statement", "--period", "2026-11"], ["rejections"],
                                     ["export", "--format", "parquet", "--out", "parquet-out"]])
def test_read_commands_never_create_a_sqlite_store(tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    typo = tmp_path / "typo.db"
    command = [str(tmp_path / part) if part == "parquet-out" else part for part in command]
    code, out, err = run([*command, "--store", f"sqlite:///{typo}"], capsys)
    assert (code, out) == (2, "")
    assert "no ledger at" in one_line(err)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(NoLedger):
        Ledger.open(f"sqlite:///{typo}", create=False)
    assert list(tmp_path.iterdir()) == []


def test_read_commands_never_create_a_postgres_schema(postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["verify", "--store", postgres_url], capsys)
    assert (code, out) == (2, "") and "no ledger at" in one_line(err)
    target = parse_postgres_url(postgres_url)
    with psycopg.connect(host=target.host, port=target.port, user=target.user, dbname=target.dbname) as conn:
        found = conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (target.schema,)).fetchone()
    assert found is None


def test_a_read_only_postgres_role_can_read_the_ledger(postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    ingest_example(postgres_url)
    target = parse_postgres_url(postgres_url)
    role = f"r_{target.schema}"
    admin = dict(host=target.host, port=target.port, user=target.user, dbname=target.dbname, autocommit=True)
    with psycopg.connect(**admin) as conn:  # type: ignore[arg-type]
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA {target.schema} TO {role}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {target.schema} TO {role}")
    try:
        reader = postgres_url.replace(f"//{target.user}@", f"//{role}@", 1)
        assert reader != postgres_url
        for command in (["verify"], ["report"], ["export"], ["rejections"], ["statement", "--period", "2026-11"]):
            code, _, err = run([*command, "--store", reader], capsys)
            assert code == 0, (command, err)
        code, _, err = run(["ingest", str(EXAMPLE), "--store", reader], capsys)
        assert code == 2 and "permission denied" in one_line(err)
    finally:
        with psycopg.connect(**admin) as conn:  # type: ignore[arg-type]
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
    assert_sound(postgres_url)


def test_a_read_command_leaves_the_sqlite_files_as_they_were(sqlite_store: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    url, db = sqlite_store
    before = sorted(p.name for p in db.parent.iterdir()), db.read_bytes()
    for command in (["verify"], ["report"], ["export"], ["explain", "B"], ["statement", "--period", "2026-11"], ["rejections"]):
        assert run([*command, "--store", url], capsys)[0] == 0, command
    assert (sorted(p.name for p in db.parent.iterdir()), db.read_bytes()) == before


def test_a_store_this_user_may_not_write_is_read_read_only(
    sqlite_store: tuple[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As another user of a shared file would (root may write anything, so the check is stubbed)."""
    url, db = sqlite_store
    import supernova_ledger.store.sqlite as sqlite_module

    real_access = os.access
    monkeypatch.setattr(sqlite_module.os, "access",
                        lambda path, mode: False if os.fspath(path) == str(db) and mode == os.W_OK else real_access(path, mode))
    for command in (["verify"], ["report"], ["export"], ["rejections"]):
        assert run([*command, "--store", url], capsys)[0] == 0, command
    with Ledger.open(url, create=False) as ledger:
        assert ledger.report()["log_head"] == HEAD_12
        with pytest.raises(StoreError, match="readonly"):
            ledger.append(joined("e99", "Z"))
    monkeypatch.undo()
    assert_sound(url)


def test_ingest_jd_rejects_is_never_the_store_or_an_input(
    sqlite_store: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, db = sqlite_store
    positions = tmp_path / "positions.csv"
    positions.write_text("position_id,sub_union_id,promoter_id,group_id\n777,,B,g1\n", encoding="utf-8")
    saved = tmp_path / "response.json"
    saved.write_text('{"code":200,"message":"success","hasMore":false,"data":[]}', encoding="utf-8")
    before = db.read_bytes(), positions.read_bytes(), saved.read_bytes()
    for target in (db, positions, saved):
        code, out, err = run(["ingest-jd", str(saved), "--positions", str(positions), "--store", url,
                              "--rejects", str(target)], capsys)
        assert (code, out) == (2, "") and "choose another path" in one_line(err)
    assert (db.read_bytes(), positions.read_bytes(), saved.read_bytes()) == before
    assert_sound(url)
    fresh = tmp_path / "fresh.db"  # a writing command creates its store
    code, _, err = run(["ingest-jd", str(saved), "--positions", str(positions), "--store", f"sqlite:///{fresh}"], capsys)
    assert code in (0, 3) and fresh.exists(), err
