"""Write-time decisions: what the fold decided for one accepted event, as keyed facts.

The fold (:class:`~supernova_ledger.domain.book.Book`) is sequential: who
earns on an order depends on bindings, suspensions and rules in force, and a
settlement depends on every completion before it. Once the fold has decided,
though, every figure of the SPEC §8 report is an order-independent sum by key
of small *facts*:

==================  ====================================  ==========================================
fact                key (owner)                           merges by
==================  ====================================  ==========================================
``PromoterFact``    promoter                              set once (from ``PromoterJoined``)
``FlagFact``        promoter, flag                        the value at the highest position wins
``BalanceFact``     promoter                              sum (invitees and the six balances)
``GroupFact``       group                                 set once (from ``GroupOpened``)
``GroupDeltaFact``  group                                 sum (closed, members, pushes)
``GroupDayFact``    group, local date of the order        sum (orders, gross, refunded)
``BuyerFact``       group, local date, customer           distinct
``RankFact``        promoter (level 1), local date        sum (orders, net GMV)
==================  ====================================  ==========================================

A :class:`Decision` carries them, plus the audit detail of an order or refund
(the level-1 and level-2 beneficiaries and each line's commission change) and
the orders a settlement settled. It is derived data: :class:`Decider`
recomputes it from the log, and ``verify_decisions`` checks stored ones.

Every fact is owned by exactly one key string (:func:`owner_key`):
``promoter:<id>`` or ``group:<id>``; a shard of ``N`` owns the keys with
``zlib.crc32(key) % N == index`` (:func:`shard_of`). Tiers need no facts: a
group's tier is fixed when it opens, so tier figures are sums over groups.

Nothing here does I/O; :func:`decision_for` reads the book *after* the event.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, Literal, TypeAlias

import msgspec
from msgspec import Struct
from msgspec.structs import replace

from ..domain.book import Book
from ..domain.state import LINE_PAID, LINE_RATE1, LINE_RATE2, LINE_REFUNDED, Order
from ..errors import CorruptLog, invariant
from ..events import (
    DecodeFailure,
    Event,
    GroupClosed,
    GroupOpened,
    MemberJoined,
    MemberLeft,
    OrderCompleted,
    OrderPlaced,
    OrderRefunded,
    PayoutFailed,
    PayoutRequested,
    PayoutSettled,
    ProductPushed,
    PromoterJoined,
    PromoterQualified,
    PromoterReinstated,
    PromoterSuspended,
    RulesAdopted,
    SettlementRun,
    decode_event,
)
from ..store.base import LogRecord

__all__ = [
    "DECISION_FORMAT",
    "PromoterFact",
    "FlagFact",
    "BalanceFact",
    "GroupFact",
    "GroupDeltaFact",
    "GroupDayFact",
    "BuyerFact",
    "RankFact",
    "LineChange",
    "OrderChange",
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
DECISION_FORMAT: Final = "supernova-ledger/decision@1"

Flag = Literal["qualified", "suspended"]


class _Fact(Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Facts encode as JSON arrays: they are many, and their fields are fixed."""


class PromoterFact(_Fact, frozen=True):
    promoter_id: str
    program: str
    inviter_id: str | None


class FlagFact(_Fact, frozen=True):
    promoter_id: str
    flag: Flag
    value: bool


class BalanceFact(_Fact, frozen=True):
    promoter_id: str
    invitees: int = 0
    pending_fen: int = 0
    available_fen: int = 0
    in_payout_fen: int = 0
    paid_out_fen: int = 0
    level1_fen: int = 0
    level2_fen: int = 0


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


class LineChange(_Fact, frozen=True):
    """How one order line changed each level's commission (negative for a refund)."""

    sku: str
    level1_fen: int
    level2_fen: int


class OrderChange(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The audit detail of an ``OrderPlaced`` or ``OrderRefunded``."""

    order_id: str
    customer_id: str
    group_id: str | None
    local_date: str  #: in the zone in force when the order was accepted
    l1: str | None  #: attributed level-1 promoter (GMV, ranking)
    ben1: str | None  #: who earns level-1 commission (None: nobody)
    ben2: str | None  #: who earns level-2 commission (None: nobody)
    settled: bool  #: whether the order was settled when this happened
    lines: tuple[LineChange, ...]


Fact: TypeAlias = (
    PromoterFact | FlagFact | BalanceFact | GroupFact | GroupDeltaFact | GroupDayFact | BuyerFact | RankFact
)


class Decision(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the fold decided for the accepted event at ``position``."""

    position: int
    head: str  #: log head after the event
    event_id: str
    type: str
    order: OrderChange | None = None
    settled_orders: tuple[str, ...] = ()  #: SettlementRun: in (completed at, order id) order
    promoters: tuple[PromoterFact, ...] = ()
    flags: tuple[FlagFact, ...] = ()
    balances: tuple[BalanceFact, ...] = ()
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
    if isinstance(fact, (PromoterFact, FlagFact, BalanceFact, RankFact)):
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


def facts_of(decision: Decision) -> Iterator[Fact]:
    """Every keyed fact of a decision."""
    yield from decision.promoters
    yield from decision.flags
    yield from decision.balances
    yield from decision.groups
    yield from decision.group_deltas
    yield from decision.group_days
    yield from decision.buyers
    yield from decision.ranks


# -- deriving decisions --------------------------------------------------------------------


class _Balances:
    """Balance moves of one event, summed per promoter (zero rows dropped)."""

    _INDEX: Final = {name: index for index, name in enumerate((
        "invitees", "pending_fen", "available_fen", "in_payout_fen", "paid_out_fen", "level1_fen", "level2_fen",
    ))}

    def __init__(self) -> None:
        self._moves: dict[str, list[int]] = {}

    def add(self, promoter_id: str, **amounts: int) -> None:
        row = self._moves.get(promoter_id)
        if row is None:
            row = self._moves[promoter_id] = [0, 0, 0, 0, 0, 0, 0]
        for name, amount in amounts.items():
            row[self._INDEX[name]] += amount

    def facts(self) -> tuple[BalanceFact, ...]:
        return tuple(
            BalanceFact(promoter_id, *row) for promoter_id, row in self._moves.items() if any(row)
        )


def _order_change(order: Order, lines: Sequence[LineChange]) -> OrderChange:
    return OrderChange(
        order_id=order.order_id, customer_id=order.customer_id, group_id=order.group_id,
        local_date=order.local_date, l1=order.l1, ben1=order.ben1, ben2=order.ben2,
        settled=order.settled, lines=tuple(lines),
    )


def _line(order: Order, sku: str) -> list[int]:
    line = order.line(sku)
    if line is None:  # pragma: no cover - the refund was just accepted
        raise KeyError(sku)
    return line


def _placed(book: Book, event: OrderPlaced, base: Decision) -> Decision:
    order = book.orders[event.order_id]
    lines: list[LineChange] = []
    for line in event.lines:
        stored = _line(order, line.sku)
        lines.append(LineChange(
            line.sku,
            stored[LINE_PAID] * stored[LINE_RATE1] // 10_000 if order.ben1 is not None else 0,
            stored[LINE_PAID] * stored[LINE_RATE2] // 10_000 if order.ben2 is not None else 0,
        ))
    comm1 = sum(change.level1_fen for change in lines)
    comm2 = sum(change.level2_fen for change in lines)
    invariant(
        comm1 == order.comm1_fen and comm2 == order.comm2_fen,
        f"order {order.order_id!r}: line commissions do not sum to the order's",
    )
    balances = _Balances()
    if order.ben1 is not None:
        balances.add(order.ben1, pending_fen=comm1, level1_fen=comm1)
    if order.ben2 is not None:
        balances.add(order.ben2, pending_fen=comm2, level2_fen=comm2)
    day = order.local_date
    return replace(
        base,
        order=_order_change(order, lines),
        balances=balances.facts(),
        group_days=() if order.group_id is None else (GroupDayFact(order.group_id, day, 1, order.paid_fen, 0),),
        buyers=() if order.group_id is None else (BuyerFact(order.group_id, day, order.customer_id),),
        ranks=() if order.l1 is None else (RankFact(order.l1, day, 1, order.paid_fen),),
    )


def _refunded(book: Book, event: OrderRefunded, base: Decision) -> Decision:
    order = book.orders[event.order_id]
    lines: list[LineChange] = []
    refunded_fen = 0
    for refund in event.lines:
        paid, refunded, rate1, rate2 = (_line(order, refund.sku)[i] for i in (LINE_PAID, LINE_REFUNDED, LINE_RATE1, LINE_RATE2))
        after = paid - refunded
        before = after + refund.amount_fen
        refunded_fen += refund.amount_fen
        lines.append(LineChange(
            refund.sku,
            after * rate1 // 10_000 - before * rate1 // 10_000 if order.ben1 is not None else 0,
            after * rate2 // 10_000 - before * rate2 // 10_000 if order.ben2 is not None else 0,
        ))
    drop1 = -sum(change.level1_fen for change in lines)
    drop2 = -sum(change.level2_fen for change in lines)
    held = "available_fen" if order.settled else "pending_fen"
    balances = _Balances()
    if order.ben1 is not None:
        balances.add(order.ben1, level1_fen=-drop1, **{held: -drop1})
    if order.ben2 is not None:
        balances.add(order.ben2, level2_fen=-drop2, **{held: -drop2})
    day = order.local_date
    return replace(
        base,
        order=_order_change(order, lines),
        balances=balances.facts(),
        group_days=() if order.group_id is None else (GroupDayFact(order.group_id, day, 0, 0, refunded_fen),),
        ranks=() if order.l1 is None else (RankFact(order.l1, day, 0, -refunded_fen),),
    )


def _settled(book: Book, settled: Sequence[str], base: Decision) -> Decision:
    balances = _Balances()
    for order_id in settled:
        order = book.orders[order_id]
        invariant(order.settled, f"order {order_id!r}: listed as settled but is not")
        if order.ben1 is not None:
            balances.add(order.ben1, pending_fen=-order.comm1_fen, available_fen=order.comm1_fen)
        if order.ben2 is not None:
            balances.add(order.ben2, pending_fen=-order.comm2_fen, available_fen=order.comm2_fen)
    return replace(base, settled_orders=tuple(settled), balances=balances.facts())


def _payout(book: Book, payout_id: str, base: Decision, *, available: int, in_payout: int,
            paid_out: int) -> Decision:
    payout = book.payouts[payout_id]
    amount = payout.amount_fen
    balances = _Balances()
    balances.add(payout.promoter_id, available_fen=available * amount, in_payout_fen=in_payout * amount,
                 paid_out_fen=paid_out * amount)
    return replace(base, balances=balances.facts())


def _flags(flag: Flag, value: bool) -> Callable[[Book, Any, Decision, Sequence[str]], Decision]:
    return lambda book, event, base, settled: replace(base, flags=(FlagFact(event.promoter_id, flag, value),))


def _group_delta(**moves: int) -> Callable[[Book, Any, Decision, Sequence[str]], Decision]:
    return lambda book, event, base, settled: replace(base, group_deltas=(GroupDeltaFact(event.group_id, **moves),))


def _joined(book: Book, event: PromoterJoined, base: Decision, settled: Sequence[str]) -> Decision:
    return replace(
        base,
        promoters=(PromoterFact(event.promoter_id, event.program, event.inviter_id),),
        balances=() if event.inviter_id is None else (BalanceFact(event.inviter_id, invitees=1),),
    )


#: Event type -> how its decision is read from the book after it.
_DECIDE: Final[dict[type, Callable[[Book, Any, Decision, Sequence[str]], Decision]]] = {
    OrderPlaced: lambda book, event, base, settled: _placed(book, event, base),
    OrderRefunded: lambda book, event, base, settled: _refunded(book, event, base),
    SettlementRun: lambda book, event, base, settled: _settled(book, settled, base),
    PayoutRequested: lambda book, event, base, settled: _payout(
        book, event.payout_id, base, available=-1, in_payout=1, paid_out=0),
    PayoutSettled: lambda book, event, base, settled: _payout(
        book, event.payout_id, base, available=0, in_payout=-1, paid_out=1),
    PayoutFailed: lambda book, event, base, settled: _payout(
        book, event.payout_id, base, available=1, in_payout=-1, paid_out=0),
    PromoterJoined: _joined,
    PromoterQualified: _flags("qualified", True),
    PromoterSuspended: _flags("suspended", True),
    PromoterReinstated: _flags("suspended", False),
    GroupOpened: lambda book, event, base, settled: replace(
        base, groups=(GroupFact(event.group_id, event.owner_id, event.city_tier),)),
    GroupClosed: _group_delta(closed=1),
    MemberJoined: _group_delta(members=1),
    MemberLeft: _group_delta(members=-1),
    ProductPushed: _group_delta(pushes=1),
    # RulesAdopted, OrderCompleted: nothing the report sums.
    RulesAdopted: lambda book, event, base, settled: base,
    OrderCompleted: lambda book, event, base, settled: base,
}


def decision_for(book: Book, event: Event, settled: Sequence[str] = ()) -> Decision:
    """The decision for ``event``, read from ``book`` right after it accepted the event.

    ``settled`` is, for a ``SettlementRun``, the orders it settled (see
    :class:`Decider`, which tracks them); ignored for other types."""
    base = Decision(position=book.position, head=book.head, event_id=event.id, type=type(event).__name__)
    return _DECIDE[type(event)](book, event, base, settled)


class Decider:
    """Folds a log in order and derives each event's :class:`Decision`.

    Keeps, beside the book, the completed and not yet settled orders in the
    book's own order (completed at, order id): after a ``SettlementRun`` the
    orders it settled are exactly those now settled at the front."""

    def __init__(self) -> None:
        self.book = Book()
        self._unsettled: list[tuple[int, str]] = []

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
        self.book.replay(event, record.event)
        if self.book.head != record.head:
            raise CorruptLog(f"position {record.position}: stored log head differs from the recomputed chain")
        return self.decide(event)

    def decide(self, event: Event) -> Decision:
        """The decision for ``event``, which the book has just accepted."""
        settled: list[str] = []
        if isinstance(event, OrderCompleted):
            order = self.book.orders[event.order_id]
            invariant(order.completed_us is not None, f"order {event.order_id!r}: completed without a time")
            heapq.heappush(self._unsettled, (order.completed_us or 0, order.order_id))
        elif isinstance(event, SettlementRun):
            while self._unsettled and self.book.orders[self._unsettled[0][1]].settled:
                settled.append(heapq.heappop(self._unsettled)[1])
        return decision_for(self.book, event, settled)
