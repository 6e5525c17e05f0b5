"""Write-time decisions: what the fold decided for one accepted event, as postings and keyed facts.

The fold (:class:`~supernova_ledger.domain.book.Book`) is sequential: who
earns on an order depends on bindings, suspensions and rules in force, and a
settlement depends on every completion before it. It says what it decided:
the event's *postings* (SPEC §6.1, :class:`~supernova_ledger.domain.postings.Posting`),
the one record of every fen that moved. Nothing here recomputes a
commission, a clawback or a settlement: a :class:`Decision` carries the
postings the fold returned, plus the group and ranking *facts* of the event,
and every figure of the SPEC §8 report is an order-independent merge by key
of the two:

==================  ====================================  ==========================================
fact                key (owner)                           merges by
==================  ====================================  ==========================================
``Posting``         promoter                              applied to its six balances (sum)
``PromoterFact``    promoter                              set once (from ``PromoterJoined``)
``InviteFact``      promoter (the inviter)                count (invitees)
``FlagFact``        promoter, flag                        the value at the highest position wins
``GroupFact``       group                                 set once (from ``GroupOpened``)
``GroupDeltaFact``  group                                 sum (closed, members, pushes)
``GroupDayFact``    group, local date of the order        sum (orders, gross, refunded)
``BuyerFact``       group, local date, customer           distinct
``RankFact``        promoter (level 1), local date        sum (orders, net GMV)
==================  ====================================  ==========================================

The group and ranking facts read, from the book after the event, what the
fold decided about an order (its attributed level-1 promoter, its group and
local date: :class:`~supernova_ledger.domain.state.Order`), never deciding it
again. Decisions are derived data: :class:`Decider` recomputes them from the
log, and ``verify_decisions`` checks stored ones.

Every fact is owned by exactly one key string (:func:`owner_key`):
``promoter:<id>`` or ``group:<id>``; a shard of ``N`` owns the keys with
``zlib.crc32(key) % N == index`` (:func:`shard_of`). Tiers need no facts: a
group's tier is fixed when it opens, so tier figures are sums over groups.

Nothing here does I/O.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, Literal, TypeAlias

import msgspec
from msgspec import Struct

from ..domain.book import Book
from ..domain.postings import Posting
from ..errors import CorruptLog
from ..events import DecodeFailure, Event, decode_event
from ..store.base import LogRecord

__all__ = [
    "DECISION_FORMAT",
    "PromoterFact",
    "InviteFact",
    "FlagFact",
    "GroupFact",
    "GroupDeltaFact",
    "GroupDayFact",
    "BuyerFact",
    "RankFact",
    "Decision",
    "Fact",
    "Decider",
    "decision_for",
    "facts_of",
    "key_hashes",
    "owner_key",
    "shard_of",
    "encode_decision",
    "decode_decision",
]

#: Version of the stored decision encoding; a new encoding gets a new name.
#: ``@2``: the event's postings replace v1's balance moves and order detail.
DECISION_FORMAT: Final = "supernova-ledger/decision@2"

Flag = Literal["qualified", "suspended"]


class _Fact(Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Facts encode as JSON arrays: they are many, and their fields are fixed."""


class PromoterFact(_Fact, frozen=True):
    promoter_id: str
    program: str
    inviter_id: str | None


class InviteFact(_Fact, frozen=True):
    """``promoter_id`` invited one more promoter."""

    promoter_id: str


class FlagFact(_Fact, frozen=True):
    promoter_id: str
    flag: Flag
    value: bool


class GroupFact(_Fact, frozen=True):
    group_id: str
    owner_id: str
    city_tier: int


class GroupDeltaFact(_Fact, frozen=True):
    group_id: str
    closed: int = 0
    members: int = 0
    pushes: int = 0


class GroupDayFact(_Fact, frozen=True):
    group_id: str
    local_date: str
    orders: int
    gross_fen: int
    refunded_fen: int


class BuyerFact(_Fact, frozen=True):
    group_id: str
    local_date: str
    customer_id: str


class RankFact(_Fact, frozen=True):
    promoter_id: str
    local_date: str
    orders: int
    net_gmv_fen: int


Fact: TypeAlias = (
    Posting | PromoterFact | InviteFact | FlagFact | GroupFact | GroupDeltaFact | GroupDayFact | BuyerFact
    | RankFact
)


class Decision(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the fold decided for the accepted event at ``position``."""

    position: int
    head: str  #: log head after the event
    event_id: str
    type: str
    #: The money the event moved, as the fold posted it (SPEC §6.1 order).
    postings: tuple[Posting, ...] = ()
    promoters: tuple[PromoterFact, ...] = ()
    invites: tuple[InviteFact, ...] = ()
    flags: tuple[FlagFact, ...] = ()
    groups: tuple[GroupFact, ...] = ()
    group_deltas: tuple[GroupDeltaFact, ...] = ()
    group_days: tuple[GroupDayFact, ...] = ()
    buyers: tuple[BuyerFact, ...] = ()
    ranks: tuple[RankFact, ...] = ()


_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(Decision)


def encode_decision(decision: Decision) -> bytes:
    """Compact, deterministic JSON (fields in declaration order)."""
    return _encoder.encode(decision)


def decode_decision(data: bytes) -> Decision:
    return _decoder.decode(data)


# -- keys and shards ---------------------------------------------------------------------


def owner_key(fact: Fact) -> str:
    """The one key that owns a fact: ``promoter:<id>`` or ``group:<id>``."""
    if isinstance(fact, (Posting, PromoterFact, InviteFact, FlagFact, RankFact)):
        return "promoter:" + fact.promoter_id
    return "group:" + fact.group_id


def shard_of(key: str, shards: int) -> int:
    """The shard of ``shards`` that owns ``key``."""
    return zlib.crc32(key.encode("utf-8")) % shards


def key_hashes(decision: Decision) -> tuple[int, ...]:
    """``crc32`` of every key owning a fact of ``decision``, distinct and sorted.

    Stored with a decision so that a shard can select its share on the
    server: shard ``i`` of ``N`` needs the decisions with a hash ``h``, ``h % N == i``."""
    return tuple(sorted({zlib.crc32(owner_key(fact).encode("utf-8")) for fact in facts_of(decision)}))


def facts_of(decision: Decision, *, postings: bool = True) -> Iterator[Fact]:
    """Every keyed fact of a decision, postings first (``postings=False``: all but the postings)."""
    if postings:
        yield from decision.postings
    yield from decision.promoters
    yield from decision.invites
    yield from decision.flags
    yield from decision.groups
    yield from decision.group_deltas
    yield from decision.group_days
    yield from decision.buyers
    yield from decision.ranks


# -- the facts of an accepted event ----------------------------------------------------------

_Facts = Callable[[Book, Any], dict[str, Any]]


def _joined(book: Book, event: Any) -> dict[str, Any]:
    return {
        "promoters": (PromoterFact(event.promoter_id, event.program, event.inviter_id),),
        "invites": () if event.inviter_id is None else (InviteFact(event.inviter_id),),
    }


def _flag(flag: Flag, value: bool) -> _Facts:
    return lambda book, event: {"flags": (FlagFact(event.promoter_id, flag, value),)}


def _group_delta(**moves: int) -> _Facts:
    return lambda book, event: {"group_deltas": (GroupDeltaFact(event.group_id, **moves),)}


def _placed(book: Book, event: Any) -> dict[str, Any]:
    """GMV facts of an order, as the fold attributed and dated it."""
    order = book.orders[event.order_id]
    day, group_id = order.local_date, order.group_id
    return {
        "group_days": () if group_id is None else (GroupDayFact(group_id, day, 1, order.paid_fen, 0),),
        "buyers": () if group_id is None else (BuyerFact(group_id, day, order.customer_id),),
        "ranks": () if order.l1 is None else (RankFact(order.l1, day, 1, order.paid_fen),),
    }


def _refunded(book: Book, event: Any) -> dict[str, Any]:
    """GMV facts of a refund: they count in the order's period, to its group and level-1 promoter."""
    order = book.orders[event.order_id]
    day, group_id = order.local_date, order.group_id
    refunded_fen = sum(line.amount_fen for line in event.lines)
    return {
        "group_days": () if group_id is None else (GroupDayFact(group_id, day, 0, 0, refunded_fen),),
        "ranks": () if order.l1 is None else (RankFact(order.l1, day, 0, -refunded_fen),),
    }


#: Event type name -> its facts, read from the book after it. Types not listed have
#: none (their postings, if any, say everything: settlements, payouts, rules, closings).
_FACTS: Final[dict[str, _Facts]] = {
    "PromoterJoined": _joined,
    "PromoterQualified": _flag("qualified", True),
    "PromoterSuspended": _flag("suspended", True),
    "PromoterReinstated": _flag("suspended", False),
    "GroupOpened": lambda book, event: {"groups": (GroupFact(event.group_id, event.owner_id, event.city_tier),)},
    "GroupClosed": _group_delta(closed=1),
    "MemberJoined": _group_delta(members=1),
    "MemberLeft": _group_delta(members=-1),
    "ProductPushed": _group_delta(pushes=1),
    "OrderPlaced": _placed,
    "OrderRefunded": _refunded,
}


def decision_for(book: Book, event: Event, postings: Sequence[Posting] = ()) -> Decision:
    """The decision for ``event``, which ``book`` has just accepted with ``postings``
    (``Outcome.postings`` of ``Book.submit``, or what ``Book.replay`` returned)."""
    name = type(event).__name__
    facts = _FACTS.get(name)
    return Decision(
        position=book.position, head=book.head, event_id=event.id, type=name, postings=tuple(postings),
        **({} if facts is None else facts(book, event)),
    )


class Decider:
    """Folds a log in order and gives each event's :class:`Decision`."""

    def __init__(self) -> None:
        self.book = Book()

    @property
    def position(self) -> int:
        return self.book.position

    def replay(self, record: LogRecord) -> Decision:
        """Fold one stored record; raises :class:`CorruptLog` if it does not replay as stored."""
        if record.position != self.book.position + 1:
            raise CorruptLog(f"position {self.book.position + 1}: missing (found {record.position})")
        try:
            event = decode_event(record.event)
        except DecodeFailure as exc:
            raise CorruptLog(f"position {record.position}: stored event does not decode: {exc.message}") from None
        postings = self.book.replay(event, record.event)
        if self.book.head != record.head:
            raise CorruptLog(f"position {record.position}: stored log head differs from the recomputed chain")
        return decision_for(self.book, event, postings)
