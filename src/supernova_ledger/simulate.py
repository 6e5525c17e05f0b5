"""A seeded, deterministic simulation of a Supernova distribution programme.

:func:`generate` yields SPEC events as plain, JSON-ready dicts in log order::

    from supernova_ledger.simulate import generate, write_jsonl
    write_jsonl(generate(seed=7, promoters=300, days=30), "programme.jsonl")

What it simulates, per day of the period:

- promoters joining the five programmes (``fenxiang`` KOCs the majority),
  most invited by an earlier promoter, in real Chinese cities of tiers 1–5
  (about 71% of groups in tier 3 and below);
- KOCs passing the qualification review, then opening 1–10 groups each;
  invitation-only member joins (invited by the owner or by a member), a few
  members leaving, a few groups closing;
- up to 40 product pushes per group per local day, more on promotion days
  (11-11, 12-12);
- orders of low-priced everyday goods (``paid_fen`` mostly 500–20,000) in
  categories with their own commission rates, placed through a share link
  or from a group, completed a few days later, some refunded (in full, one
  line, or part of one line; before completion, or after settlement);
- a weekly ``SettlementRun``; payout requests that fit the promoter's
  available balance, mostly settled, some failed;
- a mid-period ``RulesAdopted`` (switch to ``protected_binding``, new rates,
  no commission on self-purchases) and a few suspensions.

The generator keeps no books of its own: it folds every event it sends
through the ledger's own fold (a :class:`~supernova_ledger.domain.book.Book`),
reads from it what it needs (the rules in force, bindings, what is left to
refund on an order, a promoter's available balance so that a payout request
fits) and checks, event by event, that the fold gives the outcome it
designed: every event it means to be accepted *is* accepted, or it raises
:class:`~supernova_ledger.errors.InvariantViolation`. :meth:`Simulation.balances`
gives each promoter's six balances as that fold has them.

Deliberate bad input, a small fraction, so users see rejections handled;
:attr:`Simulation.rejected_ids` maps each such event id to its code:

==========================  ================================================
code                        what the simulation sends
==========================  ================================================
``unknown_order``           late refunds for orders from before the ledger
``below_minimum_payout``    payout requests under ``min_payout_fen``
``push_quota_exceeded``     a spammy group's 41st and 42nd push on a day
``not_invited``             a join whose inviter is not in the group
``promoter_not_qualified``  a promoter opening a group before the review
``group_limit_exceeded``    an owner of 10 groups opening an 11th
==========================  ================================================

plus exact re-deliveries of accepted events (outcome ``duplicate``, counted
in :attr:`Simulation.redelivered`), sent right after the original as an
at-least-once transport would. :data:`DELIBERATE_REJECTION_CODES` lists the
codes; :func:`expected_outcomes` counts them for a given seed.

Determinism: the only source of randomness is ``random.Random(seed)``, used
only through ``random()`` and arithmetic (no ``log``/``exp``, whose last bit
may differ between platforms); there is no wall clock, and nothing iterates a
set. Same arguments, same events, byte for byte.
"""

from __future__ import annotations

import heapq
import io
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import IO, Any

import msgspec

from .domain.book import Book
from .domain.state import LINE_PAID, LINE_REFUNDED
from .errors import InvariantViolation
from .events import coerce_event

__all__ = [
    "DELIBERATE_REJECTION_CODES",
    "PROGRAMS",
    "CITIES",
    "Simulation",
    "ExpectedOutcomes",
    "generate",
    "expected_outcomes",
    "expected_rejections",
    "write_jsonl",
]

Event = dict[str, Any]

#: Every rejection code the simulation produces on purpose (and no other).
DELIBERATE_REJECTION_CODES: tuple[str, ...] = (
    "unknown_order",
    "below_minimum_payout",
    "push_quota_exceeded",
    "not_invited",
    "promoter_not_qualified",
    "group_limit_exceeded",
)

#: Programme → share of promoters, in percent.
PROGRAMS: tuple[tuple[str, int], ...] = (
    ("fenxiang", 60),
    ("cloud_store", 16),
    ("jing_xiaoge", 10),
    ("jing_xiaofu", 8),
    ("jing_xiaojia", 6),
)

#: Real cities by tier (1 = first-tier; 2 = new-first and second tier;
#: 3, 4, 5 = third, fourth, fifth tier) and the share of promoters, in
#: percent, drawn from each tier: 73% of promoters (about 71% of groups,
#: which follow their owner) in tier 3 and below.
CITIES: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (1, 10, ("北京", "上海", "广州", "深圳")),
    (2, 17, ("成都", "杭州", "重庆", "武汉", "西安", "苏州", "南京", "长沙", "郑州", "青岛", "合肥", "厦门")),
    (3, 32, ("临沂", "洛阳", "潍坊", "烟台", "徐州", "扬州", "赣州", "桂林", "绵阳", "芜湖", "襄阳", "南阳", "商丘", "遵义")),
    (4, 25, ("周口", "驻马店", "信阳", "邵阳", "曲靖", "六安", "衡水", "宿州", "亳州", "永州", "吉安", "钦州")),
    (5, 16, ("定西", "陇南", "昭通", "巴中", "河池", "固原", "黑河", "白山", "鹤岗", "临夏")),
)

#: Category → (share of order lines in percent, lowest and highest unit price in fen).
CATEGORIES: tuple[tuple[str, int, int, int], ...] = (
    ("daily", 28, 390, 5990),
    ("food", 22, 500, 6990),
    ("fresh", 14, 800, 9900),
    ("baby", 9, 1990, 19900),
    ("beauty", 9, 2990, 19900),
    ("home", 8, 1290, 15900),
    ("pet", 5, 990, 12900),
    ("appliance", 5, 9900, 39900),
)

_SKUS_PER_CATEGORY = 40
_DAY_S = 86_400
_HOUR_S = 3_600
_SHANGHAI_OFFSET_S = 8 * _HOUR_S  # Asia/Shanghai has had no DST since 1991

# Rule sets: the opening one, and the mid-period change. Everything not
# given takes the SPEC §4 default (a RulesAdopted replaces the whole set).
_OPENING_RULES: dict[str, Any] = {
    "settle_after_days": 7,
    "category_rates": {
        "appliance": {"level1_bps": 300, "level2_bps": 50},
        "fresh": {"level1_bps": 600, "level2_bps": 100},
        "baby": {"level1_bps": 1200, "level2_bps": 200},
    },
}
_CHANGED_RULES: dict[str, Any] = {
    "level1_bps": 900,
    "level2_bps": 200,
    "attribution": "protected_binding",
    "binding_days": 7,
    "settle_after_days": 7,
    "self_purchase_commission": False,
    "category_rates": {
        "appliance": {"level1_bps": 300, "level2_bps": 50},
        "fresh": {"level1_bps": 800, "level2_bps": 150},
        "beauty": {"level1_bps": 1500, "level2_bps": 300},
    },
}

# Relative activity by local hour of day: quiet nights, lunch and evening peaks.
_HOUR_WEIGHTS = (1, 0, 0, 0, 0, 0, 1, 2, 4, 5, 5, 5, 7, 6, 4, 4, 4, 5, 6, 8, 10, 10, 8, 4)
_HOURS: tuple[int, ...] = tuple(h for h, w in enumerate(_HOUR_WEIGHTS) for _ in range(w))

# Groups a qualified KOC opens: 1..10, mostly few.
_GROUPS_PER_KOC = (1,) * 30 + (2,) * 22 + (3,) * 15 + (4,) * 10 + (5,) * 7 + (6,) * 5 + (7,) * 4 + (8,) * 3 + (9,) * 2 + (10,) * 2
# Size a group grows to (members), mostly small.
_GROUP_SIZES = (8,) * 10 + (15,) * 20 + (25,) * 25 + (40,) * 20 + (60,) * 12 + (90,) * 7 + (150,) * 4 + (250,) * 2

# Orders a day through a promoter's own share link (outside their groups), by programme.
_LINK_ORDERS_PER_DAY = {"fenxiang": 0.3, "cloud_store": 1.0, "jing_xiaoge": 0.6, "jing_xiaofu": 0.4, "jing_xiaojia": 0.3}

_SUSPEND_REASONS = ("刷单嫌疑", "违规宣传", "虚假发货投诉")
_FAIL_REASONS = ("银行卡信息有误", "收款账户已冻结", "实名信息不一致")

# Action kinds, processed in (time, sequence) order.
(_TICK, _JOIN, _QUALIFY, _OPEN, _MEMBER_JOIN, _MEMBER_LEAVE, _PUSH, _GROUP_ORDER, _LINK_ORDER,
 _COMPLETE, _REFUND, _SETTLE, _PAYOUT, _PAYOUT_END, _RULES, _SUSPEND, _REINSTATE, _CLOSE,
 _BAD_REFUND, _BAD_PAYOUT, _BAD_JOIN, _BAD_OPEN) = range(22)


@dataclass(slots=True)
class _Promoter:
    id: str
    program: str
    inviter: str | None
    city: str
    tier: int
    joined: bool = False
    qualified: bool = False
    suspended: bool = False
    open_groups: int = 0


@dataclass(slots=True)
class _Group:
    id: str
    owner: str
    city: str
    tier: int
    target_members: int
    open: bool = True
    members: list[str] = field(default_factory=list)
    member_set: set[str] = field(default_factory=set)
    push_date: int = -1  # local date (days since 1970-01-01) of push_count
    push_count: int = 0


def _parse_start(start: str) -> datetime:
    moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"start: {start!r} has no UTC offset")
    return moment


def _offset_text(moment: datetime) -> str:
    offset = moment.utcoffset()
    assert offset is not None
    seconds = int(offset.total_seconds())
    if seconds == 0:
        return "Z"
    sign = "+" if seconds > 0 else "-"
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}"


class Simulation:
    """One simulated programme. Iterate :meth:`events` once.

    While (and after) iterating, :attr:`rejected_ids` maps the id of each
    event sent to be rejected to its expected code, :attr:`redelivered`
    counts exact re-deliveries (outcome ``duplicate``), and
    :meth:`balances` gives each promoter's six balances after the events
    generated so far.
    """

    def __init__(
        self,
        seed: int,
        promoters: int = 300,
        days: int = 30,
        start: str = "2026-11-01T00:00:00+08:00",
    ) -> None:
        if promoters < 0:
            raise ValueError(f"promoters: {promoters} must be at least 0")
        if days < 0:
            raise ValueError(f"days: {days} must be at least 0")
        self.seed = seed
        self.promoter_count = promoters
        self.days = days
        self.rejected_ids: dict[str, str] = {}
        self.redelivered = 0
        self.events_generated = 0
        self.clock_s = 0  #: simulated seconds since ``start`` of the latest event

        moment = _parse_start(start)
        offset = moment.utcoffset()
        assert offset is not None
        self._epoch0 = int(moment.timestamp())  # t = 0
        self._wall0 = self._epoch0 + int(offset.total_seconds())  # local wall clock of t = 0
        self._offset = _offset_text(moment)
        self._date_text: dict[int, str] = {}  # local day → "YYYY-MM-DDT"
        self._time_text: dict[int, str] = {}  # second of the day → "HH:MM:SS+08:00"
        self._end = days * _DAY_S

        self._rng = random.Random(seed)
        self._random = self._rng.random
        #: The ledger's fold of every event sent so far: the only books the simulation keeps.
        self._book = Book()
        self._heap: list[tuple[int, int, int, Any]] = []
        self._seq = 0
        self._out: list[Event] = []
        self._next_event = 0
        self._next_order = 0
        self._next_payout = 0
        self._next_customer = 0
        self._next_group = 0

        self._promoters: dict[str, _Promoter] = {}
        self._joined: list[str] = []  # in join order
        self._invite_tickets: list[str] = []  # a promoter appears 1 + invitees times
        self._groups: dict[str, _Group] = {}
        self._open_groups: list[str] = []
        self._customers: list[str] = []
        self._skus = self._catalogue()
        self._tier_deck: list[int] = []
        self._category_table = tuple(i for i, c in enumerate(CATEGORIES) for _ in range(c[1]))

        self._handlers: dict[int, Callable[[int, Any], None]] = {
            _TICK: self._tick,
            _JOIN: self._join,
            _QUALIFY: self._qualify,
            _OPEN: self._open,
            _MEMBER_JOIN: self._member_join,
            _MEMBER_LEAVE: self._member_leave,
            _PUSH: self._push,
            _GROUP_ORDER: self._group_order,
            _LINK_ORDER: self._link_order,
            _COMPLETE: self._complete,
            _REFUND: self._refund,
            _SETTLE: self._settle,
            _PAYOUT: self._payout,
            _PAYOUT_END: self._payout_end,
            _RULES: self._adopt,
            _SUSPEND: self._suspend,
            _REINSTATE: self._reinstate,
            _CLOSE: self._close,
            _BAD_REFUND: self._bad_refund,
            _BAD_PAYOUT: self._bad_payout,
            _BAD_JOIN: self._bad_join,
            _BAD_OPEN: self._bad_open,
        }
        self._plan_promoters()
        self._plan_programme()

    # ------------------------------------------------------------------ API

    def events(self) -> Iterator[Event]:
        """Yield the events in log order (timestamps non-decreasing)."""
        heap, out, handlers, end = self._heap, self._out, self._handlers, self._end
        pop = heapq.heappop
        while heap:
            t, _, kind, arg = pop(heap)
            if t >= end:
                break
            self.clock_s = t
            handlers[kind](t, arg)
            if out:
                self.events_generated += len(out)
                yield from out
                out.clear()

    def balances(self) -> dict[str, dict[str, int]]:
        """Each joined promoter's six balances (SPEC §6), as the fold of the events sent has them."""
        return {pid: self._book.promoters[pid].balances() for pid in self._joined}

    def rejections_by_code(self) -> dict[str, int]:
        """Deliberate rejections so far, code → count, codes sorted."""
        return dict(sorted(Counter(self.rejected_ids.values()).items()))

    # ------------------------------------------------------------ plumbing

    def _at(self, t: int, kind: int, arg: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, arg))

    def _rand(self, n: int) -> int:
        """Uniform in 0..n-1."""
        return int(self._random() * n)

    def _chance(self, percent: float) -> bool:
        return self._random() * 100 < percent

    def _count(self, mean: float) -> int:
        """A count with the given mean, jittered ±50%: floor plus a Bernoulli remainder."""
        x = mean * (0.5 + self._random())
        n = int(x)
        return n + 1 if self._random() < x - n else n

    def _clock(self, day: int) -> int:
        """A random time of day ``day``, busier at lunch and in the evening."""
        hour = _HOURS[self._rand(len(_HOURS))]
        return day * _DAY_S + hour * _HOUR_S + self._rand(_HOUR_S)

    def _timestamp(self, t: int) -> str:
        days, second = divmod(self._wall0 + t, _DAY_S)
        day_text = self._date_text.get(days)
        if day_text is None:
            day_text = self._date_text[days] = (date(1970, 1, 1) + timedelta(days=days)).isoformat() + "T"
        time_text = self._time_text.get(second)
        if time_text is None:
            hour, rest = divmod(second, 3600)
            time_text = self._time_text[second] = f"{hour:02d}:{rest // 60:02d}:{rest % 60:02d}{self._offset}"
        return day_text + time_text

    def _local_date(self, t: int) -> int:
        """Local date (days since 1970-01-01) in Asia/Shanghai, the rules' time zone."""
        return (self._epoch0 + t + _SHANGHAI_OFFSET_S) // _DAY_S

    def _emit(self, t: int, kind: str, fields: Event, *, rejected: str | None = None) -> Event:
        self._next_event += 1
        event_id = f"e{self._next_event:06d}"
        event: Event = {"type": kind, "id": event_id, "at": self._timestamp(t), **fields}
        self._out.append(event)
        self._fold(event, "accepted" if rejected is None else rejected)
        if rejected is not None:
            self.rejected_ids[event_id] = rejected
        elif self._random() < 0.003:  # an at-least-once transport re-delivers it
            again = dict(event)
            self._out.append(again)
            self._fold(again, "duplicate")
            self.redelivered += 1
        return event

    def _fold(self, event: Event, designed: str) -> None:
        """Fold ``event`` into the books; its outcome (status, or code when rejected) must be ``designed``."""
        outcome, _ = self._book.submit(coerce_event(event))
        found = outcome.code if outcome.status == "rejected" else outcome.status
        if found != designed:
            raise InvariantViolation(
                f"simulation: event {event['id']} ({event['type']}) was {found} by the fold, "
                f"designed {designed}: {outcome.message}"
            )

    def _catalogue(self) -> list[list[tuple[str, int]]]:
        skus: list[list[tuple[str, int]]] = []
        for name, _share, low, high in CATEGORIES:
            items = []
            for k in range(_SKUS_PER_CATEGORY):
                yuan = (low + self._rand(high - low + 1)) // 100
                items.append((f"{name}-{k + 1:03d}", max(yuan, 1) * 100 - 10))  # prices end in .90
            skus.append(items)
        return skus

    def _city(self) -> tuple[str, int]:
        """A city drawn from a shuffled deck of 100 tier cards: shares hold closely at any size."""
        if not self._tier_deck:
            self._tier_deck = [i for i, (_tier, share, _names) in enumerate(CITIES) for _ in range(share)]
            deck = self._tier_deck
            for i in range(len(deck) - 1, 0, -1):
                j = self._rand(i + 1)
                deck[i], deck[j] = deck[j], deck[i]
        tier, _share, names = CITIES[self._tier_deck.pop()]
        return names[self._rand(len(names))], tier

    # ------------------------------------------------------------ planning

    def _plan_promoters(self) -> None:
        n = self.promoter_count
        founders = max(1, min(n, 3 + n // 30))
        program_table = tuple(p for p, share in PROGRAMS for _ in range(share))
        growth_s = max(1, int(self.days * 0.6)) * _DAY_S
        times = [self._rand(_HOUR_S * 12) for _ in range(founders)]
        times += [self._rand(growth_s) for _ in range(n - founders)]
        times[founders:] = sorted(times[founders:])
        times[:founders] = sorted(times[:founders])
        for i in range(n):
            program = "fenxiang" if i < founders else program_table[self._rand(len(program_table))]
            promoter = _Promoter(f"p{i + 1:04d}", program, None, "", 0)
            self._promoters[promoter.id] = promoter
            self._at(times[i], _JOIN, (promoter.id, i >= founders))

    def _plan_programme(self) -> None:
        self._at(0, _RULES, _OPENING_RULES)
        for day in range(self.days):
            self._at(day * _DAY_S, _TICK, day)
        if self.days >= 4:
            self._at((self.days // 2) * _DAY_S + _HOUR_S, _RULES, _CHANGED_RULES)
        # A few suspensions in the second half, a third of them reinstated.
        for _ in range(max(1, self.promoter_count // 60)):
            t = self._end // 2 + self._rand(self._end // 2)
            self._at(t, _SUSPEND, None)
        # Deliberate bad input.
        for _ in range(max(1, self.promoter_count // 50)):
            self._at(self._rand(self._end), _BAD_REFUND, None)
        for _ in range(max(1, self.promoter_count // 100)):
            self._at(self._end // 3 + self._rand(self._end * 2 // 3), _BAD_PAYOUT, None)
        for _ in range(max(1, self.promoter_count // 100)):
            self._at(_DAY_S + self._rand(max(1, self._end - _DAY_S)), _BAD_JOIN, None)

    def _is_promo_day(self, day: int) -> bool:
        local = date(1970, 1, 1) + timedelta(days=self._local_date(day * _DAY_S + 12 * _HOUR_S))
        return local.month == local.day

    def _tick(self, t: int, day: int) -> None:
        promo = self._is_promo_day(day)
        if day % 7 == 0 and day > 0:
            self._at(t + 2 * _HOUR_S, _SETTLE, None)
        self._plan_payouts(day)
        spam_groups = 2 if promo or (day == self.days // 2 and not self._has_promo_day()) else 0
        for index, group_id in enumerate(list(self._open_groups)):
            group = self._groups[group_id]
            self._plan_group_day(day, group, promo, spam=index < spam_groups)
        for promoter_id in self._joined:
            self._plan_link_orders(day, self._promoters[promoter_id], promo)

    def _has_promo_day(self) -> bool:
        return any(self._is_promo_day(d) for d in range(self.days))

    def _plan_group_day(self, day: int, group: _Group, promo: bool, *, spam: bool) -> None:
        if spam:
            pushes = self._book.rules.max_daily_pushes + 1 + self._rand(2)
        elif promo:
            pushes = 20 + self._rand(21)
        else:
            pushes = self._rand(7)
        for _ in range(min(pushes, self._book.rules.max_daily_pushes + 2)):
            self._at(self._clock(day), _PUSH, (group.id, spam))
        size = len(group.members)
        for _ in range(self._count(max(0.0, (group.target_members - size) * 0.15))):
            self._at(self._clock(day), _MEMBER_JOIN, group.id)
        if size > 5 and self._chance(size * 0.4):
            self._at(self._clock(day), _MEMBER_LEAVE, group.id)
        for _ in range(self._count(size * (0.12 if promo else 0.04))):
            self._at(self._clock(day), _GROUP_ORDER, group.id)
        if self._chance(0.1):
            self._at(self._clock(day), _CLOSE, group.id)

    def _plan_link_orders(self, day: int, promoter: _Promoter, promo: bool) -> None:
        mean = _LINK_ORDERS_PER_DAY[promoter.program] * (2.5 if promo else 1.0)
        for _ in range(self._count(mean)):
            self._at(self._clock(day), _LINK_ORDER, promoter.id)

    def _plan_payouts(self, day: int) -> None:
        floor_fen = max(self._book.rules.min_payout_fen, 2000)
        promoters = self._book.promoters
        for promoter_id in self._joined:
            if promoters[promoter_id].available_fen >= floor_fen and self._chance(20):
                self._at(self._clock(day), _PAYOUT, promoter_id)

    # -------------------------------------------------------------- people

    def _join(self, t: int, arg: tuple[str, bool]) -> None:
        promoter_id, invited = arg
        promoter = self._promoters[promoter_id]
        inviter: _Promoter | None = None
        if invited and self._invite_tickets and self._chance(90):
            inviter = self._promoters[self._invite_tickets[self._rand(len(self._invite_tickets))]]
        if inviter is not None and self._chance(25):
            promoter.city, promoter.tier = inviter.city, inviter.tier  # chains are local
        else:
            promoter.city, promoter.tier = self._city()
        promoter.inviter = inviter.id if inviter is not None else None
        promoter.joined = True
        self._joined.append(promoter_id)
        self._invite_tickets.append(promoter_id)
        if inviter is not None:
            self._invite_tickets.append(inviter.id)
        self._emit(t, "PromoterJoined", {
            "promoter_id": promoter_id, "program": promoter.program, "inviter_id": promoter.inviter,
            "city": promoter.city, "city_tier": promoter.tier,
        })
        qualify = {"fenxiang": 88, "cloud_store": 35}.get(promoter.program, 3)
        if self._chance(qualify):
            self._at(t + 2 * _HOUR_S + self._rand(34 * _HOUR_S), _QUALIFY, promoter_id)
        elif promoter.program == "fenxiang" and self._chance(6):
            self._at(t + self._rand(_HOUR_S), _BAD_OPEN, promoter_id)  # eager, before the review

    def _qualify(self, t: int, promoter_id: str) -> None:
        promoter = self._promoters[promoter_id]
        promoter.qualified = True
        self._emit(t, "PromoterQualified", {"promoter_id": promoter_id})
        if promoter.program == "fenxiang":
            count = _GROUPS_PER_KOC[self._rand(len(_GROUPS_PER_KOC))]
        else:
            count = 1 + self._rand(2)
        opened_at = t + _HOUR_S + self._rand(11 * _HOUR_S)
        for k in range(count):
            self._at(opened_at, _OPEN, promoter_id)
            opened_at += self._rand(3 * _DAY_S)
        if count == self._book.rules.max_groups_per_owner and self._chance(50):
            self._at(opened_at + _DAY_S, _BAD_OPEN, promoter_id)  # an 11th group

    def _suspend(self, t: int, _: None) -> None:
        candidates = [pid for pid in self._joined if not self._promoters[pid].suspended]
        if not candidates:
            return
        promoter = self._promoters[candidates[self._rand(len(candidates))]]
        promoter.suspended = True
        reason = _SUSPEND_REASONS[self._rand(len(_SUSPEND_REASONS))]
        self._emit(t, "PromoterSuspended", {"promoter_id": promoter.id, "reason": reason})
        if self._chance(33):
            self._at(t + _DAY_S + self._rand(5 * _DAY_S), _REINSTATE, promoter.id)

    def _reinstate(self, t: int, promoter_id: str) -> None:
        self._promoters[promoter_id].suspended = False
        self._emit(t, "PromoterReinstated", {"promoter_id": promoter_id})

    # -------------------------------------------------------------- groups

    def _open(self, t: int, owner_id: str) -> None:
        owner = self._promoters[owner_id]
        if owner.suspended or owner.open_groups >= self._book.rules.max_groups_per_owner:
            return  # the owner gives up; nothing sent
        self._next_group += 1
        group = _Group(f"g{self._next_group:05d}", owner_id, owner.city, owner.tier,
                       _GROUP_SIZES[self._rand(len(_GROUP_SIZES))])
        self._groups[group.id] = group
        self._open_groups.append(group.id)
        owner.open_groups += 1
        self._emit(t, "GroupOpened", {
            "group_id": group.id, "owner_id": owner_id, "city": group.city, "city_tier": group.tier,
        })
        # The owner brings in a first circle of friends over the next hours.
        for _ in range(3 + self._rand(min(group.target_members, 20))):
            self._at(t + 60 + self._rand(6 * _HOUR_S), _MEMBER_JOIN, group.id)

    def _close(self, t: int, group_id: str) -> None:
        group = self._groups[group_id]
        if not group.open:
            return
        group.open = False
        self._open_groups.remove(group_id)
        self._promoters[group.owner].open_groups -= 1
        self._emit(t, "GroupClosed", {"group_id": group_id})

    def _new_customer(self) -> str:
        self._next_customer += 1
        customer = f"c{self._next_customer:06d}"
        self._customers.append(customer)
        return customer

    def _member_join(self, t: int, group_id: str) -> None:
        group = self._groups[group_id]
        if not group.open or len(group.members) >= self._book.rules.max_group_members:
            return
        customer = None
        if self._customers and self._chance(10):  # already a member elsewhere
            candidate = self._customers[self._rand(len(self._customers))]
            if candidate not in group.member_set:
                customer = candidate
        if customer is None:
            customer = self._new_customer()
        if group.members and self._chance(60):
            inviter = group.members[self._rand(len(group.members))]
        else:
            inviter = group.owner
        group.members.append(customer)
        group.member_set.add(customer)
        self._emit(t, "MemberJoined", {"group_id": group_id, "customer_id": customer, "invited_by": inviter})

    def _member_leave(self, t: int, group_id: str) -> None:
        group = self._groups[group_id]
        if not group.members:
            return
        customer = group.members.pop(self._rand(len(group.members)))
        group.member_set.discard(customer)
        self._emit(t, "MemberLeft", {"group_id": group_id, "customer_id": customer})

    def _push(self, t: int, arg: tuple[str, bool]) -> None:
        group_id, spam = arg
        group = self._groups[group_id]
        if not group.open:
            return
        today = self._local_date(t)
        if group.push_date != today:
            group.push_date, group.push_count = today, 0
        category = self._skus[self._category_table[self._rand(len(self._category_table))]]
        fields = {"group_id": group_id, "sku": category[self._rand(len(category))][0]}
        if group.push_count >= self._book.rules.max_daily_pushes:
            if spam:
                self._emit(t, "ProductPushed", fields, rejected="push_quota_exceeded")
            return
        group.push_count += 1
        self._emit(t, "ProductPushed", fields)

    # -------------------------------------------------------------- orders

    def _group_order(self, t: int, group_id: str) -> None:
        group = self._groups[group_id]
        if not group.open or not group.members:
            return
        roll = self._rand(100)
        if roll < 1:
            customer = group.owner  # the owner buys in their own group
        else:
            customer = group.members[self._rand(len(group.members))]
        roll = self._rand(100)
        if roll < 45:
            link: str | None = group.owner
        elif roll < 90:
            link = None
        else:
            link = self._joined[self._rand(len(self._joined))]  # a member shares another promoter's link
        self._place(t, customer, link, group)

    def _link_order(self, t: int, promoter_id: str) -> None:
        link: str | None = promoter_id
        if self._chance(3):
            link = None  # the customer came back through the app: no link, no commission
        if self._chance(2):
            customer = promoter_id  # self-purchase through one's own link
        elif self._customers and self._chance(60):
            customer = self._customers[self._rand(len(self._customers))]
        else:
            customer = self._new_customer()
        self._place(t, customer, link, None)

    def _lines(self, program: str) -> list[dict[str, Any]]:
        count = (1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4)[self._rand(12)]
        lines: list[dict[str, Any]] = []
        used: list[str] = []
        for _ in range(count):
            c = self._category_table[self._rand(len(self._category_table))]
            if program == "jing_xiaojia" and self._chance(40):
                c = len(CATEGORIES) - 1 - self._rand(2)  # agents and designers: appliance, pet/home
            sku, price = self._skus[c][self._rand(_SKUS_PER_CATEGORY)]
            if sku in used:
                continue
            used.append(sku)
            quantity = (1, 1, 1, 1, 1, 1, 1, 2, 2, 3)[self._rand(10)]
            paid = price * quantity
            if self._chance(10):
                paid = max(0, paid - 100 * (1 + self._rand(5)))  # a coupon
            lines.append({"sku": sku, "category": CATEGORIES[c][0], "quantity": quantity, "paid_fen": paid})
        return lines

    def _place(self, t: int, customer: str, link: str | None, group: _Group | None) -> None:
        link_promoter = link if link is not None else (group.owner if group is not None else None)
        # Whom the fold will attribute the order to (SPEC §5), by the customer's binding as the
        # books hold it, decides which programme's shopping habits the lines follow.
        level1 = link_promoter
        book = self._book
        if book.rules.attribution == "protected_binding":
            bound = book.binding(customer)
            if bound is not None and (self._epoch0 + t) * 1_000_000 < bound[1]:
                level1 = bound[0]
        program = self._promoters[level1].program if level1 is not None else "fenxiang"
        line_fields = self._lines(program)
        self._next_order += 1
        order_id = f"o{self._next_order:07d}"
        self._emit(t, "OrderPlaced", {
            "order_id": order_id, "customer_id": customer, "promoter_id": link,
            "group_id": group.id if group is not None else None, "lines": line_fields,
        })
        if self._chance(92):
            self._at(t + 2 * _DAY_S + self._rand(4 * _DAY_S), _COMPLETE, order_id)
        if self._chance(9):  # cancelled within two days, or returned within three weeks
            delay = self._rand(2 * _DAY_S) if self._chance(40) else 3 * _DAY_S + self._rand(18 * _DAY_S)
            self._at(t + _HOUR_S + delay, _REFUND, order_id)

    def _complete(self, t: int, order_id: str) -> None:
        lines = self._book.orders[order_id].lines
        if all(line[LINE_REFUNDED] == line[LINE_PAID] for line in lines) and self._chance(90):
            return  # cancelled before delivery
        self._emit(t, "OrderCompleted", {"order_id": order_id})

    def _refund(self, t: int, order_id: str) -> None:
        order = self._book.orders[order_id]
        left = [(sku, line[LINE_PAID] - line[LINE_REFUNDED]) for sku, line in zip(order.skus, order.lines)]
        open_lines = [(sku, rest) for sku, rest in left if rest > 0]
        if not open_lines:
            return
        roll = self._rand(100)
        if roll < 40:  # the whole order
            refunds = open_lines
        else:
            sku, rest = open_lines[self._rand(len(open_lines))]
            amount = rest if roll < 70 or rest < 2 else 1 + self._rand(rest - 1)  # one line, or part of it
            refunds = [(sku, amount)]
        self._emit(t, "OrderRefunded", {
            "order_id": order_id, "lines": [{"sku": sku, "amount_fen": amount} for sku, amount in refunds],
        })

    def _settle(self, t: int, _: None) -> None:
        self._emit(t, "SettlementRun", {"as_of": self._timestamp(t)})

    # ------------------------------------------------------------- payouts

    def _payout(self, t: int, promoter_id: str) -> None:
        available = self._book.promoters[promoter_id].available_fen
        amount = available if self._chance(50) else available // 1000 * 1000
        if amount < self._book.rules.min_payout_fen or amount > available:
            return
        self._next_payout += 1
        payout_id = f"po{self._next_payout:06d}"
        self._emit(t, "PayoutRequested", {"payout_id": payout_id, "promoter_id": promoter_id, "amount_fen": amount})
        self._at(t + _DAY_S + self._rand(2 * _DAY_S), _PAYOUT_END, payout_id)

    def _payout_end(self, t: int, payout_id: str) -> None:
        if self._chance(7):
            reason = _FAIL_REASONS[self._rand(len(_FAIL_REASONS))]
            self._emit(t, "PayoutFailed", {"payout_id": payout_id, "reason": reason})
        else:
            self._emit(t, "PayoutSettled", {"payout_id": payout_id})

    # --------------------------------------------------------------- rules

    def _adopt(self, t: int, rules: dict[str, Any]) -> None:
        self._emit(t, "RulesAdopted", {"rules": rules})

    # ------------------------------------------------------ bad input

    def _bad_refund(self, t: int, _: None) -> None:
        order_id = f"o-legacy-{self._rand(100_000):05d}"  # placed before the ledger existed
        self._emit(t, "OrderRefunded", {"order_id": order_id, "lines": [{"sku": "daily-001", "amount_fen": 990}]},
                   rejected="unknown_order")

    def _bad_payout(self, t: int, _: None) -> None:
        promoter_id = self._joined[self._rand(len(self._joined))] if self._joined else None
        if promoter_id is None or self._book.rules.min_payout_fen < 2:
            return
        self._next_payout += 1
        amount = 1 + self._rand(self._book.rules.min_payout_fen - 1)
        self._emit(t, "PayoutRequested", {
            "payout_id": f"po{self._next_payout:06d}", "promoter_id": promoter_id, "amount_fen": amount,
        }, rejected="below_minimum_payout")

    def _bad_join(self, t: int, _: None) -> None:
        if not self._open_groups:
            return
        group = self._groups[self._open_groups[self._rand(len(self._open_groups))]]
        customer = self._new_customer()
        stranger = self._new_customer()  # not in the group: the join is refused
        self._customers.remove(customer)  # never joined: keep it out of the pool
        self._customers.remove(stranger)
        self._emit(t, "MemberJoined", {"group_id": group.id, "customer_id": customer, "invited_by": stranger},
                   rejected="not_invited")

    def _bad_open(self, t: int, owner_id: str) -> None:
        owner = self._promoters[owner_id]
        if owner.suspended:
            return
        if not owner.qualified:
            code = "promoter_not_qualified"
        elif owner.open_groups >= self._book.rules.max_groups_per_owner:
            code = "group_limit_exceeded"
        else:
            return
        self._next_group += 1
        self._emit(t, "GroupOpened", {
            "group_id": f"g{self._next_group:05d}", "owner_id": owner_id, "city": owner.city,
            "city_tier": owner.tier,
        }, rejected=code)


def generate(
    seed: int,
    promoters: int = 300,
    days: int = 30,
    start: str = "2026-11-01T00:00:00+08:00",
) -> Iterator[Event]:
    """Events of a simulated programme, as JSON-ready dicts in log order."""
    return Simulation(seed, promoters, days, start).events()


@dataclass(frozen=True, slots=True)
class ExpectedOutcomes:
    """What appending a simulation's events to an empty ledger must give."""

    events: int
    accepted: int
    duplicates: int
    rejected: dict[str, int]  # code → count, codes sorted


def expected_outcomes(
    seed: int,
    promoters: int = 300,
    days: int = 30,
    start: str = "2026-11-01T00:00:00+08:00",
) -> ExpectedOutcomes:
    """Run the simulation and count the outcomes it was designed to produce."""
    sim = Simulation(seed, promoters, days, start)
    for _ in sim.events():
        pass
    rejected = sim.rejections_by_code()
    n_rejected = sum(rejected.values())
    return ExpectedOutcomes(
        events=sim.events_generated,
        accepted=sim.events_generated - sim.redelivered - n_rejected,
        duplicates=sim.redelivered,
        rejected=rejected,
    )


def expected_rejections(
    seed: int,
    promoters: int = 300,
    days: int = 30,
    start: str = "2026-11-01T00:00:00+08:00",
) -> dict[str, int]:
    """Rejection code → count that the simulation sends on purpose (and nothing else is rejected)."""
    return expected_outcomes(seed, promoters, days, start).rejected


def write_jsonl(events: Iterable[Event], path_or_file: str | os.PathLike[str] | IO[str] | IO[bytes]) -> int:
    """Write ``events`` as JSON Lines (UTF-8, compact, keys in event order); return the count.

    ``path_or_file`` is a path (created or truncated) or an open text or
    binary file, which is left open.
    """
    encode = msgspec.json.Encoder().encode
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "wb") as file:
            return _write(events, encode, file.write)
    if isinstance(path_or_file, io.TextIOBase):
        text_write = path_or_file.write
        return _write(events, encode, lambda chunk: text_write(chunk.decode("utf-8")))
    binary: IO[bytes] = path_or_file  # type: ignore[assignment]
    return _write(events, encode, binary.write)


def _write(events: Iterable[Event], encode: Callable[[Any], bytes], write: Callable[[bytes], Any]) -> int:
    count = 0
    chunk: list[bytes] = []
    for event in events:
        chunk.append(encode(event))
        count += 1
        if len(chunk) >= 4096:
            write(b"\n".join(chunk) + b"\n")
            chunk.clear()
    if chunk:
        write(b"\n".join(chunk) + b"\n")
    return count
