"""Checkpoints: a checkpoint plus the tail gives exactly the state of a full replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import event_logs

from supernova_ledger import Ledger
from supernova_ledger.domain import Book, build_report
from supernova_ledger.domain.snapshot import CheckpointError, restore, seal, snapshot, unseal
from supernova_ledger.events import decode_stored
from supernova_ledger.store import MemoryStore


def _fold(book: Book, lines: list[bytes]) -> Book:
    for line in lines:
        book.replay(decode_stored(line), line)
    return book


def _accepted(log: list[dict[str, Any]]) -> list[bytes]:
    with Ledger.open("memory:") as ledger:
        ledger.append_batch(log)
        return list(ledger.export())


@given(event_logs(), st.data())
def test_checkpoint_plus_tail_equals_full_replay(log: list[dict[str, Any]], data: st.DataObject) -> None:
    lines = _accepted(log)
    cut = data.draw(st.integers(0, len(lines)))
    full = _fold(Book(), lines)
    resumed = _fold(restore(unseal(seal(snapshot(_fold(Book(), lines[:cut]))))), lines[cut:])
    assert build_report(resumed) == build_report(full)
    assert snapshot(resumed) == snapshot(full)
    # Duplicate detection survives the checkpoint too.
    for line in lines[:3]:
        assert resumed.submit(decode_stored(line), line)[0].status == "duplicate"


def test_corrupt_checkpoint_is_detected() -> None:
    lines = (Path(__file__).parents[1] / "golden" / "spec_example.jsonl").read_bytes().splitlines()[:12]
    sealed = seal(snapshot(_fold(Book(), lines)))
    flipped = bytearray(sealed)
    flipped[-1] ^= 1
    with pytest.raises(CheckpointError):
        unseal(bytes(flipped))
    with pytest.raises(CheckpointError):
        unseal(b"something else\n00\n")
    with pytest.raises(CheckpointError):
        restore(b"\x93\x01\x02\x03")


class _KeepsCheckpoints(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.saved: list[tuple[int, bytes]] = []

    def save_checkpoint(self, position: int, blob: bytes) -> None:
        self.saved.append((position, blob))

    def load_checkpoint(self) -> tuple[int, bytes] | None:
        return self.saved[-1] if self.saved else None


GOLDEN = Path(__file__).parents[1] / "golden" / "spec_example.jsonl"


def test_ledger_reopens_from_checkpoint_and_ignores_a_bad_one() -> None:
    store = _KeepsCheckpoints()
    lines = GOLDEN.read_bytes().splitlines()
    ledger = Ledger(store)
    ledger.append_batch(lines[:8])
    assert ledger.checkpoint() == 8
    ledger.append_batch(lines[8:])
    expected = ledger.report()

    reopened = Ledger(store)
    assert reopened.checkpoint_problem is None and reopened.report() == expected

    position, blob = store.saved[-1]
    store.saved.append((position, blob[:-1] + bytes([blob[-1] ^ 1])))  # a flipped bit
    assert Ledger(store).report() == expected
    assert "checksum" in (Ledger(store).checkpoint_problem or "")

    forged = seal(snapshot(_fold(Book(), lines[:7])))  # intact, but claims the wrong position
    store.saved.append((8, forged))
    again = Ledger(store)
    assert again.report() == expected and "does not match the log" in (again.checkpoint_problem or "")
