"""Checkpoints of a :class:`Book`: the whole projected state as bytes, and back.

A checkpoint lets a ledger reopen without folding the whole log: restore the
state at position P, then fold the events after P. It is derived data, so it
is guarded, never trusted: :func:`seal` prefixes the payload with its format
and SHA-256, and :func:`unseal` refuses anything whose checksum, format or
shape is off (the caller then replays from position 1). The bytes are
deterministic: sets are written sorted.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
from typing import Any, Final

import msgspec

from ..rules import Rules, zone
from .book import Book, LocalDates
from .postings import check_identity, check_nonnegative
from .state import LINE_FORMAT, Group, Order, Payout, Promoter

__all__ = ["CHECKPOINT_FORMAT", "KEYED_CHECKPOINT_FORMAT", "CheckpointError", "snapshot", "restore", "seal", "unseal"]

#: @2: orders with packed lines and derived money, bindings by promoter (a checkpoint @1 is
#: ignored: the ledger replays the log and stores a new one).
CHECKPOINT_FORMAT: Final = b"supernova-ledger/checkpoint@2"
#: The format of a checkpoint sealed with a key (HMAC-SHA256 instead of SHA-256).
KEYED_CHECKPOINT_FORMAT: Final = b"supernova-ledger/checkpoint-hmac@2"
_SEP: Final = b"\n"
_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder()


class CheckpointError(Exception):
    """A checkpoint that cannot be used (corrupt, foreign format, wrong shape)."""


def snapshot(book: Book) -> bytes:
    """The state of ``book`` as msgpack bytes (deterministic for equal states)."""
    state = {
        "position": book.position,
        "head": book.head,
        "rules": book.rules.model_dump(),
        "ids": _ids_by_position(book),
        "digests": bytes(book._digests),
        "tier_groups": book.tier_groups,
        "closed_through": book.closed_through,
        "due": book._due,
        "bindings": [(c, *book.binding(c)) for c in book.bindings],  # type: ignore[misc]
        "promoters": [
            (p.promoter_id, p.program, p.inviter_id, p.city, p.city_tier, p.qualified, p.suspended, p.invitees,
             p.open_groups, p.pending_fen, p.available_fen, p.in_payout_fen, p.paid_out_fen, p.level1_fen,
             p.level2_fen, p.net_gmv_fen, p.orders)
            for p in book.promoters.values()
        ],
        "groups": [
            (g.group_id, g.owner_id, g.city, g.city_tier, g.open, sorted(g.members), g.pushes,
             sorted(g.pushes_by_day.items()), g.orders, sorted(g.buyers), g.gross_fen, g.refunded_fen)
            for g in book.groups.values()
        ],
        "orders": [
            (o.order_id, o.customer_id, o.group_id, o.l1, o.ben1, o.ben2, o.local_date, list(o.skus), o.packed,
             o.completed_us, o.settled)
            for o in book.orders.values()
        ],
        "payouts": [(p.payout_id, p.promoter_id, p.amount_fen, p.finished) for p in book.payouts.values()],
    }
    return _encoder.encode(state)


def _ids_by_position(book: Book) -> list[str]:
    ids = [""] * book.position
    for event_id, position in book._ids.items():
        ids[position - 1] = event_id
    return ids


def restore(data: bytes) -> Book:
    """Rebuild a :class:`Book` from :func:`snapshot` bytes. Raises :class:`CheckpointError`."""
    try:
        return _restore(_decoder.decode(data))
    except CheckpointError:
        raise
    except Exception as exc:  # any shape problem means: do not use this checkpoint
        raise CheckpointError(f"checkpoint: unreadable state ({type(exc).__name__}: {exc})") from None


def _restore(state: dict[str, Any]) -> Book:
    book = Book()
    book.position = state["position"]
    book.head = state["head"]
    book.rules = Rules.model_validate(state["rules"])
    book._dates = LocalDates(zone(book.rules.timezone))
    ids = state["ids"]
    if len(ids) != book.position or len(state["digests"]) != 16 * book.position:
        raise CheckpointError("checkpoint: id index does not match its position")
    book._ids = {event_id: position for position, event_id in enumerate(ids, start=1)}
    book._digests = bytearray(state["digests"])
    book.tier_groups = list(state["tier_groups"])
    closed = state.get("closed_through")  # absent from checkpoints written before PeriodClosed existed
    if closed is not None and not isinstance(closed, str):
        raise CheckpointError("checkpoint: closed_through is not a month")
    book.closed_through = closed
    # Ids are shared with the book's own keys, as the fold shares them (see state.Order).
    intern = sys.intern
    promoters = book.promoters
    for row in state["promoters"]:
        inviter = promoters[row[2]].promoter_id if row[2] is not None else None
        p = Promoter(row[0], row[1], inviter, row[3], row[4])
        (p.qualified, p.suspended, p.invitees, p.open_groups, p.pending_fen, p.available_fen, p.in_payout_fen,
         p.paid_out_fen, p.level1_fen, p.level2_fen, p.net_gmv_fen, p.orders) = row[5:]
        p.number = len(book.numbered)
        book.numbered.append(p)
        promoters[p.promoter_id] = p

    def promoter_key(promoter_id: str | None) -> str | None:
        return None if promoter_id is None else promoters[promoter_id].promoter_id

    for c, p_id, expiry in state["bindings"]:
        book.bind(intern(c), p_id, expiry)
    for row in state["groups"]:
        g = Group(row[0], promoter_key(row[1]) or "", row[2], row[3])
        g.open, g.members, g.pushes = row[4], dict.fromkeys([intern(c) for c in row[5]]), row[6]
        g.pushes_by_day = {intern(day): count for day, count in row[7]}
        g.orders, g.buyers, g.gross_fen, g.refunded_fen = row[8], dict.fromkeys([intern(c) for c in row[9]]), row[10], row[11]
        book.groups[g.group_id] = g
    groups = book.groups
    for row in state["orders"]:
        skus = tuple([intern(sku) for sku in row[7]])
        packed = row[8]
        if not isinstance(packed, bytes) or len(packed) != LINE_FORMAT.size * len(skus):
            raise CheckpointError(f"checkpoint: order {row[0]!r} has malformed lines")
        o = Order(
            row[0], intern(row[1]), None if row[2] is None else groups[row[2]].group_id, promoter_key(row[3]),
            promoter_key(row[4]), promoter_key(row[5]), intern(row[6]), skus, packed, row[9], row[10],
        )
        book.orders[o.order_id] = o
    book._due = [(completed, book.orders[order_id].order_id) for completed, order_id in state["due"]]
    for row in state["payouts"]:
        payout = Payout(row[0], row[1], row[2])
        payout.finished = row[3]
        book.payouts[payout.payout_id] = payout
    for promoter in book.promoters.values():
        check_identity(promoter, promoter.promoter_id)
        check_nonnegative(promoter, promoter.promoter_id)
    return book


def seal(payload: bytes, key: bytes | None = None) -> bytes:
    """``format \\n sha256-hex \\n payload``; with ``key``, an HMAC-SHA256 in a keyed format."""
    if key is None:
        return CHECKPOINT_FORMAT + _SEP + hashlib.sha256(payload).hexdigest().encode("ascii") + _SEP + payload
    return KEYED_CHECKPOINT_FORMAT + _SEP + _mac(key, payload) + _SEP + payload


def unseal(blob: bytes, key: bytes | None = None) -> bytes:
    """The payload of a sealed checkpoint; raises :class:`CheckpointError` when it is not intact.

    Without ``key`` only a plain seal is accepted; with it, only a seal made
    with that key (a plain one could have been made by anyone)."""
    parts = blob.split(_SEP, 2)
    if len(parts) != 3 or parts[0] not in (CHECKPOINT_FORMAT, KEYED_CHECKPOINT_FORMAT):
        raise CheckpointError("checkpoint: unknown format")
    if key is None:
        if parts[0] != CHECKPOINT_FORMAT:
            raise CheckpointError("checkpoint: sealed with a key, and no key is configured")
        if hashlib.sha256(parts[2]).hexdigest().encode("ascii") != parts[1]:
            raise CheckpointError("checkpoint: checksum mismatch (corrupt)")
        return parts[2]
    if parts[0] != KEYED_CHECKPOINT_FORMAT:
        raise CheckpointError("checkpoint: not sealed with the configured key")
    if not hmac.compare_digest(_mac(key, parts[2]), parts[1]):
        raise CheckpointError("checkpoint: keyed seal mismatch (corrupt, forged, or another key)")
    return parts[2]


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).hexdigest().encode("ascii")
