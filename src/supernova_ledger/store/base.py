"""The contract every log store implements.

A store holds the accepted events as an append-only sequence of
:class:`LogRecord`: position 1, 2, 3, … with the canonical JSON of the event
(SPEC §7) and the log head after it. Stores know nothing of the domain: they
never decode events. The ledger decides; the store only persists.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["LogRecord", "LogStore", "GENESIS_HEAD", "MAX_APPEND_BATCH"]

GENESIS_HEAD = "0" * 64
#: The most records one ``append`` call may carry.
MAX_APPEND_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class LogRecord:
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
        raised. At most :data:`MAX_APPEND_BATCH` records per call."""

    @abstractmethod
    def read(self, start: int = 1, stop: int | None = None) -> Iterator[LogRecord]:
        """Records with ``start <= position <= stop`` (``stop=None``: to the end), in order."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files. Idempotent."""

    def __enter__(self) -> "LogStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
