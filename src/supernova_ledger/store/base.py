"""The contract every log store implements.

A store holds the accepted events as an append-only sequence of
:class:`LogRecord`: position 1, 2, 3, … with the canonical JSON of the event
(SPEC §7) and the log head after it. Stores know nothing of the domain: they
never decode events. The ledger decides; the store only persists.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Final

import msgspec

from ..errors import UsageError

__all__ = [
    "LogRecord",
    "LogStore",
    "JournalEntry",
    "GENESIS_HEAD",
    "MAX_APPEND_BATCH",
    "HEAD_HEX_CHARS",
    "MAX_STATE_KEY_CHARS",
    "MAX_STATE_VALUE_BYTES",
    "MAX_JOURNAL_MESSAGE_CHARS",
    "StateChanges",
    "BalanceRows",
    "PostingRows",
    "MAX_BALANCE_ROWS",
    "check_batch",
    "check_side_data",
    "encode_journal_entry",
    "decode_journal_entry",
    "redact_url",
]

GENESIS_HEAD = "0" * 64
#: The most records one ``append`` call may carry.
MAX_APPEND_BATCH = 10_000
#: Length of a log head: sha256 as lowercase hex.
HEAD_HEX_CHARS = 64
#: Limits on side state (see :meth:`LogStore.append`).
MAX_STATE_KEY_CHARS: Final = 256
MAX_STATE_VALUE_BYTES: Final = 64 * 1024
#: A rejection message longer than this is cut (messages are ours, and short).
MAX_JOURNAL_MESSAGE_CHARS: Final = 1_000
#: Rows fetched per query when reading the journal or side state.
JOURNAL_PAGE: Final = 1_000

#: Rows of the per-promoter balances table one append may write, and their size.
MAX_BALANCE_ROWS: Final = 1_000_000
MAX_BALANCE_VALUE_BYTES: Final = 4 * 1024
#: Per-promoter rows to upsert with a batch: promoter id -> the ledger's bytes.
BalanceRows = Mapping[str, bytes]
#: Per-promoter posting rows to insert with a batch: (promoter id, position, the ledger's bytes).
PostingRows = Sequence[tuple[str, int, bytes]]
#: Bytes of one posting row (one promoter's postings in one batch).
MAX_POSTING_ROW_BYTES: Final = 16 * 1024 * 1024

#: Side state to write with a batch: key -> new value, or None to delete the key.
StateChanges = Mapping[str, bytes | None]


class LogRecord(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One stored event. A frozen msgspec Struct: cheap to build and compare,
    not tracked by the cyclic GC, and decoded straight from a stored batch row
    (``array_like``: ``[position, event, head]`` in msgpack)."""

    position: int  #: 1-based position in the log
    event: bytes  #: canonical JSON of the event (SPEC §7), UTF-8
    head: str  #: log head (64 hex) after this event


class JournalEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One refused event in the rejection journal (SPEC §2.1).

    Not part of the log: no position of its own, not in the hash chain, not
    exported, never read by the fold. ``position`` is the number of events
    accepted when it was refused."""

    position: int
    event_id: str | None = msgspec.field(name="id", default=None)
    type: str | None = None
    code: str
    message: str
    promoter_id: str | None = None  #: the event's promoter_id, else its owner_id
    group_id: str | None = None
    order_id: str | None = None
    payout_id: str | None = None


_journal_encoder: Final = msgspec.json.Encoder(order="sorted")
_journal_decoder: Final = msgspec.json.Decoder(JournalEntry)


def encode_journal_entry(entry: JournalEntry) -> bytes:
    """The entry's JSON (sorted keys, every key present): how stores keep it."""
    return _journal_encoder.encode(entry)


def decode_journal_entry(data: bytes) -> JournalEntry:
    return _journal_decoder.decode(data)


class LogStore(ABC):
    """An append-only log of records with optimistic concurrency."""

    url: str

    @abstractmethod
    def head(self) -> tuple[int, str]:
        """``(last position, log head)``; ``(0, GENESIS_HEAD)`` when empty.

        Always reads what is durably stored now (other writers included)."""

    @abstractmethod
    def append(
        self,
        records: Sequence[LogRecord],
        journal: Sequence[JournalEntry] = (),
        state: StateChanges | None = None,
        balances: BalanceRows | None = None,
        postings: PostingRows | None = None,
    ) -> None:
        """Store ``records`` (consecutive positions) atomically and durably.

        ``records[0].position`` is the position right after the last one the
        writer has seen. If another writer has already stored any of these
        positions, nothing is stored and :class:`ConcurrencyConflict` is
        raised. At most :data:`MAX_APPEND_BATCH` records per call; a batch
        that is too long, not consecutive, or would leave a gap after the
        stored log is a :class:`UsageError` (nothing stored).

        ``journal`` (rejection-journal entries) and ``state`` (side state:
        key -> value, ``None`` deletes) are written in the same transaction
        as the records: all of it is stored, or none. Either may come
        without records.

        ``balances`` upserts rows of the per-promoter balances table (promoter
        id -> the ledger's encoding of its balances at this batch), in the
        same transaction. Derived data, like checkpoints: the ledger writes
        and checks them, the store only keeps the latest row per promoter.
        ``postings`` inserts rows of the per-promoter postings table
        (promoter id, position, the ledger's encoding of that promoter's
        postings in this batch), likewise derived, in the same transaction."""

    @abstractmethod
    def journal(
        self,
        after: int = 0,
        *,
        code: str | None = None,
        promoter_id: str | None = None,
        group_id: str | None = None,
    ) -> Iterator[tuple[int, JournalEntry]]:
        """Rejection-journal entries, oldest first, with their journal sequence
        number (1, 2, …; not a log position), those with sequence > ``after``
        matching every filter given."""

    def read_balances(self, promoter_ids: Sequence[str]) -> dict[str, bytes]:
        """The stored balances rows of those of ``promoter_ids`` that have one."""
        return {}

    def balance_items(self) -> Iterator[tuple[str, bytes]]:
        """Every stored balances row ``(promoter_id, bytes)``, in promoter id order (of the
        store's collation: the same order on every read of one store)."""
        return iter(())

    def read_postings(self, promoter_id: str, until: int | None = None) -> Iterator[tuple[int, bytes]]:
        """The promoter's posting rows ``(position, bytes)`` with position <= ``until``, in order."""
        return iter(())

    @abstractmethod
    def read_state(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The stored values of those of ``keys`` that have one."""

    @abstractmethod
    def state_items(self, prefix: str = "") -> Iterator[tuple[str, bytes]]:
        """Side state whose key starts with ``prefix``, sorted by key."""

    @abstractmethod
    def read(self, start: int = 1, stop: int | None = None) -> Iterator[LogRecord]:
        """Records with ``start <= position <= stop`` (``stop=None``: to the end), in order."""

    def record_at(self, position: int) -> LogRecord | None:
        """The record stored at ``position``, or ``None``: one indexed lookup."""
        for record in self.read(position, position):
            return record
        return None

    def head_at(self, position: int) -> str | None:
        """The log head stored with the record at ``position``, or ``None``.

        Stores that keep batches answer from the batch's header when
        ``position`` ends one (checkpoints and balances rows stand at batch ends)."""
        record = self.record_at(position)
        return None if record is None else record.head

    def save_checkpoint(self, position: int, blob: bytes) -> None:  # noqa: B027 - optional
        """Keep a sealed checkpoint of the projected state at ``position``.

        Checkpoints are derived data: a store may drop them at any time, and a
        store that cannot keep them (this default) simply doesn't."""

    def load_checkpoint(self) -> tuple[int, bytes] | None:
        """The newest checkpoint as ``(position, sealed blob)``, or None."""
        return None

    def checkpoints(self) -> Iterator[tuple[int, bytes]]:
        """Every stored checkpoint as ``(position, sealed blob)``, oldest first (for ``verify``).

        This default knows only the newest; a store keeping more yields them all."""
        newest = self.load_checkpoint()
        if newest is not None:
            yield newest

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files. Idempotent."""

    def __enter__(self) -> "LogStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_side_data(
    journal: Sequence[JournalEntry],
    state: StateChanges | None,
    balances: BalanceRows | None = None,
    postings: PostingRows | None = None,
) -> None:
    """Refuse side data no store may keep (a caller's mistake: :class:`UsageError`)."""
    if postings:
        if len(postings) > MAX_BALANCE_ROWS:
            raise UsageError(f"postings: at most {MAX_BALANCE_ROWS} rows per append, got {len(postings)}")
        for promoter_id, position, row in postings:
            if not isinstance(promoter_id, str) or not 1 <= len(promoter_id) <= MAX_STATE_KEY_CHARS:
                raise UsageError(f"postings: promoter ids are strings of 1-{MAX_STATE_KEY_CHARS} characters")
            if not isinstance(position, int) or position < 1:
                raise UsageError(f"postings[{promoter_id!r}]: positions start at 1")
            if not isinstance(row, bytes) or len(row) > MAX_POSTING_ROW_BYTES:
                raise UsageError(f"postings[{promoter_id!r}]: rows are bytes of at most {MAX_POSTING_ROW_BYTES}")
    if balances:
        if len(balances) > MAX_BALANCE_ROWS:
            raise UsageError(f"balances: at most {MAX_BALANCE_ROWS} rows per append, got {len(balances)}")
        for promoter_id, row in balances.items():
            if not isinstance(promoter_id, str) or not 1 <= len(promoter_id) <= MAX_STATE_KEY_CHARS:
                raise UsageError(f"balances: promoter ids are strings of 1-{MAX_STATE_KEY_CHARS} characters")
            if not isinstance(row, bytes) or len(row) > MAX_BALANCE_VALUE_BYTES:
                raise UsageError(f"balances[{promoter_id!r}]: rows are bytes of at most {MAX_BALANCE_VALUE_BYTES}")
    if len(journal) > MAX_APPEND_BATCH:
        raise UsageError(f"journal: at most {MAX_APPEND_BATCH} entries per append, got {len(journal)}")
    if state is None:
        return
    if len(state) > MAX_APPEND_BATCH:
        raise UsageError(f"state: at most {MAX_APPEND_BATCH} keys per append, got {len(state)}")
    for key, value in state.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_STATE_KEY_CHARS:
            raise UsageError(f"state: keys are strings of 1-{MAX_STATE_KEY_CHARS} characters, got {key!r:.80}")
        if value is not None and (not isinstance(value, bytes) or len(value) > MAX_STATE_VALUE_BYTES):
            raise UsageError(f"state[{key!r}]: values are bytes of at most {MAX_STATE_VALUE_BYTES}, or None")


def matches(entry: JournalEntry, code: str | None, promoter_id: str | None, group_id: str | None) -> bool:
    """Whether a journal entry passes the filters of :meth:`LogStore.journal`."""
    return (
        (code is None or entry.code == code)
        and (promoter_id is None or entry.promoter_id == promoter_id)
        and (group_id is None or entry.group_id == group_id)
    )


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


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages — also when it does not parse.

    Everything between ``//`` and the last ``@`` before the path is user
    information; whatever follows its first ``:`` is the password."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority_end = len(rest)
    for mark in "/?#":
        found = rest.find(mark)
        if found != -1:
            authority_end = min(authority_end, found)
    at = rest.rfind("@", 0, authority_end)
    if at == -1:
        at = rest.rfind("@")  # a password holding "/" or "?" ends the authority early
        if at == -1:
            return url
    user, colon, _password = rest[:at].partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}{rest[at:]}"
