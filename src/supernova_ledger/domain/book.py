"""The fold: one pure state machine that decides and applies events (SPEC §2–6).

``Book.submit(event)`` gives exactly one :class:`Outcome` per event —
``accepted``, ``duplicate`` or ``rejected`` with a code — and changes state
only when it accepts. Each handler runs the type's checks in SPEC order and
returns the first failure, or applies the effects and returns ``None``.
No I/O, no clock, no randomness: the same events give the same state.
"""

from __future__ import annotations

import hashlib
import heapq
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Literal, cast

import msgspec

from ..errors import CorruptLog
from ..events import (
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
    PeriodClosed,
    ProductPushed,
    PromoterJoined,
    PromoterQualified,
    PromoterReinstated,
    PromoterSuspended,
    RulesAdopted,
    SettlementRun,
    TRUSTED_TWINS,
    canonical,
    timestamp_us,
)
from ..rules import DEFAULT_RULES, Rules, zone
from .codes import Code
from .postings import BalanceName, Posting, PostingKind, check_nonnegative, ends, next_month, post
from .state import LINE_FORMAT, Group, Order, Payout, Promoter

__all__ = ["Book", "Outcome", "GENESIS_HEAD", "chain"]

GENESIS_HEAD: Final = "0" * 64
_US_PER_DAY: Final = 86_400 * 1_000_000
_DIGEST_BYTES: Final = 16
#: A binding is one int: expiry (µs since the epoch) << 32 | the promoter's join number.
_BINDING_SHIFT: Final = 32
_BINDING_MASK: Final = (1 << _BINDING_SHIFT) - 1
_intern: Final = sys.intern
_blake2b: Final = hashlib.blake2b

Status = Literal["accepted", "duplicate", "rejected"]
Rejection = tuple[Code, str]


class Outcome(msgspec.Struct, frozen=True):
    """The result of appending one event (a frozen Struct: cheap to make, one per event)."""

    status: Status
    id: str | None = None
    position: int | None = None  #: where it stands in the log (accepted or duplicate)
    code: str | None = None  #: the rejection code (rejected only)
    message: str | None = None  #: what was wrong, naming the field (rejected only)
    #: The money the event moved, in SPEC §6.1 order (accepted only; may be empty).
    postings: tuple[Posting, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "id": self.id,
            "position": self.position,
            "code": self.code,
            "message": self.message,
        }


def chain(head: str, event_json: bytes) -> str:
    """One step of the log-head hash chain (SPEC §7)."""
    return hashlib.sha256(head.encode("ascii") + b"\n" + event_json).hexdigest()


class LocalDates:
    """Local calendar dates (``YYYY-MM-DD``) of canonical UTC timestamps in one zone.

    Cached per UTC hour: when the zone's offset is the same at both ends of
    the hour and so is the local date, every instant of that hour has that
    date (tz transitions are never two within one hour). Otherwise the date
    is computed exactly for each instant."""

    __slots__ = ("zone", "_hours")
    _MAX_HOURS: Final = 100_000

    def __init__(self, rules_zone: Any) -> None:
        self.zone = rules_zone
        self._hours: dict[str, str | None] = {}

    def exact(self, at: str) -> str:
        return _intern(datetime.fromisoformat(at).astimezone(self.zone).date().isoformat())

    def of(self, at: str) -> str:
        hour = at[:13]
        try:
            cached = self._hours[hour]
        except KeyError:
            cached = self._learn(hour)
        return cached if cached is not None else self.exact(at)

    def _learn(self, hour: str) -> str | None:
        if len(self._hours) >= self._MAX_HOURS:
            self._hours.clear()
        start = datetime.fromisoformat(hour + ":00:00+00:00").astimezone(self.zone)
        end = datetime.fromisoformat(hour + ":59:59.999999+00:00").astimezone(self.zone)
        same = start.utcoffset() == end.utcoffset() and start.date() == end.date()
        self._hours[hour] = answer = start.date().isoformat() if same else None
        return answer


class Book:
    """The state of the ledger after the events it has accepted."""

    def __init__(self) -> None:
        self.rules: Rules = DEFAULT_RULES
        self._dates = LocalDates(zone(DEFAULT_RULES.timezone))
        self.position = 0
        self.head = GENESIS_HEAD
        self.promoters: dict[str, Promoter] = {}
        self.groups: dict[str, Group] = {}
        self.orders: dict[str, Order] = {}
        self.payouts: dict[str, Payout] = {}
        #: customer -> binding, packed (see :meth:`binding`): one int per customer, not a tuple
        self.bindings: dict[str, int] = {}
        #: promoters by join number (:attr:`Promoter.number`)
        self.numbered: list[Promoter] = []
        #: groups ever opened per city tier (index 1..5)
        self.tier_groups = [0, 0, 0, 0, 0, 0]
        self._ids: dict[str, int] = {}
        self._digests = bytearray()  # 16 bytes of blake2b(canonical) per position
        self._due: list[tuple[int, str]] = []  # (completed µs, order id), completed and unsettled
        #: The latest closed month ``YYYY-MM`` (SPEC §3 PeriodClosed), or None.
        self.closed_through: str | None = None
        #: The event being decided, and the postings it has made so far.
        self._event: Any = None
        self._book_month: str | None = None
        self._postings: list[Posting] = []
        #: Make Posting values (False: apply the same movements without recording them —
        #: a replay that no reader listens to; see ``ledger._fold``).
        self.keep_postings = True

    # -- the entry points ---------------------------------------------------

    def submit(
        self, event: Event, event_json: bytes | None = None, head: str | None = None
    ) -> tuple[Outcome, bytes | None]:
        """Decide one decoded event; apply it when accepted.

        Returns the outcome and, when accepted, the canonical JSON to store."""
        data = canonical(event) if event_json is None else event_json
        digest = _blake2b(data, digest_size=_DIGEST_BYTES).digest()
        seen = self._ids.get(event.id)
        if seen is not None:
            start = (seen - 1) * _DIGEST_BYTES
            if self._digests[start : start + _DIGEST_BYTES] == digest:
                return Outcome("duplicate", event.id, seen), None
            return (
                Outcome(
                    "rejected", event.id, None, Code.DUPLICATE_EVENT_ID.value,
                    f"id: {event.id!r} was accepted at position {seen} with different content",
                ),
                None,
            )
        # Decide (the handler: its checks, then its postings and effects) and record, inline:
        # this runs once per appended event.
        self._event = event
        self._book_month = None
        if self._postings:
            self._postings = []
        rejection = _HANDLERS[type(event)](self, event)
        if rejection is not None:
            return Outcome("rejected", event.id, None, rejection[0].value, rejection[1]), None
        self.position = position = self.position + 1
        self.head = chain(self.head, data) if head is None else head
        self._ids[event.id] = position
        self._digests += digest
        return Outcome("accepted", event.id, position, None, None, tuple(self._postings)), data

    def replay(self, event: Event, event_json: bytes, head: str | None = None) -> list[Posting]:
        """Fold a stored event; a stored event that is not accepted means a corrupt log.

        Returns the event's postings (a list the next event replaces: copy it
        to keep it; empty while :attr:`keep_postings` is False). With ``head`` (the head stored with the event) the hash
        chain is taken as stored rather than recomputed; ``verify`` is what
        recomputes it."""
        event_id = event.id
        ids = self._ids
        if event_id in ids:
            raise CorruptLog(f"position {self.position + 1}: stored event id {event_id!r} appears twice")
        # Decide and record as submit does, inline: this runs once per stored event.
        self._event = event
        self._book_month = None
        if self._postings:
            self._postings = []
        rejection = _HANDLERS[type(event)](self, event)
        if rejection is not None:
            raise CorruptLog(
                f"position {self.position + 1}: stored event {event_id!r} replays as rejected {rejection[0].value}"
            )
        self.position = position = self.position + 1
        self.head = chain(self.head, event_json) if head is None else head
        ids[event_id] = position
        self._digests += _blake2b(event_json, digest_size=_DIGEST_BYTES).digest()
        return self._postings

    # -- money: every movement is a posting -------------------------------------

    def booking_month(self, at: str) -> str:
        """The booking period of an event at ``at`` (SPEC §6.1): the month of its
        local date, or — when that month is closed — the first open month."""
        month = self._dates.of(at)[:7]
        closed = self.closed_through
        if closed is not None and month <= closed:
            return next_month(closed)
        return month

    def _post(
        self,
        promoter: Promoter,
        kind: PostingKind,
        amount_fen: int,
        level: int | None,
        order_id: str | None,
        sku: str | None,
        rate_bps: int | None,
        base_fen: int | None,
        payout_id: str | None,
        source: BalanceName | None = None,
    ) -> None:
        """Make one posting of the event being decided and apply it to the promoter's balances
        (positional arguments: this runs for most events, keyword parsing is not free).

        ``source`` is a clawback's ``from`` (pending or available); every other kind's
        ``from`` and ``to`` are those of :data:`~.postings.EFFECTS`, the one place they are written."""
        post(promoter, kind, amount_fen, level, source)
        if (
            promoter.pending_fen < 0 or promoter.in_payout_fen < 0 or promoter.paid_out_fen < 0
            or promoter.level1_fen < 0 or promoter.level2_fen < 0
        ):
            check_nonnegative(promoter, promoter.promoter_id)
        if self.keep_postings:
            event = self._event
            book = self._book_month
            if book is None:
                book = self._book_month = self.booking_month(event.at)
            start, end = ends(kind, source)
            self._postings.append(Posting(
                promoter_id=promoter.promoter_id, position=self.position + 1, event_id=event.id, at=event.at,
                book=book, kind=kind, level=level, order_id=order_id, sku=sku, rate_bps=rate_bps,
                base_fen=base_fen, payout_id=payout_id, from_=start, to=end, amount_fen=amount_fen,
            ))

    def binding(self, customer_id: str) -> tuple[str, int] | None:
        """A customer's binding: (promoter id, expiry in µs since the epoch), or None."""
        packed = self.bindings.get(customer_id)
        if packed is None:
            return None
        return self.numbered[packed & _BINDING_MASK].promoter_id, packed >> _BINDING_SHIFT

    def bind(self, customer_id: str, promoter_id: str, expiry_us: int) -> None:
        """Set a customer's binding (restoring a checkpoint)."""
        self.bindings[customer_id] = expiry_us << _BINDING_SHIFT | self.promoters[promoter_id].number

    def _touch(self, customer_id: str, promoter: Promoter, at_us: int) -> None:
        binding = self.bindings.get(customer_id)
        if binding is None or at_us >= binding >> _BINDING_SHIFT or binding & _BINDING_MASK == promoter.number:
            self.bindings[customer_id] = (
                (at_us + self.rules.binding_days * _US_PER_DAY) << _BINDING_SHIFT | promoter.number
            )

    # -- handlers: checks in SPEC order, then effects --------------------------

    def _rules_adopted(self, event: RulesAdopted) -> Rejection | None:
        self.rules = Rules.model_validate(event.rules)
        if self._dates.zone.key != self.rules.timezone:
            self._dates = LocalDates(zone(self.rules.timezone))
        return None

    def _promoter_joined(self, event: PromoterJoined) -> Rejection | None:
        if event.promoter_id in self.promoters:
            return Code.DUPLICATE_PROMOTER, f"promoter_id: {event.promoter_id!r} has already joined"
        inviter = None
        if event.inviter_id is not None:
            inviter = self.promoters.get(event.inviter_id)
            if inviter is None:
                return Code.UNKNOWN_PROMOTER, f"inviter_id: {event.inviter_id!r} has not joined"
        promoter = Promoter(
            event.promoter_id, event.program, inviter.promoter_id if inviter is not None else None, event.city,
            event.city_tier,
        )
        promoter.number = len(self.numbered)
        self.numbered.append(promoter)
        self.promoters[promoter.promoter_id] = promoter
        if inviter is not None:
            inviter.invitees += 1
        return None

    def _known_promoter(self, promoter_id: str, field: str = "promoter_id") -> Promoter | Rejection:
        promoter = self.promoters.get(promoter_id)
        if promoter is None:
            return Code.UNKNOWN_PROMOTER, f"{field}: {promoter_id!r} has not joined"
        return promoter

    def _set_status(self, promoter_id: str, flag: str, value: bool) -> Rejection | None:
        """Qualified / suspended / reinstated: idempotent flags on a known promoter."""
        promoter = self._known_promoter(promoter_id)
        if isinstance(promoter, tuple):
            return promoter
        setattr(promoter, flag, value)
        return None

    def _promoter_qualified(self, event: PromoterQualified) -> Rejection | None:
        return self._set_status(event.promoter_id, "qualified", True)

    def _promoter_suspended(self, event: PromoterSuspended) -> Rejection | None:
        return self._set_status(event.promoter_id, "suspended", True)

    def _promoter_reinstated(self, event: PromoterReinstated) -> Rejection | None:
        return self._set_status(event.promoter_id, "suspended", False)

    def _group_opened(self, event: GroupOpened) -> Rejection | None:
        if event.group_id in self.groups:
            return Code.DUPLICATE_GROUP, f"group_id: {event.group_id!r} was already opened"
        owner = self._known_promoter(event.owner_id, "owner_id")
        if isinstance(owner, tuple):
            return owner
        if owner.suspended:
            return Code.PROMOTER_SUSPENDED, f"owner_id: {event.owner_id!r} is suspended"
        if not owner.qualified:
            return Code.PROMOTER_NOT_QUALIFIED, f"owner_id: {event.owner_id!r} has not passed the review"
        if owner.open_groups >= self.rules.max_groups_per_owner:
            return (
                Code.GROUP_LIMIT_EXCEEDED,
                f"owner_id: {event.owner_id!r} already has {owner.open_groups} open groups "
                f"(max_groups_per_owner {self.rules.max_groups_per_owner})",
            )
        self.groups[event.group_id] = Group(event.group_id, owner.promoter_id, event.city, event.city_tier)
        owner.open_groups += 1
        self.tier_groups[event.city_tier] += 1
        return None

    def _known_group(self, group_id: str, *, must_be_open: bool) -> Group | Rejection:
        group = self.groups.get(group_id)
        if group is None:
            return Code.UNKNOWN_GROUP, f"group_id: {group_id!r} was never opened"
        if must_be_open and not group.open:
            return Code.GROUP_CLOSED, f"group_id: {group_id!r} is closed"
        return group

    def _not_open(self, group_id: str) -> Rejection:
        """The rejection for a group that is unknown or closed (the hot handlers test inline)."""
        return cast(Rejection, self._known_group(group_id, must_be_open=True))

    def _group_closed(self, event: GroupClosed) -> Rejection | None:
        group = self._known_group(event.group_id, must_be_open=True)
        if isinstance(group, tuple):
            return group
        group.open = False
        self.promoters[group.owner_id].open_groups -= 1
        return None

    def _member_joined(self, event: MemberJoined) -> Rejection | None:
        group = self.groups.get(event.group_id)
        if group is None or not group.open:
            return self._not_open(event.group_id)
        customer = _intern(event.customer_id)
        if customer in group.members or customer == group.owner_id:
            return Code.ALREADY_MEMBER, f"customer_id: {customer!r} is already in group {event.group_id!r}"
        if event.invited_by != group.owner_id and event.invited_by not in group.members:
            return (
                Code.NOT_INVITED,
                f"invited_by: {event.invited_by!r} is neither the owner nor a member of {event.group_id!r}",
            )
        if len(group.members) >= self.rules.max_group_members:
            return (
                Code.GROUP_FULL,
                f"group_id: {event.group_id!r} has {len(group.members)} members "
                f"(max_group_members {self.rules.max_group_members})",
            )
        group.members[customer] = None
        self._touch(customer, self.promoters[group.owner_id], timestamp_us(event.at))
        return None

    def _member_left(self, event: MemberLeft) -> Rejection | None:
        group = self._known_group(event.group_id, must_be_open=False)
        if isinstance(group, tuple):
            return group
        if event.customer_id not in group.members:
            return Code.NOT_MEMBER, f"customer_id: {event.customer_id!r} is not a member of {event.group_id!r}"
        del group.members[event.customer_id]
        return None

    def _product_pushed(self, event: ProductPushed) -> Rejection | None:
        group = self.groups.get(event.group_id)
        if group is None or not group.open:
            return self._not_open(event.group_id)
        day = self._dates.of(event.at)
        pushed = group.pushes_by_day.get(day, 0)
        if pushed >= self.rules.max_daily_pushes:
            return (
                Code.PUSH_QUOTA_EXCEEDED,
                f"group_id: {event.group_id!r} already has {pushed} pushes on {day} "
                f"(max_daily_pushes {self.rules.max_daily_pushes})",
            )
        group.pushes_by_day[day] = pushed + 1
        group.pushes += 1
        return None

    def _order_placed(self, event: OrderPlaced) -> Rejection | None:
        if event.order_id in self.orders:
            return Code.DUPLICATE_ORDER, f"order_id: {event.order_id!r} was already placed"
        group = None
        if event.group_id is not None:
            group = self.groups.get(event.group_id)
            if group is None:
                return Code.UNKNOWN_GROUP, f"group_id: {event.group_id!r} was never opened"
        if event.promoter_id is not None and event.promoter_id not in self.promoters:
            return Code.UNKNOWN_PROMOTER, f"promoter_id: {event.promoter_id!r} has not joined"

        rules = self.rules
        promoters = self.promoters
        customer = _intern(event.customer_id)
        at_us = timestamp_us(event.at)
        if event.promoter_id is not None:
            link: Promoter | None = promoters[event.promoter_id]
        else:
            link = promoters[group.owner_id] if group is not None else None
        level1 = link
        if rules.attribution == "protected_binding":
            binding = self.bindings.get(customer)
            if binding is not None and at_us < binding >> _BINDING_SHIFT:
                level1 = self.numbered[binding & _BINDING_MASK]
        if link is not None:
            self._touch(customer, link, at_us)
        l1 = level1.promoter_id if level1 is not None else None
        level2 = promoters[level1.inviter_id] if level1 and level1.inviter_id is not None else None
        if level1 is None or (customer == l1 and not rules.self_purchase_commission):
            ben1 = ben2 = None
        else:
            ben1 = None if level1.suspended else level1
            ben2 = None if level2 is None or level2.suspended else level2

        packed: list[bytes] = []
        pack = LINE_FORMAT.pack
        paid_fen = 0
        order_id = event.order_id
        for line in event.lines:
            rate1, rate2 = rules.rates_for(line.category)
            packed.append(pack(line.paid_fen, 0, rate1, rate2))
            paid_fen += line.paid_fen
            # SPEC §6.1 earn: per line in event order, level 1 before level 2.
            if ben1 is not None and (amount := line.paid_fen * rate1 // 10_000):
                self._post(ben1, "earn", amount, 1, order_id, line.sku, rate1, line.paid_fen, None)
            if ben2 is not None and (amount := line.paid_fen * rate2 // 10_000):
                self._post(ben2, "earn", amount, 2, order_id, line.sku, rate2, line.paid_fen, None)
        self.orders[order_id] = Order(
            order_id, customer, group.group_id if group is not None else None, l1,
            ben1.promoter_id if ben1 else None, ben2.promoter_id if ben2 else None,
            self._dates.of(event.at), tuple([_intern(line.sku) for line in event.lines]), b"".join(packed),
        )
        if group is not None:
            group.orders += 1
            group.buyers[customer] = None
            group.gross_fen += paid_fen
        if level1 is not None:
            level1.orders += 1
            level1.net_gmv_fen += paid_fen
        return None

    def _known_order(self, order_id: str) -> Order | Rejection:
        order = self.orders.get(order_id)
        if order is None:
            return Code.UNKNOWN_ORDER, f"order_id: {order_id!r} was never placed"
        return order

    def _order_completed(self, event: OrderCompleted) -> Rejection | None:
        order = self._known_order(event.order_id)
        if isinstance(order, tuple):
            return order
        if order.completed_us is not None:
            return Code.ORDER_ALREADY_COMPLETED, f"order_id: {event.order_id!r} is already completed"
        order.completed_us = timestamp_us(event.at)
        heapq.heappush(self._due, (order.completed_us, order.order_id))
        return None

    def _order_refunded(self, event: OrderRefunded) -> Rejection | None:
        order = self._known_order(event.order_id)
        if isinstance(order, tuple):
            return order
        lines: list[tuple[int, int, int, int, int]] = []  # (index in the order, paid, refunded, rate1, rate2)
        skus, packed = order.skus, order.packed
        for index, refund in enumerate(event.lines):
            try:
                at = skus.index(refund.sku)
            except ValueError:
                return Code.UNKNOWN_LINE, f"lines[{index}].sku: {refund.sku!r} is not a line of {event.order_id!r}"
            lines.append((at, *LINE_FORMAT.unpack_from(packed, at * LINE_FORMAT.size)))
        for index, (refund, (_, paid, refunded, _, _)) in enumerate(zip(event.lines, lines, strict=True)):
            if refunded + refund.amount_fen > paid:
                return (
                    Code.REFUND_EXCEEDS_PAID,
                    f"lines[{index}].amount_fen: {refund.amount_fen} would refund more than the "
                    f"{paid - refunded} fen left on {refund.sku!r}",
                )
        ben1 = self.promoters[order.ben1] if order.ben1 is not None else None
        ben2 = self.promoters[order.ben2] if order.ben2 is not None else None
        source: BalanceName = "available" if order.settled else "pending"
        order_id = event.order_id
        refunded_fen = 0
        for refund, (at, paid, refunded, rate1, rate2) in zip(event.lines, lines, strict=True):
            before = paid - refunded
            after = before - refund.amount_fen
            order.refund(at, refund.amount_fen)
            refunded_fen += refund.amount_fen
            # SPEC §6.1 clawback: per refunded line in event order, level 1 before level 2.
            if ben1 is not None and (drop := before * rate1 // 10_000 - after * rate1 // 10_000):
                self._post(ben1, "clawback", drop, 1, order_id, refund.sku, rate1, refund.amount_fen, None,
                           source)
            if ben2 is not None and (drop := before * rate2 // 10_000 - after * rate2 // 10_000):
                self._post(ben2, "clawback", drop, 2, order_id, refund.sku, rate2, refund.amount_fen, None,
                           source)
        if order.group_id is not None:
            self.groups[order.group_id].refunded_fen += refunded_fen
        if order.l1 is not None:
            self.promoters[order.l1].net_gmv_fen -= refunded_fen
        return None

    def _settlement_run(self, event: SettlementRun) -> Rejection | None:
        cutoff_us = timestamp_us(event.as_of) - self.rules.settle_after_days * _US_PER_DAY
        due = self._due
        while due and due[0][0] <= cutoff_us:
            _, order_id = heapq.heappop(due)
            order = self.orders[order_id]
            order.settled = True
            # SPEC §6.1 settle: orders by completion instant, then id (the heap's order); level 1 first.
            for level, promoter_id, amount_fen in ((1, order.ben1, order.comm1_fen), (2, order.ben2, order.comm2_fen)):
                if promoter_id is not None and amount_fen:
                    self._post(self.promoters[promoter_id], "settle", amount_fen, level, order_id, None, None, None,
                               None)
        return None

    def _payout_requested(self, event: PayoutRequested) -> Rejection | None:
        if event.payout_id in self.payouts:
            return Code.DUPLICATE_PAYOUT, f"payout_id: {event.payout_id!r} was already requested"
        promoter = self._known_promoter(event.promoter_id)
        if isinstance(promoter, tuple):
            return promoter
        if event.amount_fen < self.rules.min_payout_fen:
            return (
                Code.BELOW_MINIMUM_PAYOUT,
                f"amount_fen: {event.amount_fen} is below min_payout_fen {self.rules.min_payout_fen}",
            )
        if event.amount_fen > promoter.available_fen:
            return (
                Code.INSUFFICIENT_BALANCE,
                f"amount_fen: {event.amount_fen} exceeds the available {promoter.available_fen} fen",
            )
        self.payouts[event.payout_id] = Payout(event.payout_id, event.promoter_id, event.amount_fen)
        self._post(promoter, "payout", event.amount_fen, None, None, None, None, None, event.payout_id)
        return None

    def _open_payout(self, payout_id: str) -> Payout | Rejection:
        payout = self.payouts.get(payout_id)
        if payout is None:
            return Code.UNKNOWN_PAYOUT, f"payout_id: {payout_id!r} was never requested"
        if payout.finished:
            return Code.PAYOUT_ALREADY_FINISHED, f"payout_id: {payout_id!r} has already settled or failed"
        return payout

    def _finish_payout(self, payout_id: str, kind: PostingKind) -> Rejection | None:
        """Settled: in payout → paid out. Failed: in payout → available again."""
        payout = self._open_payout(payout_id)
        if isinstance(payout, tuple):
            return payout
        payout.finished = True
        self._post(self.promoters[payout.promoter_id], kind, payout.amount_fen, None, None, None, None, None,
                   payout_id)
        return None

    def _payout_settled(self, event: PayoutSettled) -> Rejection | None:
        return self._finish_payout(event.payout_id, "paid")

    def _payout_failed(self, event: PayoutFailed) -> Rejection | None:
        return self._finish_payout(event.payout_id, "returned")

    def _period_closed(self, event: PeriodClosed) -> Rejection | None:
        closed = self.closed_through
        if closed is not None and event.period <= closed:
            return Code.PERIOD_ALREADY_CLOSED, f"period: {event.period} is not after the latest closed month {closed}"
        local_date = self._dates.of(event.at)
        if local_date[:7] <= event.period:
            return Code.PERIOD_NOT_ENDED, f"period: {event.period} has not ended on {local_date} (the local date of at)"
        self.closed_through = event.period
        return None


#: event class (public and stored twin) -> its handler: one table for every Book
_HANDLERS: Final[dict[type, Callable[[Book, Any], Rejection | None]]] = {
    RulesAdopted: Book._rules_adopted,
    PromoterJoined: Book._promoter_joined,
    PromoterQualified: Book._promoter_qualified,
    PromoterSuspended: Book._promoter_suspended,
    PromoterReinstated: Book._promoter_reinstated,
    GroupOpened: Book._group_opened,
    GroupClosed: Book._group_closed,
    MemberJoined: Book._member_joined,
    MemberLeft: Book._member_left,
    ProductPushed: Book._product_pushed,
    OrderPlaced: Book._order_placed,
    OrderCompleted: Book._order_completed,
    OrderRefunded: Book._order_refunded,
    SettlementRun: Book._settlement_run,
    PayoutRequested: Book._payout_requested,
    PayoutSettled: Book._payout_settled,
    PayoutFailed: Book._payout_failed,
    PeriodClosed: Book._period_closed,
}
_HANDLERS.update({twin: _HANDLERS[public] for twin, public in TRUSTED_TWINS.items()})
