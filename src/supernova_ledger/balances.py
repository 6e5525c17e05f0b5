"""Per-promoter tables: one promoter's balances, explain and statement without a restore.

With every batch of records the ledger upserts, in the same transaction, one
row per promoter whose balances the batch changed (every promoter named by a
posting of the batch, and every promoter that joined): ``promoter id ->
[position, log head, six balances]`` as of the batch's last record. Balances
change only through postings (SPEC §6.1), so a promoter's row is its balances
at the head of the log.

The table is *derived data*, like a checkpoint: verify and replay never read
it, and a reader uses a row only if it proves sound — it decodes, and its log
head equals the head the log itself stores at its position — else it folds
the log. It covers every promoter once the side-state key
:data:`COMPLETE_KEY` is set: the ledger writes it together with a row for
every promoter it knows, with its first batch onto a store without it (a new
store, a 0.1.0 store, a migrated copy). Before that, a promoter without a row
may still have joined, so the ledger folds the log to answer.

The postings table holds, per promoter and batch, the postings the fold made
(``Outcome.postings``, the one source of truth) as msgpack: explain and a
one-promoter statement read only that promoter's rows, a full statement every
promoter's, promoter by promoter. It covers a store only
if it was kept from the store's first batch on (:data:`POSTINGS_COMPLETE_KEY`,
set with position 1; stores begun without it answer by replay). Its rows are
used only if their sum equals the promoter's balances row (itself checked
against the log head), and the latest closed month comes from side state
(:data:`CLOSED_THROUGH_KEY`), kept with every batch that closes a period.

When the ledger has a checkpoint key (``Ledger._key``), every row carries an
HMAC-SHA256 under it (:func:`seal_row`), so rows cannot be forged without the
key, like keyed checkpoints; rows without a valid HMAC are not used.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

import msgspec

from .domain.book import Book, Outcome
from .domain.postings import Posting, sum_postings
from .domain.state import BALANCE_FIELDS
from .errors import SupernovaError
from .events import PromoterJoined
from .store.base import LogStore

__all__ = [
    "COMPLETE_KEY",
    "POSTINGS_COMPLETE_KEY",
    "CLOSED_THROUGH_KEY",
    "BalanceRow",
    "BookView",
    "rows_for",
    "posting_rows",
    "promoter_accounts",
    "all_accounts",
    "Unsound",
    "touched",
    "lookup",
    "UNKNOWN",
    "Unknown",
]

#: Side-state key: the balances table has a row for every promoter that joined
#: (value: the position at which it was completed, ASCII).
COMPLETE_KEY: Final = "supernova-ledger/balances-complete"
#: Side-state key: the postings table holds every posting since position 1.
POSTINGS_COMPLETE_KEY: Final = "supernova-ledger/postings-complete"
#: Side-state key: the latest closed month (``YYYY-MM``), when the postings table is kept.
CLOSED_THROUGH_KEY: Final = "supernova-ledger/closed-through"


class BalanceRow(msgspec.Struct, frozen=True, array_like=True):
    position: int  #: the log position the balances stand at
    head: str  #: the log head at ``position``
    balances: tuple[int, int, int, int, int, int]  #: in ``BALANCE_FIELDS`` order


_MAC_BYTES: Final = 32


def seal_row(key: bytes | None, table: str, promoter_id: str, position: int, data: bytes) -> bytes:
    """``data``, followed by its HMAC-SHA256 under ``key`` when the ledger has one (the
    checkpoint key): then a row cannot be forged or moved without the key."""
    if key is None:
        return data
    message = b"\0".join((table.encode(), promoter_id.encode("utf-8", "surrogatepass"), b"%d" % position, data))
    return data + hmac.new(key, message, hashlib.sha256).digest()


def unseal_row(key: bytes | None, table: str, promoter_id: str, position: int, value: bytes) -> bytes | None:
    """The row's data, or None when its HMAC (required under a key) does not hold."""
    if key is None:
        return value
    data = value[:-_MAC_BYTES]
    if len(value) <= _MAC_BYTES or not hmac.compare_digest(seal_row(key, table, promoter_id, position, data), value):
        return None
    return data


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(BalanceRow)
_postings_decoder: Final = msgspec.msgpack.Decoder(list[Posting])


class Unknown:
    """The table cannot answer: fold the log instead."""


UNKNOWN: Final = Unknown()


def touched(decided: Iterable[tuple[object, Outcome]]) -> set[str]:
    """The promoters whose balances ``(event, outcome)`` pairs may have changed or created:
    those named by a posting (only accepted events post), and those that joined."""
    ids: set[str] = set()
    for event, outcome in decided:
        postings = outcome.postings
        if postings:
            ids.update([posting.promoter_id for posting in postings])
        if type(event) is PromoterJoined and outcome.status == "accepted":
            ids.add(event.promoter_id)
    return ids


def posting_rows(
    position: int, decided: Iterable[Outcome], key: bytes | None = None
) -> list[tuple[str, int, bytes]]:
    """One row per promoter with the postings the batch starting at ``position`` made for it, in order."""
    grouped: dict[str, list[Posting]] = {}
    for outcome in decided:
        for posting in outcome.postings:
            grouped.setdefault(posting.promoter_id, []).append(posting)
    return [
        (promoter_id, position, seal_row(key, "postings", promoter_id, position, _encoder.encode(postings)))
        for promoter_id, postings in sorted(grouped.items())
    ]


class _PromoterView:
    """What the SPEC §8.2/8.3 builders read of a promoter: its six balances."""

    def __init__(self, balances: dict[str, int]) -> None:
        self._balances = balances

    def balances(self) -> dict[str, int]:
        return dict(self._balances)


class BookView:
    """What the SPEC §8.2/8.3 builders read of a book, from the store's tables."""

    def __init__(self, position: int, head: str, promoters: dict[str, _PromoterView], closed_through: str | None):
        self.position = position
        self.head = head
        self.promoters = promoters
        self.closed_through = closed_through


def _tables_state(store: LogStore) -> str | None | Unknown:
    """The latest closed month, when both tables are complete; else :data:`UNKNOWN`."""
    state = store.read_state([COMPLETE_KEY, POSTINGS_COMPLETE_KEY, CLOSED_THROUGH_KEY])
    if COMPLETE_KEY not in state or POSTINGS_COMPLETE_KEY not in state:
        return UNKNOWN
    closed = state.get(CLOSED_THROUGH_KEY)
    return closed.decode("ascii") if closed else None


def _promoter_postings(
    store: LogStore, promoter_id: str, until: int, balances: dict[str, int], key: bytes | None
) -> list[Posting] | None:
    """The promoter's postings up to position ``until``, or None unless they are sound:
    every row readable (and sealed, under a key), every posting the promoter's and at
    most ``until``, and together adding up to exactly ``balances`` (a row proven
    against the log head)."""
    postings: list[Posting] = []
    try:
        for row_position, value in store.read_postings(promoter_id, until=until):
            data = unseal_row(key, "postings", promoter_id, row_position, value)
            if data is None:
                return None
            postings.extend(_postings_decoder.decode(data))
        if any(p.promoter_id != promoter_id or p.position > until for p in postings):
            return None
        if sum_postings(postings).as_dict() != balances:
            return None
    except (msgspec.DecodeError, SupernovaError):  # unreadable rows, or postings that break an invariant
        return None
    return postings


def promoter_accounts(
    store: LogStore, promoter_id: str, key: bytes | None = None
) -> tuple[BookView, list[Posting]] | None:
    """The log's head, the promoter's balances and every posting of it, from the tables
    (None when they cannot answer soundly: the caller replays the log).

    Sound means: both tables complete, the balances row at a head the log stores,
    and the postings (up to the log's head) adding up to exactly those balances."""
    closed_through = _tables_state(store)
    if isinstance(closed_through, Unknown):
        return None
    position, head = store.head()
    found = lookup(store, promoter_id, key)
    if isinstance(found, Unknown):
        return None
    if found is None:
        return BookView(position, head, {}, closed_through), []
    postings = _promoter_postings(store, promoter_id, position, found, key)
    if postings is None:
        return None
    return BookView(position, head, {promoter_id: _PromoterView(found)}, closed_through), postings


class Unsound(Exception):
    """Raised by :func:`all_accounts`' postings when a row proves unsound: replay instead."""


def all_accounts(store: LogStore, key: bytes | None = None) -> tuple[BookView, Iterator[Posting]] | None:
    """The log's head and every promoter's postings, from the tables (None when they are
    not complete: the caller replays the log).

    The postings come promoter by promoter, each promoter's in log order, each
    promoter's checked as :func:`promoter_accounts` checks one before any of
    them is given out; a promoter that fails raises :class:`Unsound` (the
    caller then replays). At most one promoter's postings are held at a time."""
    closed_through = _tables_state(store)
    if isinstance(closed_through, Unknown):
        return None
    position, head = store.head()
    return BookView(position, head, {}, closed_through), _checked_postings(store, position, head, key)


def _checked_postings(store: LogStore, position: int, head: str, key: bytes | None) -> Iterator[Posting]:
    heads: dict[int, str | None] = {position: head}  # at most one per balances row
    for promoter_id, value in store.balance_items():
        row = _proven_row(store, promoter_id, value, key, heads)
        if row is None or row.position > position:  # unsound, or a writer moved it on meanwhile
            raise Unsound(f"promoter {promoter_id!r}: balances row")
        postings = _promoter_postings(store, promoter_id, position, balances_of(row), key)
        if postings is None:
            raise Unsound(f"promoter {promoter_id!r}: postings rows")
        yield from postings


def _proven_row(
    store: LogStore, promoter_id: str, value: bytes, key: bytes | None, heads: dict[int, str | None]
) -> BalanceRow | None:
    """The decoded balances row if it is sealed (under a key) and stands at a head
    the log stores (``heads`` caches the log's heads by position); else None."""
    data = unseal_row(key, "balances", promoter_id, 0, value)
    if data is None:
        return None
    try:
        row = _decoder.decode(data)
    except msgspec.DecodeError:
        return None
    if row.position not in heads:
        heads[row.position] = store.head_at(row.position)
    return row if heads[row.position] == row.head else None


def as_book(view: BookView) -> Any:
    """``view`` where the builders expect a :class:`Book` (they read only what it has)."""
    return view


def rows_for(book: Book, promoter_ids: Iterable[str], key: bytes | None = None) -> dict[str, bytes]:
    """The table rows of those promoters that joined, as of ``book``'s position."""
    rows: dict[str, bytes] = {}
    promoters = book.promoters
    for promoter_id in promoter_ids:
        promoter = promoters.get(promoter_id)
        if promoter is not None:
            balances = tuple(getattr(promoter, name) for name in BALANCE_FIELDS)
            data = _encoder.encode(BalanceRow(book.position, book.head, balances))
            rows[promoter_id] = seal_row(key, "balances", promoter_id, 0, data)
    return rows


def lookup(store: LogStore, promoter_id: str, key: bytes | None = None) -> dict[str, int] | None | Unknown:
    """One promoter's six balances from the table, None if it never joined, or
    :data:`UNKNOWN` when the table cannot say soundly (under a key: also when the
    row's HMAC does not hold)."""
    if COMPLETE_KEY not in store.read_state([COMPLETE_KEY]):
        return UNKNOWN
    found = store.read_balances([promoter_id])
    if promoter_id not in found:
        return None
    row = _proven_row(store, promoter_id, found[promoter_id], key, {})
    return UNKNOWN if row is None else balances_of(row)


def complete_marker(position: int) -> dict[str, bytes | None]:
    """The side state that declares the table complete at ``position``."""
    return {COMPLETE_KEY: b"%d" % position}


def decode_row(data: bytes) -> BalanceRow:
    return _decoder.decode(data)


def balances_of(row: BalanceRow) -> dict[str, int]:
    return dict(zip(BALANCE_FIELDS, row.balances))


def all_ids(book: Book) -> Sequence[str]:
    return sorted(book.promoters)
