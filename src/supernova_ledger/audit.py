"""Replaying a stored log and proving it: ``verify`` and ``export`` (SPEC §7, §9)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ._gc import paused_gc
from .domain.book import GENESIS_HEAD, Book, chain
from .domain.snapshot import CheckpointError, restore, snapshot, unseal
from .errors import CorruptLog, UsageError
from .events import DecodeFailure, decode_canonical
from .store.base import LogStore

__all__ = ["Verification", "ExpectedHead", "verify", "export_lines", "parse_expected_head"]

_EXPECT = re.compile(r"([0-9a-f]{64})(?:@([0-9]{1,19}))?")


@dataclass(frozen=True, slots=True)
class ExpectedHead:
    """A log head published earlier, optionally with the position it stood at."""

    head: str
    position: int | None = None

    def describe(self) -> str:
        return self.head if self.position is None else f"{self.head}@{self.position}"


def parse_expected_head(text: str) -> ExpectedHead:
    """``HEAD`` or ``HEAD@POSITION`` (64 lowercase hex, a whole number). Raises UsageError."""
    match = _EXPECT.fullmatch(text)
    if match is None:
        raise UsageError(f"expect: {text[:80]!r} is not HEAD or HEAD@POSITION (64 lowercase hex digits, @ a whole number)")
    return ExpectedHead(match.group(1), None if match.group(2) is None else int(match.group(2)))


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    events: int  #: events replayed and found sound
    log_head: str  #: recomputed head after them
    position: int | None = None  #: where the first problem is (None: not at one position)
    problem: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"ok: {self.events} events, log_head {self.log_head}"
        if self.position is None:
            return f"FAILED: {self.problem}"
        return f"FAILED at position {self.position}: {self.problem}"


def verify(store: LogStore, *, expect: Sequence[ExpectedHead] = (), key: bytes | None = None) -> Verification:
    """Replay the store from position 1, recomputing the hash chain and every decision.

    Finds the first position whose stored event is missing, altered, reordered,
    not canonical, not accepted on replay, or whose stored head disagrees; the
    first stored checkpoint whose (intact) state differs from the replayed
    state at its position; and any ``expect``-ed head the log no longer holds
    (a truncated or rewritten log). ``key``: the checkpoint key, as the ledger
    uses it (a checkpoint whose seal does not hold is never used, so it is
    not a failure)."""
    with paused_gc():
        try:
            return _verify(store, expect, key)
        except CorruptLog as exc:  # a record the store itself cannot read
            return Verification(False, 0, GENESIS_HEAD, None, exc.message)


def _verify(store: LogStore, expect: Sequence[ExpectedHead], key: bytes | None) -> Verification:
    book = Book()
    book.keep_postings = False  # the movements are applied and checked; nobody reads the postings
    head = GENESIS_HEAD
    expected = 1
    checkpoints = store.checkpoints()
    checkpoint = next(checkpoints, None)
    heads_seen = {GENESIS_HEAD: 0}
    wanted = {item.head for item in expect if item.position is None}
    at_position = {item.position: item for item in expect if item.position is not None}

    def failed(position: int | None, problem: str) -> Verification:
        return Verification(False, expected - 1, head, position, problem)

    if 0 in at_position and at_position[0].head != GENESIS_HEAD:
        return failed(0, f"expected head {at_position[0].describe()}: position 0 is always the genesis head")
    while checkpoint is not None and checkpoint[0] <= 0:
        checkpoint = next(checkpoints, None)
    records = store.read()
    while True:
        try:
            record = next(records, None)
        except CorruptLog as exc:  # a stored row that cannot be read as a whole
            return failed(expected, exc.message)
        if record is None:
            break
        if record.position != expected:
            return failed(expected, f"position {expected} is missing (next stored is {record.position})")
        try:
            event = decode_canonical(record.event)
        except DecodeFailure as exc:
            if exc.code == "not_canonical":
                return failed(expected, "stored event is not in canonical form")
            return failed(expected, f"stored event does not decode: {exc.message}")
        recomputed = chain(head, record.event)
        if recomputed != record.head:
            return failed(expected, "stored log head differs from the recomputed chain (event altered, removed or reordered)")
        outcome, _ = book.submit(event, record.event, recomputed)
        if outcome.status != "accepted":
            return failed(expected, f"event {event.id!r} replays as {outcome.status} {outcome.code or ''}".rstrip())
        head = recomputed
        if head in wanted:
            heads_seen[head] = expected
        hoped = at_position.get(expected)
        if hoped is not None and hoped.head != head:
            return failed(expected, f"expected head {hoped.describe()}, the log has {head} there (rewritten?)")
        while checkpoint is not None and checkpoint[0] <= expected:
            if checkpoint[0] == expected:
                problem = _checkpoint_differs(book, checkpoint[1], key)
                if problem:
                    return failed(expected, f"the stored checkpoint here: {problem}")
            checkpoint = next(checkpoints, None)
        expected += 1
    stored_position, stored_head = store.head()
    if stored_position != expected - 1 or stored_head != head:
        return failed(expected, f"store reports head at position {stored_position}, replay ends at {expected - 1}")
    while checkpoint is not None:  # a sound checkpoint past the end: the log lost events it once had
        if _seal_holds(checkpoint[1], key):
            return failed(expected, f"a stored checkpoint stands at position {checkpoint[0]}, "
                                    f"after the log's end at {expected - 1} (truncated?)")
        checkpoint = next(checkpoints, None)
    for item in expect:
        if item.position is not None and item.position > expected - 1:
            return failed(expected, f"expected head {item.describe()}: the log ends at position {expected - 1} (truncated?)")
        if item.position is None and item.head not in heads_seen:
            return failed(None, f"expected head {item.head}: no position of the log has it (truncated or rewritten)")
    return Verification(True, expected - 1, head)


def _seal_holds(blob: bytes, key: bytes | None) -> bool:
    try:
        unseal(blob, key)
    except CheckpointError:
        return False
    return True


def _checkpoint_differs(book: Book, blob: bytes, key: bytes | None) -> str | None:
    """Why a stored checkpoint the ledger would use disagrees with the replayed ``book``, else None.

    A checkpoint whose seal or shape does not hold is never used (the ledger
    replays instead), so it is not a disagreement."""
    try:
        payload = unseal(blob, key)
    except CheckpointError:
        return None
    replayed = snapshot(book)
    if payload == replayed:  # the replayed state, encoded as checkpoints are: the same state
        return None
    try:
        stored = restore(payload)
    except CheckpointError:
        return None
    if stored.position != book.position or stored.head != book.head:
        return "stands at a different log head than the log"
    if snapshot(stored) != replayed:  # a checkpoint encoded otherwise (older) is equal once restored
        return "its state differs from the replayed state (forged or corrupt)"
    return None


def export_lines(store: LogStore) -> Iterator[bytes]:
    """The log as canonical JSON Lines, in order (each without its newline)."""
    for record in store.read():
        yield record.event
