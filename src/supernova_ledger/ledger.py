"""The facade an application embeds: open a store by URL, append events, ask for reports.

Concurrency: several processes may append to one store. Before deciding, a
ledger folds whatever other writers stored since it last looked; it then
stores its accepted events at the next positions. If another writer took
those positions first, the store raises ``ConcurrencyConflict`` (the unique
``(originator_id, originator_version)`` key); the ledger rebuilds its state
from the store and decides the events again, so a payout that no longer fits
the balance is rejected rather than double-spent. An outcome is returned only
after its event is durably stored: nothing acknowledged is ever lost.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, Literal

from . import balances
from ._gc import paused_gc, release_frozen
from .audit import ExpectedHead, Verification, export_lines, parse_expected_head, verify
from .domain.accounts import build_explain, build_statement
from .domain.book import GENESIS_HEAD, Book, Outcome, chain
from .domain.postings import Posting
from .domain.report import build_report, daily_gmv, with_digest
from .domain.snapshot import CheckpointError, restore, seal, snapshot, unseal
from .errors import ConcurrencyConflict, CorruptLog, StoreError, UsageError
from .events import DecodeFailure, Event, coerce_event, decode_stored, readable_fields
from .results import Balances, DayFigures, Explanation, Report, Statement
from .store import LogRecord, LogStore, open_store
from .store.base import MAX_JOURNAL_MESSAGE_CHARS, JournalEntry, StateChanges

__all__ = ["Ledger", "DEFAULT_STORE_URL", "MAX_BATCH", "resolve_store_url", "checkpoint_key_from_env"]

DEFAULT_STORE_URL: Final = "sqlite:///supernova.db"
#: The most events one ``append_batch`` call may carry.
MAX_BATCH: Final = 10_000
_MAX_ATTEMPTS: Final = 20
#: After a lost race, wait up to this long (doubling per attempt, capped) before
#: deciding again: a random pause lets a writer that keeps losing get a turn.
_BACKOFF_FIRST_S: Final = 0.002
_BACKOFF_MAX_S: Final = 0.25

EventInput = Event | Mapping[str, Any] | bytes | str


def resolve_store_url(url: str | None) -> str:
    """``url``, else ``$SUPERNOVA_STORE``, else ``sqlite:///supernova.db``."""
    return url or os.environ.get("SUPERNOVA_STORE") or DEFAULT_STORE_URL


#: The checkpoint key (HMAC-SHA256), as text, or the file that holds it (see docs/storage.md).
CHECKPOINT_KEY_ENV: Final = "SUPERNOVA_CHECKPOINT_KEY"
CHECKPOINT_KEY_FILE_ENV: Final = "SUPERNOVA_CHECKPOINT_KEY_FILE"
_MAX_KEY_BYTES: Final = 4096


def checkpoint_key_from_env() -> bytes | None:
    """The checkpoint key from ``$SUPERNOVA_CHECKPOINT_KEY`` or the file ``$SUPERNOVA_CHECKPOINT_KEY_FILE``.

    None when neither is set: checkpoints then carry a plain checksum."""
    text = os.environ.get(CHECKPOINT_KEY_ENV)
    path = os.environ.get(CHECKPOINT_KEY_FILE_ENV)
    if text and path:
        raise UsageError(f"checkpoint key: set {CHECKPOINT_KEY_ENV} or {CHECKPOINT_KEY_FILE_ENV}, not both")
    if text:
        return text.encode("utf-8", errors="surrogateescape")
    if not path:
        return None
    try:
        with open(path, "rb") as file:
            key = file.read(_MAX_KEY_BYTES + 1).rstrip(b"\r\n")
    except OSError as exc:
        raise UsageError(f"checkpoint key: cannot read {CHECKPOINT_KEY_FILE_ENV} file: {exc.strerror}") from None
    if not key or len(key) > _MAX_KEY_BYTES:
        raise UsageError(f"checkpoint key: the {CHECKPOINT_KEY_FILE_ENV} file must hold 1–{_MAX_KEY_BYTES} bytes")
    return key


PostingSink = Callable[[Sequence[Posting]], None]


def _fold(
    book: Book, records: Iterator[LogRecord], sink: PostingSink | None = None, *, freeze: bool = False
) -> None:
    """Fold stored records into ``book``; ``sink`` receives each event's postings.

    ``freeze``: ``book`` is state that lives on (see :func:`paused_gc`)."""
    keep = book.keep_postings
    book.keep_postings = sink is not None  # nobody reads them: apply the movements only
    try:
        with paused_gc(freeze=freeze):
            _fold_records(book, records, sink)
    finally:
        book.keep_postings = keep


def _fold_records(book: Book, records: Iterator[LogRecord], sink: PostingSink | None) -> None:
    """Fold stored records, checking each against the stored chain (~0.5 µs an event):
    an event altered in the store is refused here, never folded into a balance."""
    for record in records:
        if record.position != book.position + 1:
            raise CorruptLog(f"position {book.position + 1}: missing from the store (found {record.position})")
        if chain(book.head, record.event) != record.head:
            raise CorruptLog(
                f"position {record.position}: stored event does not match the stored log head "
                "(altered, removed or reordered); run verify"
            )
        try:
            event = decode_stored(record.event)
        except DecodeFailure as exc:
            raise CorruptLog(f"position {record.position}: stored event does not decode: {exc.message}") from None
        postings = book.replay(event, record.event, record.head)
        if sink is not None and postings:
            sink(postings)


def _journal_entry(position: int, outcome: Outcome, event: Any) -> JournalEntry:
    """The rejection-journal entry of a refused event (SPEC §2.1)."""
    fields = readable_fields(event)
    # What cannot be written as UTF-8 (a lone surrogate from a JSON escape) is shown escaped.
    message = (outcome.message or "").encode("utf-8", "backslashreplace").decode("utf-8")
    return JournalEntry(
        position=position,
        event_id=fields.get("id"),
        type=fields.get("type"),
        code=outcome.code or "invalid_event",
        message=message[:MAX_JOURNAL_MESSAGE_CHARS],
        promoter_id=fields.get("promoter_id", fields.get("owner_id")),
        group_id=fields.get("group_id"),
        order_id=fields.get("order_id"),
        payout_id=fields.get("payout_id"),
    )


def _closes_a_period(decoded: Sequence[object], outcomes: Sequence[Outcome]) -> bool:
    return any(
        outcome.status == "accepted" and type(event).__name__ == "PeriodClosed"
        for event, outcome in zip(decoded, outcomes)
    )


class Ledger:
    """An append-only commission ledger over a log store.

    >>> with Ledger.open("memory:") as ledger:
    ...     ledger.append({"type": "PromoterJoined", "id": "e1", "at": "2026-11-01T09:00:00+08:00",
    ...                    "promoter_id": "A", "program": "fenxiang", "city": "北京", "city_tier": 1}).status
    'accepted'
    """

    def __init__(
        self, store: LogStore, *, use_checkpoint: bool = True, checkpoint_key: bytes | None | Literal["env"] = "env"
    ) -> None:
        self._store = store
        #: HMAC key of checkpoints ("env": from the environment, see :func:`checkpoint_key_from_env`).
        self._key = checkpoint_key_from_env() if checkpoint_key == "env" else checkpoint_key
        self._closed = False
        self._use_checkpoint = use_checkpoint
        self._checkpoint_problem: str | None = None
        self._checkpoint_position = 0
        #: The folded state, restored lazily: only a write or a question that needs
        #: the whole state restores it (see :meth:`balance` for one that does not).
        self._loaded: Book | None = None
        #: Whether the store's balances / postings tables are complete (None: ask the store).
        self._balances_complete: bool | None = None
        self._postings_complete: bool | None = None
        #: Called with :attr:`checkpoint_problem` when restoring the state ignores a checkpoint.
        self.on_checkpoint_problem: Callable[[str], None] | None = None

    @property
    def _book(self) -> Book:
        book = self._loaded
        if book is None:
            book = self._from_checkpoint() if self._use_checkpoint else Book()
            if self._checkpoint_problem is not None and self.on_checkpoint_problem is not None:
                self.on_checkpoint_problem(self._checkpoint_problem)
            self._loaded = book
            self._checkpoint_position = book.position
            try:
                self._catch_up()
            except BaseException:
                self._loaded = None  # no half-folded state; the next use tries again
                raise
        return book

    @property
    def checkpoint_problem(self) -> str | None:
        """Why the newest checkpoint was not used (None: used, or there was none).

        Asking restores the state if it was not yet."""
        self._book
        return self._checkpoint_problem

    @property
    def _table_key(self) -> bytes | None:
        """The key that seals the per-promoter tables' rows: the checkpoint key, when
        the ledger has one, else None (plain rows, checked against the log)."""
        return self._key

    def _from_checkpoint(self) -> Book:
        """The state at the newest checkpoint that proves sound, else an empty book.

        A checkpoint is used only if its checksum holds, its state restores,
        and its log head equals the head the log itself stores at that
        position; otherwise it is ignored and the log is folded from 1."""
        found = self._store.load_checkpoint()
        if found is None:
            return Book()
        position, blob = found
        try:
            with paused_gc(freeze=True):
                book = restore(unseal(blob, self._key))
        except CheckpointError as exc:
            self._checkpoint_problem = str(exc)
            release_frozen()
            return Book()
        stored_head = self._store.head_at(position) if position else GENESIS_HEAD
        if book.position != position or book.head != stored_head:
            self._checkpoint_problem = f"checkpoint: position {position} does not match the log"
            release_frozen()
            return Book()
        return book

    def checkpoint(self) -> int:
        """Store a checkpoint of the current state; returns its position."""
        self._ensure_open()
        self._catch_up()
        with paused_gc():
            blob = seal(snapshot(self._book), self._key)
        self._store.save_checkpoint(self._book.position, blob)
        self._checkpoint_position = self._book.position
        return self._book.position

    @property
    def events_since_checkpoint(self) -> int:
        return self._book.position - self._checkpoint_position

    @classmethod
    def open(
        cls, url: str | None = None, *, create: bool = True, checkpoint_key: bytes | None | Literal["env"] = "env"
    ) -> "Ledger":
        """Open the ledger stored at ``url`` (see :func:`resolve_store_url`).

        ``create=False``: a store that holds no ledger yet is :class:`NoLedger`
        (and is not created): what read-only tools should pass.
        ``checkpoint_key``: the HMAC key of checkpoints; ``"env"`` reads it from
        ``$SUPERNOVA_CHECKPOINT_KEY`` / ``$SUPERNOVA_CHECKPOINT_KEY_FILE``; None: plain seals."""
        store = open_store(resolve_store_url(url), create=create)
        try:
            return cls(store, checkpoint_key=checkpoint_key)
        except BaseException:
            store.close()
            raise

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._store.close()
            release_frozen()  # the book may be dropped now (see paused_gc)

    @property
    def store(self) -> LogStore:
        return self._store

    @property
    def position(self) -> int:
        """Events in the log as this ledger last saw it."""
        return self._book.position

    @property
    def log_head(self) -> str:
        return self._book.head

    # -- writing ----------------------------------------------------------------

    def append(self, event: EventInput) -> Outcome:
        """Append one event (a Struct from :mod:`supernova_ledger.events`, a dict, or JSON)."""
        return self.append_batch([event])[0]

    def append_batch(self, events: Sequence[EventInput], *, state: StateChanges | None = None) -> list[Outcome]:
        """Append events in order; one outcome per event, stored atomically together.

        Every rejection is also written to the rejection journal, and
        ``state`` (side state: key -> bytes, ``None`` deletes; see
        :meth:`read_state`) is stored in the same transaction as the batch."""
        if len(events) > MAX_BATCH:
            raise UsageError(f"events: at most {MAX_BATCH} per batch, got {len(events)}")
        self._ensure_open()
        decoded: list[Event | DecodeFailure] = []
        for item in events:
            try:
                decoded.append(coerce_event(item))
            except DecodeFailure as failure:
                failure.raw = item
                decoded.append(failure)
        for attempt in range(_MAX_ATTEMPTS):
            self._catch_up()
            with paused_gc(freeze=True):
                outcomes, records, journal = self._decide(decoded)
                rows, postings, changes = self._balance_rows(decoded, outcomes, records, state)
            try:
                if records or journal or changes:
                    self._store.append(records, journal, changes, rows, postings)
                if records:  # the tables' markers, if this batch wrote them, are stored now
                    self._balances_complete = True
                    self._postings_complete = self._postings_complete or records[0].position == 1
                return outcomes
            except ConcurrencyConflict:
                self._rebuild()
                time.sleep(random.uniform(0, min(_BACKOFF_MAX_S, _BACKOFF_FIRST_S * 2**attempt)))
                # Refold now, so the next attempt's look-decide-store window holds
                # only the few events stored meanwhile, not a replay of the log.
                self._catch_up()
            except BaseException:
                self._rebuild()
                raise
        raise ConcurrencyConflict(f"gave up after {_MAX_ATTEMPTS} attempts: other writers kept winning")

    def _balance_rows(
        self,
        decoded: list[Event | DecodeFailure],
        outcomes: list[Outcome],
        records: list[LogRecord],
        state: StateChanges | None,
    ) -> tuple[dict[str, bytes], list[tuple[str, int, bytes]], StateChanges | None]:
        """The per-promoter table rows to store with this batch (see :mod:`.balances`):
        balances, postings, and the side state with the tables' markers."""
        if not records:  # no records, no balance moved (and no conflict check to lean on)
            return {}, [], state
        book = self._book
        first = records[0].position
        changes: dict[str, bytes | None] = dict(state or {})
        if self._balances_complete is None or self._postings_complete is None:
            found = self._store.read_state([balances.COMPLETE_KEY, balances.POSTINGS_COMPLETE_KEY])
            self._balances_complete = balances.COMPLETE_KEY in found
            self._postings_complete = balances.POSTINGS_COMPLETE_KEY in found
        if self._balances_complete:
            rows = balances.rows_for(book, balances.touched(zip(decoded, outcomes)), self._table_key)
        else:  # the first batch of this store's table: a row for every promoter, and the marker
            rows = balances.rows_for(book, book.promoters, self._table_key)
            changes.update(balances.complete_marker(book.position))
        postings: list[tuple[str, int, bytes]] = []
        if self._postings_complete or first == 1:  # the postings table starts with the log or never
            postings = balances.posting_rows(first, outcomes, self._table_key)
            if not self._postings_complete:
                changes[balances.POSTINGS_COMPLETE_KEY] = b"1"
            if book.closed_through is not None and (first == 1 or _closes_a_period(decoded, outcomes)):
                changes[balances.CLOSED_THROUGH_KEY] = book.closed_through.encode("ascii")
        return rows, postings, changes or state

    def _decide(
        self, decoded: list[Event | DecodeFailure]
    ) -> tuple[list[Outcome], list[LogRecord], list[JournalEntry]]:
        book = self._book
        outcomes: list[Outcome] = []
        records: list[LogRecord] = []
        journal: list[JournalEntry] = []
        for item in decoded:
            if isinstance(item, DecodeFailure):
                outcome = Outcome("rejected", item.event_id, None, item.code, item.message)
                journal.append(_journal_entry(book.position, outcome, item.raw))
                outcomes.append(outcome)
                continue
            outcome, data = book.submit(item)
            outcomes.append(outcome)
            if data is not None:
                records.append(LogRecord(book.position, data, book.head))
            elif outcome.status == "rejected":
                journal.append(_journal_entry(book.position, outcome, item))
        return outcomes, records, journal

    # -- reading ----------------------------------------------------------------

    def report(self, period: str | None = None, top: int | None = None, until: int | None = None) -> Report:
        """The SPEC §8 report, with ``digest``; ``until`` = state after the first N events.

        A typed :class:`~supernova_ledger.results.Report`; ``to_json()`` is the
        SPEC JSON, and ``report["digest"]``-style access still works."""
        return Report.from_dict(with_digest(build_report(self._book_until(until), period, top)))

    def daily(self, until: int | None = None) -> list[DayFigures]:
        """Per local day, the orders placed in groups: what ``report(period=DAY)`` sums over its groups."""
        return [DayFigures.from_dict(day) for day in daily_gmv(self._book_until(until))]

    def _book_until(self, until: int | None) -> Book:
        self._ensure_open()
        self._catch_up()
        if until is not None and until < 0:
            raise UsageError(f"until: {until} must be at least 0")
        book = self._book
        if until is not None and until < book.position:
            book = Book()
            _fold(book, self._store.read(1, until))
        return book

    def rejections(
        self, code: str | None = None, promoter: str | None = None, group: str | None = None
    ) -> Iterator[JournalEntry]:
        """The rejection journal (SPEC §2.1), oldest first, filtered by code, promoter or group."""
        self._ensure_open()
        for _seq, entry in self._store.journal(code=code, promoter_id=promoter, group_id=group):
            yield entry

    def read_state(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Side state stored with earlier batches (see :meth:`append_batch`)."""
        self._ensure_open()
        return self._store.read_state(keys)

    def explain(self, promoter_id: str, period: str | None = None, until: int | None = None) -> Explanation:
        """SPEC §8.2: every posting of one promoter (booked in ``period``, if given), with its balances.

        Raises :class:`UsageError` (code ``unknown_promoter``) when the promoter
        has not joined within the events."""
        if until is None:  # the promoter's rows answer without a replay, when they are sound
            found = self._accounts_from_tables(promoter_id)
            if found is not None:
                view, postings = found
                return Explanation.from_dict(
                    with_digest(build_explain(balances.as_book(view), promoter_id, postings, period))
                )
        book, postings = self._postings_until(until, lambda p: p.promoter_id == promoter_id)
        return Explanation.from_dict(with_digest(build_explain(book, promoter_id, postings, period)))

    def statement(self, period: str, until: int | None = None, promoter: str | None = None) -> Statement:
        """SPEC §8.3: opening balances, movements and closing balances of ``period`` (``YYYY-MM``).

        ``promoter`` keeps one promoter (in ``promoters`` and ``totals``)."""
        if promoter is not None and until is None:
            found = self._accounts_from_tables(promoter)
            if found is not None:
                view, postings = found
                return Statement.from_dict(
                    with_digest(build_statement(balances.as_book(view), postings, period, promoter))
                )
        elif until is None:  # every promoter's rows, checked promoter by promoter, else a replay
            try:
                every = balances.all_accounts(self._store, self._table_key)
                if every is not None:
                    view, stream = every
                    return Statement.from_dict(with_digest(build_statement(balances.as_book(view), stream, period)))
            except (balances.Unsound, StoreError):
                pass
        book, postings = self._postings_until(
            until, None if promoter is None else (lambda p: p.promoter_id == promoter)
        )
        return Statement.from_dict(with_digest(build_statement(book, postings, period, promoter)))

    def latest_statement(self, until: int | None = None) -> Statement | None:
        """The statement of the latest month with a posting booked in it (None: no posting yet)."""
        book, postings = self._postings_until(until, None)
        if not postings:
            return None
        period = max(posting.book for posting in postings)
        return Statement.from_dict(with_digest(build_statement(book, postings, period)))

    def _accounts_from_tables(self, promoter_id: str) -> tuple[balances.BookView, list[Posting]] | None:
        """The log head, one promoter's balances and postings from the store's tables,
        or None when they cannot answer soundly (see :mod:`.balances`)."""
        self._ensure_open()
        try:
            return balances.promoter_accounts(self._store, promoter_id, self._table_key)
        except StoreError:  # e.g. a read-only store from before the tables: replay instead
            return None

    def _postings_until(
        self, until: int | None, keep: Callable[[Posting], bool] | None
    ) -> tuple[Book, list[Posting]]:
        """The state after the first ``until`` events (all: None) and the postings they made
        that ``keep`` selects, in log order: a replay from position 1 (the ledger's own
        state is not restored for it)."""
        self._ensure_open()
        if self._loaded is not None:  # the log's end: the ledger's own position, caught up
            self._catch_up()
            end = self._loaded.position
        else:  # or the store's head, without restoring the state
            end = self._store.head()[0]
        if until is not None and until < 0:
            raise UsageError(f"until: {until} must be at least 0")
        kept: list[Posting] = []

        def sink(postings: Sequence[Posting]) -> None:
            kept.extend(postings if keep is None else [p for p in postings if keep(p)])

        book = Book()
        stop = end if until is None else min(until, end)
        _fold(book, self._store.read(1, stop), sink)
        return book, kept

    def balance(self, promoter_id: str) -> Balances | None:
        """One promoter's six balances (typed; ``balance["available_fen"]`` works too), or None if it never joined.

        Before the state is restored (just after opening), the store's balances
        table answers if it can (see :mod:`.balances`): a few indexed reads
        instead of restoring and folding the whole state."""
        self._ensure_open()
        if self._loaded is None:
            try:
                found = balances.lookup(self._store, promoter_id, self._table_key)
            except StoreError:  # e.g. a read-only store from before the tables: fold instead
                found = balances.UNKNOWN
            if not isinstance(found, balances.Unknown):
                return None if found is None else Balances(**found)
        self._catch_up()
        promoter = self._book.promoters.get(promoter_id)
        return None if promoter is None else Balances(**promoter.balances())

    def export(self) -> Iterator[bytes]:
        """The log as canonical JSON Lines (each item without newline)."""
        self._ensure_open()
        return export_lines(self._store)

    def verify(self, expect: Sequence[ExpectedHead | str] = ()) -> Verification:
        """Replay the store from position 1 and check the hash chain and stored checkpoints (SPEC §9 verify).

        ``expect``: heads published earlier (``"HEAD"`` or ``"HEAD@POSITION"``);
        the log must still hold each, else verification fails (truncated or rewritten)."""
        self._ensure_open()
        wanted = [item if isinstance(item, ExpectedHead) else parse_expected_head(item) for item in expect]
        return verify(self._store, expect=wanted, key=self._key)

    # -- internals --------------------------------------------------------------

    def _ensure_open(self) -> None:
        if self._closed:
            raise UsageError("ledger: is closed")

    def _catch_up(self) -> None:
        book = self._book
        position, _head = self._store.head()
        if position > book.position:
            _fold(book, self._store.read(book.position + 1), freeze=True)

    def _rebuild(self) -> None:
        """Throw away decisions that were not stored; the next use restores and folds the store afresh."""
        self._loaded = None
        self._balances_complete = self._postings_complete = None  # another writer may have set them
        release_frozen()  # the dropped book was frozen (see paused_gc)

