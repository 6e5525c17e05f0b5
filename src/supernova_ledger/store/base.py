"""The contract every log store implements.

A store holds the accepted events as an append-only sequence of
:class:`LogRecord`: position 1, 2, 3, … with the canonical JSON of the event
(SPEC §7) and the log head after it. Stores know nothing of the domain: they
never decode events. The ledger decides; the store only persists.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence

import msgspec

from ..errors import UsageError

__all__ = ["LogRecord", "LogStore", "GENESIS_HEAD", "MAX_APPEND_BATCH", "HEAD_HEX_CHARS", "check_batch"]

GENESIS_HEAD = "0" * 64
#: The most records one ``append`` call may carry.
MAX_APPEND_BATCH = 10_000
#: Length of a log head: sha256 as lowercase hex.
HEAD_HEX_CHARS = 64


class LogRecord(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One stored event. A frozen msgspec Struct: cheap to build and compare,
    not tracked by the cyclic GC, and decoded straight from a stored batch row
    (``array_like``: ``[position, event, head]`` in msgpack)."""

    position: int  #: 1-based position in the log
    event: bytes  #: canonical JSON of the event (SPEC §7), UTF-8
    head: str  #: log head (64 hex) after this event


class LogStore(ABC):
    """An append-only log of records with optimistic concurrency."""

    url: str

    @abstractmethod
    def head(self) -> tuple[int, str]:
        """``(last position, log head)``; ``(0, GENESIS_HEAD)`` when empty.

        Always reads what is durably stored now (other writers included)."""

    @abstractmethod
    def append(self, records: Sequence[LogRecord]) -> None:
        """Store ``records`` (consecutive positions) atomically and durably.

        ``records[0].position`` is the position right after the last one the
        writer has seen. If another writer has already stored any of these
        positions, nothing is stored and :class:`ConcurrencyConflict` is
        raised. At most :data:`MAX_APPEND_BATCH` records per call; a batch
        that is too long, not consecutive, or would leave a gap after the
        stored log is a :class:`UsageError` (nothing stored)."""

    @abstractmethod
    def read(self, start: int = 1, stop: int | None = None) -> Iterator[LogRecord]:
        """Records with ``start <= position <= stop`` (``stop=None``: to the end), in order."""

    def record_at(self, position: int) -> LogRecord | None:
        """The record stored at ``position``, or ``None``: one indexed lookup."""
        for record in self.read(position, position):
            return record
        return None

    def save_checkpoint(self, position: int, blob: bytes) -> None:  # noqa: B027 - optional
        """Keep a sealed checkpoint of the projected state at ``position``.

        Checkpoints are derived data: a store may drop them at any time, and a
        store that cannot keep them (this default) simply doesn't."""

    def load_checkpoint(self) -> tuple[int, bytes] | None:
        """The newest checkpoint as ``(position, sealed blob)``, or None."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files. Idempotent."""

    def __enter__(self) -> "LogStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_batch(records: Sequence[LogRecord]) -> None:
    """Reject a batch no store may accept: too long, or not consecutive from >= 1.

    A caller's mistake, so :class:`UsageError`; conflicts with other writers
    are each store's business."""
    if len(records) > MAX_APPEND_BATCH:
        raise UsageError(f"records: at most {MAX_APPEND_BATCH} per append, got {len(records)}")
    first = records[0].position
    if first < 1:
        raise UsageError(f"records: positions start at 1, got {first}")
    for offset, record in enumerate(records):
        if record.position != first + offset:
            raise UsageError(f"records: position {record.position} is not consecutive")
        if len(record.head) != HEAD_HEX_CHARS or not isinstance(record.event, bytes):
            raise UsageError(f"records: position {record.position} needs event bytes and a 64-hex head")
