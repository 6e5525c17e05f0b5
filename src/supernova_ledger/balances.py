"""The per-promoter balances table: one promoter's balances after a reopen, without a restore.

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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import msgspec

from .domain.book import Book, Outcome
from .domain.state import BALANCE_FIELDS
from .store.base import LogStore

__all__ = ["COMPLETE_KEY", "BalanceRow", "rows_for", "touched", "lookup", "UNKNOWN"]

#: Side-state key: the balances table has a row for every promoter that joined
#: (value: the position at which it was completed, ASCII).
COMPLETE_KEY: Final = "supernova-ledger/balances-complete"


class BalanceRow(msgspec.Struct, frozen=True, array_like=True):
    position: int  #: the log position the balances stand at
    head: str  #: the log head at ``position``
    balances: tuple[int, int, int, int, int, int]  #: in ``BALANCE_FIELDS`` order


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(BalanceRow)


class _Unknown:
    """The table cannot answer: fold the log instead."""


UNKNOWN: Final = _Unknown()


def touched(decided: Iterable[tuple[object, Outcome]]) -> set[str]:
    """The promoters whose balances ``(event, outcome)`` pairs may have changed or created."""
    ids: set[str] = set()
    for event, outcome in decided:
        if outcome.status != "accepted":
            continue
        for posting in outcome.postings:
            ids.add(posting.promoter_id)
        promoter_id = getattr(event, "promoter_id", None)
        if isinstance(promoter_id, str):
            ids.add(promoter_id)
    return ids


def rows_for(book: Book, promoter_ids: Iterable[str]) -> dict[str, bytes]:
    """The table rows of those promoters that joined, as of ``book``'s position."""
    rows: dict[str, bytes] = {}
    promoters = book.promoters
    for promoter_id in promoter_ids:
        promoter = promoters.get(promoter_id)
        if promoter is not None:
            balances = tuple(getattr(promoter, name) for name in BALANCE_FIELDS)
            rows[promoter_id] = _encoder.encode(BalanceRow(book.position, book.head, balances))
    return rows


def lookup(store: LogStore, promoter_id: str) -> dict[str, int] | None | _Unknown:
    """One promoter's six balances from the table, None if it never joined, or
    :data:`UNKNOWN` when the table cannot say soundly."""
    if COMPLETE_KEY not in store.read_state([COMPLETE_KEY]):
        return UNKNOWN
    found = store.read_balances([promoter_id])
    if promoter_id not in found:
        return None
    try:
        row = _decoder.decode(found[promoter_id])
    except msgspec.DecodeError:
        return UNKNOWN
    record = store.record_at(row.position)
    if record is None or record.head != row.head:
        return UNKNOWN
    return dict(zip(BALANCE_FIELDS, row.balances))


def complete_marker(position: int) -> dict[str, bytes | None]:
    """The side state that declares the table complete at ``position``."""
    return {COMPLETE_KEY: b"%d" % position}


def decode_row(data: bytes) -> BalanceRow:
    return _decoder.decode(data)


def balances_of(row: BalanceRow) -> dict[str, int]:
    return dict(zip(BALANCE_FIELDS, row.balances))


def all_ids(book: Book) -> Sequence[str]:
    return sorted(book.promoters)
