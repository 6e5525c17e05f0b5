"""Replaying a stored log and proving it: ``verify`` and ``export`` (SPEC §7, §9)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ._gc import paused_gc
from .domain.book import GENESIS_HEAD, Book, chain
from .errors import CorruptLog
from .events import DecodeFailure, canonical, decode_event
from .store.base import LogStore

__all__ = ["Verification", "verify", "export_lines"]


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    events: int  #: events replayed and found sound
    log_head: str  #: recomputed head after them
    position: int | None = None  #: where the first problem is
    problem: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"ok: {self.events} events, log_head {self.log_head}"
        return f"FAILED at position {self.position}: {self.problem}"


def verify(store: LogStore) -> Verification:
    """Replay the store from position 1, recomputing the hash chain and every decision.

    Finds the first position whose stored event is missing, altered, reordered,
    not canonical, not accepted on replay, or whose stored head disagrees."""
    with paused_gc():
        return _verify(store)


def _verify(store: LogStore) -> Verification:
    book = Book()
    head = GENESIS_HEAD
    expected = 1

    def failed(position: int, problem: str) -> Verification:
        return Verification(False, expected - 1, head, position, problem)

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
            event = decode_event(record.event)
        except DecodeFailure as exc:
            return failed(expected, f"stored event does not decode: {exc.message}")
        if canonical(event) != record.event:
            return failed(expected, "stored event is not in canonical form")
        recomputed = chain(head, record.event)
        if recomputed != record.head:
            return failed(expected, "stored log head differs from the recomputed chain (event altered, removed or reordered)")
        outcome, _ = book.submit(event, record.event)
        if outcome.status != "accepted":
            return failed(expected, f"event {event.id!r} replays as {outcome.status} {outcome.code or ''}".rstrip())
        head = recomputed
        expected += 1
    stored_position, stored_head = store.head()
    if stored_position != expected - 1 or stored_head != head:
        return failed(expected, f"store reports head at position {stored_position}, replay ends at {expected - 1}")
    return Verification(True, expected - 1, head)


def export_lines(store: LogStore) -> Iterator[bytes]:
    """The log as canonical JSON Lines, in order (each without its newline)."""
    for record in store.read():
        yield record.event
