"""Seeded random JSON Lines logs for the conformance tests.

    generate(seed, n) -> list[str]     n physical lines, deterministic

The generator keeps a reference Ledger (tests/conformance/reference.py) beside
it only to *choose* plausible next events (a member to leave, a payout that
fits the balance, a rejected refund to re-send once its order exists).  The
outcome of every line is decided later, independently, by the oracle and by
the real library.  About half of the lines are accepted; the rest exercise
every rejection code of SPEC.md, re-deliveries, conflicting ids and malformed
input.  Ids come from small pools so that collisions happen.

Version 2 (v2=True): months are closed (PeriodClosed soon after a
month ends, and at bad times: already closed, not yet ended, malformed periods),
corrections arrive back-dated into closed months (refunds, late orders,
settlements, payouts), and the time zone changes around month ends.
"""
from __future__ import annotations

import datetime as _dt
import json
import random
import zoneinfo

try:
    from . import reference as R
except ImportError:  # run as a plain module from this directory
    import reference as R  # type: ignore[no-redef]

__all__ = ["generate"]

UTC = _dt.timezone.utc
PROGRAMS = list(R.PROGRAMS)
CITIES = ["北京", "上海", "深圳", "临沂", "重庆", "乌鲁木齐", "Hangzhou", "成都"]
CATEGORIES = ["daily", "appliance", "fresh", "母婴", "数码"]
SKUS = ["s1", "s2", "s3", "s4", "s5", "s6", "茶叶", "sku/7"]
ZONES = ["Asia/Shanghai", "UTC", "America/Los_Angeles", "Pacific/Kiritimati",
         "Asia/Kolkata", "America/St_Johns", "Pacific/Pago_Pago", "Europe/London"]
BAD_PERIODS = ["2026-13", "2026-1", "2026-11-01", "2026-00", "0000-12", "26-11", " 2026-11",
               "2026/11", "２０２６-11", "", 202611, None, ["2026-11"]]
BAD_ZONES = ["Mars/Olympus", "asia/shanghai", "+08:00", "", "Beijing", "UTC+8",
             "Asia/Beijing", "Asia/Shanghai ", 8]
OFFSETS = ["+08:00", "Z", "+00:00", "-08:00", "+14:00", "+05:30", "-03:30", "-11:00",
           "+09:00"]
REASONS = ["", "违规推广", "fraud", "bank account closed", "tab\there", "行\u2028分隔",
           "quote \" and \\ backslash", "ctrl\u0001char", "del\u007fchar", "x" * 500,
           "emoji 😀", "nel\u0085char"]


# events that may arrive back-dated into a closed month (v2 corrections)
BACKDATED = ("OrderRefunded", "OrderPlaced", "OrderCompleted", "SettlementRun",
             "PayoutRequested", "PayoutSettled", "PayoutFailed")


def _offset(text: str) -> _dt.timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    return _dt.timezone(sign * _dt.timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))


class _Gen:
    def __init__(self, seed: int, n: int, dup_keys: bool, v2: bool = False):
        self.rng = random.Random(seed)
        self.dup_keys = dup_keys
        self.v2 = v2
        self.last_month: str | None = None   # local month of the previous event (v2)
        self.close_due: int | None = None    # line count at which to close the last month
        self.n = n
        rng = self.rng
        n_promoters = min(40, max(6, n // 60))
        self.promoter_pool = (["A", "B", "C", "北京", "上海", "深圳"]
                              + [f"P{i}" for i in range(1, n_promoters - 5)])
        self.customer_pool = [f"c{i}" for i in range(1, max(8, n // 25))] + ["北京", "B", "P1"]
        self.group_pool = [f"g{i}" for i in range(1, max(5, n // 45))] + ["群一"]
        self.order_pool = [f"o{i}" for i in range(1, max(12, n // 6))]
        self.payout_pool = [f"po{i}" for i in range(1, max(6, n // 25))]
        self.ledger = R.Ledger()
        self.lines: list[str] = []
        self.accepted: list[tuple[str, dict]] = []   # (raw text, raw object)
        self.retry: list[str] = []                   # rejected lines worth re-sending
        self.next_event = 1
        start_day = rng.choice([_dt.datetime(2026, 10, 29, 2, tzinfo=UTC),   # US DST ends 11-01
                                _dt.datetime(2026, 11, 28, 9, tzinfo=UTC),
                                _dt.datetime(2026, 12, 30, 1, tzinfo=UTC),   # year end
                                _dt.datetime(2026, 10, 23, 20, tzinfo=UTC),  # UK DST ends 10-25
                                _dt.datetime(2027, 3, 12, 3, tzinfo=UTC),    # US DST starts 03-14
                                _dt.datetime(2028, 2, 27, 12, tzinfo=UTC)])  # leap day
        self.clock = start_day
        self.now = start_day
        span_days = min(75.0, max(6.0, n / 50))
        self.mean_step = span_days * 86400 / n

    # ---- small helpers ---------------------------------------------------------

    def pick(self, seq):
        return self.rng.choice(seq)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def new_event_id(self) -> str:
        k = self.next_event
        self.next_event += 1
        r = self.rng.random()
        if r < 0.03:
            return f"事件{k}"
        if r < 0.035:
            return ("长" * 120 + f"{k:08d}")[-128:]        # exactly 128 code points
        if r < 0.037:
            return ("😀" * 120 + f"{k:08d}")[-128:]        # 128 code points, 256 UTF-16 units
        return f"e{k}"

    def tick(self) -> _dt.datetime:
        """Advance the business clock; return this event's `at` (sometimes late)."""
        rng = self.rng
        r = rng.random()
        if r < 0.06:   # snap to just before/at the next local midnight somewhere
            hour = self.pick([16, 0, 8, 10, 5])   # Shanghai, UTC, LA (PST), Kiritimati, -05:00
            target = self.clock.replace(hour=hour, minute=0, second=0, microsecond=0)
            if target <= self.clock:
                target += _dt.timedelta(days=1)
            self.clock = target - _dt.timedelta(
                microseconds=rng.choice([1, 0, 500000, 1000000, 2000000]))
        else:
            self.clock += _dt.timedelta(seconds=rng.expovariate(1 / self.mean_step))
        if rng.random() < 0.07:   # a late, out-of-order event
            return self.clock - _dt.timedelta(seconds=rng.uniform(0, 2 * 86400))
        return self.clock

    def ts(self, t: _dt.datetime | None = None) -> str:
        t = self.clock if t is None else t
        off = self.pick(OFFSETS)
        local = t.astimezone(_offset(off))
        text = local.strftime("%Y-%m-%dT%H:%M:%S")
        r = self.rng.random()
        if local.microsecond and r < 0.5:
            text += "." + f"{local.microsecond:06d}"[: self.rng.randint(6, 6)]
        elif r < 0.1:
            text += "." + "0" * self.rng.randint(1, 6)
        return text + ("Z" if off == "Z" else off)

    def dumps(self, obj) -> str:
        if isinstance(obj, dict) and self.chance(0.3):
            items = list(obj.items())
            self.rng.shuffle(items)
            obj = dict(items)
        sep = (",", ":") if self.chance(0.5) else (", ", ": ")
        return json.dumps(obj, ensure_ascii=self.chance(0.3), separators=sep)

    # ---- state views (from the helper ledger) ------------------------------------

    def promoters(self, **flags) -> list[str]:
        return [p for p, st in self.ledger.promoters.items()
                if all(st[k] == v for k, v in flags.items())]

    def some_promoter(self, p_known=0.9) -> str:
        known = list(self.ledger.promoters)
        if known and self.chance(p_known):
            return self.pick(known)
        return self.pick(self.promoter_pool + ["nobody"])

    def some_group(self, p_known=0.9, open_only=False) -> str:
        known = [g for g, st in self.ledger.groups.items() if st["open"] or not open_only]
        if known and self.chance(p_known):
            return self.pick(known)
        return self.pick(self.group_pool)

    def some_order(self, p_known=0.85) -> str:
        known = list(self.ledger.orders)
        if known and self.chance(p_known):
            return self.pick(known)
        return self.pick(self.order_pool)

    # ---- event builders: each returns a raw JSON object ----------------------------

    def envelope(self, etype: str, **fields) -> dict:
        at = self.now
        if self.v2 and self.ledger.closed is not None and etype in BACKDATED and self.chance(0.12):
            at = self.in_closed_month()
        return {"type": etype, "id": self.new_event_id(), "at": self.ts(at), **fields}

    # ---- version 2: closed months --------------------------------------------

    def local_month(self, t: _dt.datetime) -> str:
        return R.month_of(R.local_date(t, self.ledger.rules["timezone"]))

    def in_closed_month(self) -> _dt.datetime:
        """An instant inside a closed month (local), mostly the latest one: a correction."""
        closed = self.ledger.closed
        month = closed
        if self.chance(0.2):   # an older month
            y, m = int(closed[:4]), int(closed[5:])
            month = f"{y - (m == 1):04d}-{(m - 2) % 12 + 1:02d}"
        tz = zoneinfo.ZoneInfo(self.ledger.rules["timezone"])
        y, m = int(month[:4]), int(month[5:])
        day = self.pick([1, 1, 2, 15, 27, 28])
        local = _dt.datetime(y, m, day, self.rng.randrange(24), self.rng.randrange(60),
                             self.pick([0, 59]), tzinfo=tz)
        if self.chance(0.3):   # the very last instant of the month
            first_next = _dt.datetime(y + m // 12, m % 12 + 1, 1, tzinfo=tz)
            local = first_next - _dt.timedelta(microseconds=self.pick([1, 1000000]))
        return local.astimezone(UTC)

    def ev_period_closed(self, kind: str | None = None) -> dict:
        current = self.local_month(self.now)
        closed = self.ledger.closed
        previous = f"{int(current[:4]) - (current[5:] == '01'):04d}-" \
                   f"{(int(current[5:]) - 2) % 12 + 1:02d}"
        kind = kind or self.rng.choices(["sensible", "already", "not_ended", "malformed"],
                                        [5, 2, 2, 2])[0]
        if kind == "sensible" and (closed is None or previous > closed):
            period = previous
        elif kind == "already" and closed is not None:
            period = self.pick([closed, closed, "2026-01", "1999-12"])
        elif kind == "malformed":
            period = self.pick(BAD_PERIODS)
        else:   # not ended (or nothing sensible is left to close)
            period = self.pick([current, current, R.next_month(current), "9999-12"])
        obj = self.envelope("PeriodClosed", period=period)
        if period is None and self.chance(0.5):
            del obj["period"]
        return obj

    def ev_zone_change(self) -> dict:
        """The whole rule set in force, with another time zone."""
        rules = dict(self.ledger.rules)
        rules["timezone"] = self.pick([z for z in ZONES if z != rules["timezone"]])
        return self.envelope("RulesAdopted", rules=rules)

    def v2_event(self) -> str | None:
        """A month-end event when one is due, else None."""
        month = self.local_month(self.now)
        if self.last_month is not None and month > self.last_month and self.chance(0.8):
            self.close_due = len(self.lines) + self.rng.randrange(0, 25)
        self.last_month = max(month, self.last_month or month)
        if self.close_due is not None and len(self.lines) >= self.close_due:
            self.close_due = None
            return self.dumps(self.ev_period_closed("sensible"))
        local = R.local_date(self.now, self.ledger.rules["timezone"])
        month_end = (local + _dt.timedelta(days=1)).day == 1 or local.day == 1
        if month_end and self.chance(0.04):
            return self.dumps(self.ev_zone_change())
        return None

    def valid_rules(self) -> dict:
        rng = self.rng
        rules: dict = {}
        if self.chance(0.5):
            rules["level1_bps"] = self.pick([0, 500, 1000, 1500, 2500, 9000, 10000])
        if self.chance(0.5):
            rules["level2_bps"] = self.pick([0, 100, 200, 350])
        if rules.get("level1_bps", 1000) + rules.get("level2_bps", 200) > 10000:
            rules["level2_bps"] = 0
        if self.chance(0.5):
            cats = rng.sample(CATEGORIES, rng.randint(0, 3))
            if self.chance(0.03):   # the 1,000-entry limit, inclusive
                cats += [f"cat{i}" for i in range(1000 - len(cats))]
            rules["category_rates"] = {c: {"level1_bps": rng.randint(0, 3000),
                                           "level2_bps": rng.randint(0, 700)} for c in cats}
            if cats and self.chance(0.1):
                rules["category_rates"][cats[0]] = self.pick([
                    {"level1_bps": 10000, "level2_bps": 0}, {"level1_bps": 0, "level2_bps": 0},
                    {"level1_bps": 5000, "level2_bps": 5000}])
        if self.chance(0.5):
            rules["attribution"] = self.pick(["last_touch", "protected_binding"])
        if self.chance(0.6):
            rules["binding_days"] = self.pick([1, 1, 2, 3, 5, 15, 365])
        if self.chance(0.8):
            rules["settle_after_days"] = self.pick([0, 0, 1, 2, 3])
        if self.chance(0.8):
            rules["min_payout_fen"] = self.pick([1, 1, 50, 100, 500, 1000])
        if self.chance(0.7):
            rules["max_groups_per_owner"] = self.pick([1, 1, 2, 2, 10])
        if self.chance(0.7):
            rules["max_group_members"] = self.pick([1, 2, 3, 3, 500])
        if self.chance(0.7):
            rules["max_daily_pushes"] = self.pick([0, 1, 2, 3, 3, 40])
        if self.chance(0.4):
            rules["self_purchase_commission"] = self.chance(0.5)
        if self.chance(0.6):
            rules["timezone"] = self.pick(ZONES)
        return rules

    def invalid_rules(self):
        rules = self.valid_rules()
        bad = self.pick([
            ("level3_bps", 100), ("level1_bps", 10001), ("level1_bps", -1),
            ("level1_bps", True), ("level1_bps", 1000.0), ("level1_bps", "1000"),
            ("level1_bps", None), ("binding_days", 0), ("binding_days", 366),
            ("settle_after_days", -1), ("min_payout_fen", 0), ("max_group_members", 0),
            ("max_groups_per_owner", 10**6 + 1), ("max_daily_pushes", -1),
            ("attribution", "first_touch"), ("attribution", None),
            ("self_purchase_commission", 1), ("self_purchase_commission", "true"),
            ("timezone", self.pick(BAD_ZONES)), ("timezone", None),
            ("category_rates", []), ("category_rates", None),
            ("category_rates", {"daily": {"level1_bps": 100}}),
            ("category_rates", {"daily": {"level1_bps": 100, "level2_bps": 1, "level3_bps": 1}}),
            ("category_rates", {"daily": {"level1_bps": 9000, "level2_bps": 1001}}),
            ("category_rates", {"daily": {"level1_bps": 1.5, "level2_bps": 1}}),
            ("category_rates", {"": {"level1_bps": 1, "level2_bps": 1}}),
            ("category_rates", {"x" * 129: {"level1_bps": 1, "level2_bps": 1}}),
            ("category_rates", {"daily": 100}),
            ("category_rates", {f"c{i}": {"level1_bps": 1, "level2_bps": 1}
                                for i in range(1001)}),
            ("__whole__", self.pick([None, [], "defaults", 0])),
            ("__sum__", None),
        ])
        if bad[0] == "__whole__":
            return bad[1]
        if bad[0] == "__sum__":
            rules["level1_bps"], rules["level2_bps"] = 9000, 1001
            return rules
        rules[bad[0]] = bad[1]
        return rules

    def ev_rules(self) -> dict:
        return self.envelope("RulesAdopted", rules=self.valid_rules())

    def ev_joined(self) -> dict:
        known = set(self.ledger.promoters)
        fresh = [p for p in self.promoter_pool if p not in known]
        pid = self.pick(fresh) if fresh and self.chance(0.85) else self.pick(self.promoter_pool)
        r = self.rng.random()
        if r < 0.3 or not known:
            inviter = None
        elif r < 0.9:
            inviter = self.pick(sorted(known))
        else:
            inviter = self.pick(fresh + [pid]) if fresh else pid
        fields = {"promoter_id": pid, "program": self.pick(PROGRAMS), "inviter_id": inviter,
                  "city": self.pick(CITIES), "city_tier": self.rng.randint(1, 5)}
        if inviter is None and self.chance(0.4):
            del fields["inviter_id"]
        return self.envelope("PromoterJoined", **fields)

    def ev_promoter_flag(self, etype: str) -> dict:
        if etype == "PromoterReinstated":
            pool = self.promoters(suspended=True)
        elif etype == "PromoterQualified":
            pool = self.promoters(qualified=False)
        else:
            pool = self.promoters(suspended=False)
        pid = self.pick(pool) if pool and self.chance(0.8) else self.some_promoter()
        fields = {"promoter_id": pid}
        if etype == "PromoterSuspended":
            fields["reason"] = self.pick(REASONS)
        return self.envelope(etype, **fields)

    def ev_group_opened(self) -> dict:
        known = set(self.ledger.groups)
        fresh = [g for g in self.group_pool if g not in known]
        gid = self.pick(fresh) if fresh and self.chance(0.85) else self.pick(self.group_pool)
        good = self.promoters(qualified=True, suspended=False)
        r = self.rng.random()
        unqualified, suspended = self.promoters(qualified=False), self.promoters(suspended=True)
        if good and r < 0.7:
            owner = self.pick(good)
        elif unqualified and r < 0.8:
            owner = self.pick(unqualified)
        elif suspended and r < 0.9:
            owner = self.pick(suspended)
        else:
            owner = self.some_promoter()
        return self.envelope("GroupOpened", group_id=gid, owner_id=owner,
                             city=self.pick(CITIES), city_tier=self.rng.randint(1, 5))

    def ev_group_closed(self) -> dict:
        return self.envelope("GroupClosed", group_id=self.some_group(open_only=self.chance(0.8)))

    def ev_member_joined(self) -> dict:
        gid = self.some_group(open_only=self.chance(0.85))
        g = self.ledger.groups.get(gid)
        customer = self.pick(self.customer_pool)
        r = self.rng.random()
        if g is None or r < 0.1:
            inviter = self.pick(self.customer_pool + self.promoter_pool)
        elif r < 0.55 or not g["members"]:
            inviter = g["owner_id"]
        else:
            inviter = self.pick(sorted(g["members"]))
        return self.envelope("MemberJoined", group_id=gid, customer_id=customer,
                             invited_by=inviter)

    def ev_member_left(self) -> dict:
        gid = self.some_group()
        g = self.ledger.groups.get(gid)
        if g is not None and g["members"] and self.chance(0.8):
            customer = self.pick(sorted(g["members"]))
        else:
            customer = self.pick(self.customer_pool)
        return self.envelope("MemberLeft", group_id=gid, customer_id=customer)

    def ev_pushed(self) -> dict:
        return self.envelope("ProductPushed", group_id=self.some_group(open_only=self.chance(0.9)),
                             sku=self.pick(SKUS))

    def order_lines(self) -> list[dict]:
        if self.chance(0.01):   # a big basket, up to the 200-line limit
            return [{"sku": f"bulk{i}", "category": self.pick(CATEGORIES),
                     "quantity": self.pick([1, 10**6]),
                     "paid_fen": self.pick([0, 1, 10**12, self.rng.randint(1, 10**9)])}
                    for i in range(self.rng.choice([200, 199, 57]))]
        skus = self.rng.sample(SKUS, self.rng.choice([1, 1, 1, 2, 2, 3]))
        return [{"sku": s, "category": self.pick(CATEGORIES), "quantity": self.rng.randint(1, 5),
                 "paid_fen": self.pick([0, 1, 99, 999, 9990, 19900, self.rng.randint(1, 60000)])}
                for s in skus]

    def ev_order(self) -> dict:
        known = set(self.ledger.orders)
        fresh = [o for o in self.order_pool if o not in known]
        oid = self.pick(fresh) if fresh and self.chance(0.9) else self.pick(self.order_pool)
        r = self.rng.random()
        promoter = None if r < 0.5 else self.some_promoter(0.93)
        r = self.rng.random()
        group = None if r < 0.3 else self.some_group(0.95)
        customer = self.pick(self.customer_pool)
        if group in self.ledger.groups and self.ledger.groups[group]["members"] and self.chance(0.5):
            customer = self.pick(sorted(self.ledger.groups[group]["members"]))
        link = promoter if promoter is not None else (
            self.ledger.groups[group]["owner_id"] if group in self.ledger.groups else None)
        if link in self.ledger.promoters:
            r = self.rng.random()
            if r < 0.08:     # a promoter buying through its own link (self purchase)
                customer = link
            elif r < 0.14 and self.ledger.promoters[link]["inviter_id"] is not None:
                customer = self.ledger.promoters[link]["inviter_id"]   # the customer is L2
        fields = {"order_id": oid, "customer_id": customer, "promoter_id": promoter,
                  "group_id": group, "lines": self.order_lines()}
        for k in ("promoter_id", "group_id"):
            if fields[k] is None and self.chance(0.4):
                del fields[k]
        return self.envelope("OrderPlaced", **fields)

    def ev_completed(self) -> dict:
        pending = [o for o, st in self.ledger.orders.items() if st["completed_at"] is None]
        oid = self.pick(pending) if pending and self.chance(0.8) else self.some_order()
        return self.envelope("OrderCompleted", order_id=oid)

    def ev_refund(self) -> dict:
        oid = self.some_order(0.8)
        o = self.ledger.orders.get(oid)
        if o is None:
            lines = [{"sku": self.pick(SKUS), "amount_fen": self.rng.randint(1, 5000)}]
        else:
            skus = self.rng.sample(sorted(o["lines"]), self.rng.randint(1, len(o["lines"])))
            lines = []
            for s in skus:
                ln = o["lines"][s]
                left = ln["paid"] - ln["refunded"]
                r = self.rng.random()
                if left >= 1 and r < 0.75:
                    amount = self.pick([left, self.rng.randint(1, left), max(1, left // 2)])
                else:
                    amount = left + self.rng.randint(1, 100)
                lines.append({"sku": s, "amount_fen": amount})
            if self.chance(0.08):
                lines.append({"sku": "no-such-sku", "amount_fen": 1})
        return self.envelope("OrderRefunded", order_id=oid, lines=lines)

    def ev_settlement(self) -> dict:
        as_of = self.now + _dt.timedelta(seconds=self.rng.uniform(-86400, 4 * 86400))
        return self.envelope("SettlementRun", as_of=self.ts(as_of))

    def ev_payout(self) -> dict:
        known = set(self.ledger.payouts)
        fresh = [p for p in self.payout_pool if p not in known]
        pid = self.pick(fresh) if fresh and self.chance(0.9) else self.pick(self.payout_pool)
        minimum = self.ledger.rules["min_payout_fen"]
        rich = [p for p, st in self.ledger.promoters.items() if st["available_fen"] >= minimum]
        if rich and self.chance(0.7):
            who = self.pick(rich)
            avail = self.ledger.promoters[who]["available_fen"]
            amount = self.pick([minimum, avail, self.rng.randint(minimum, avail), avail + 1,
                                max(1, minimum - 1)])
        else:
            who = self.some_promoter()
            amount = self.pick([1, 50, 198, 1000, 1500, 10**12])
        return self.envelope("PayoutRequested", payout_id=pid, promoter_id=who,
                             amount_fen=amount)

    def ev_payout_end(self, etype: str) -> dict:
        open_ = [p for p, st in self.ledger.payouts.items() if not st["finished"]]
        if open_ and self.chance(0.75):
            pid = self.pick(open_)
        elif self.ledger.payouts and self.chance(0.6):
            pid = self.pick(sorted(self.ledger.payouts))
        else:
            pid = self.pick(self.payout_pool)
        fields = {"payout_id": pid}
        if etype == "PayoutFailed":
            fields["reason"] = self.pick(REASONS)
        return self.envelope(etype, **fields)

    # ---- malformed, duplicate and conflicting lines ------------------------------

    def valid_object(self) -> dict:
        return self.pick(self.builders)()

    def malformed(self) -> str:
        rng = self.rng
        kind = rng.randrange(14)
        if kind == 0:
            return self.pick(["not json", "{", "}", "[1,2]", "null", "42", '"OrderPlaced"',
                              "{'type': 'PromoterJoined'}", '{"type":"RulesAdopted",}',
                              '{"type":"SettlementRun","id":"nan1","at":NaN}',
                              "\ufeff{}", "{} {}", "true", "[]"])
        if kind == 1:  # truncated JSON
            text = self.dumps(self.valid_object())
            return text[: rng.randint(1, len(text) - 1)]
        obj = self.valid_object()
        fields = [k for k in obj if k not in ("type",)]
        if kind == 2:  # unknown field
            obj[self.pick(["note", "Type", "extra", "订单"])] = self.pick([1, "x", None])
        elif kind == 3:  # missing field
            required = [k for k in obj if not (obj[k] is None)]
            del obj[self.pick(required)]
        elif kind == 4:  # wrong type
            key = self.pick(fields)
            obj[key] = self.pick([123, 1.5, True, None, ["x"], {"a": 1}, "12", ""])
        elif kind == 5:  # bad timestamp
            bad = self.pick(["2026-11-01T10:00:00", "2026-11-01t10:00:00Z",
                             "2026-11-01T10:00:00z", "2026-11-01T10:00:00.1234567Z",
                             "2026-11-01T10:00:00+0800", "2026-11-01 10:00:00+08:00",
                             "2026-11-31T10:00:00+08:00", "2026-11-01T24:00:00Z",
                             "2026-11-01T10:00:60Z", "2026-11-01T10:00:00+08",
                             "2026-11-01T10:00:00.Z", "26-11-01T10:00:00Z",
                             "2026-11-01T10:00Z", "2026-11-01T10:00:00+24:00",
                             "2026-1-01T10:00:00Z", "1762000000", "",
                             "2026-11-01T10:00:00+08:60", "2026-11-01T10:00:00+8:00",
                             "2026-11-01T10:00:00 +08:00", "2026-11-01T10:00:00.000000000Z",
                             "2026-02-29T10:00:00Z", "２０２６-11-01T10:00:00Z"])
            if obj["type"] == "SettlementRun" and self.chance(0.5):
                obj["as_of"] = bad
            else:
                obj["at"] = bad
        elif kind == 6:  # bad ids
            key = self.pick([k for k in fields if k not in ("at",) and isinstance(obj[k], str)])
            obj[key] = self.pick(["", "x" * 129, "长" * 129, "😀" * 129])
        elif kind == 7:  # unknown / miscased type
            obj["type"] = self.pick(["OrderCancelled", "orderplaced", "ORDER_PLACED", "", None, 7])
        elif kind == 8:  # bad order or refund lines
            oid = self.pick(self.order_pool)
            line = {"sku": "s1", "category": "daily", "quantity": 1, "paid_fen": 100}
            lines = self.pick([
                [], [line] * 2, [dict(line, quantity=0)], [dict(line, paid_fen=-1)],
                [dict(line, paid_fen=10**12 + 1)], [dict(line, quantity=10**6 + 1)],
                [dict(line, extra=1)], [{"sku": "s1", "quantity": 1, "paid_fen": 5}],
                [dict(line, sku=f"s{i}") for i in range(201)], "s1", None,
                [dict(line, paid_fen=100.0)],
            ])
            if self.chance(0.5):
                obj = self.envelope("OrderPlaced", order_id=oid, customer_id="c1",
                                    promoter_id=None, group_id=None, lines=lines)
            else:
                rl = self.pick([[], [{"sku": "s1", "amount_fen": 0}],
                                [{"sku": "s1", "amount_fen": 5}] * 2,
                                [{"sku": "s1"}], [{"sku": "s1", "amount_fen": True}],
                                [{"sku": "s1", "amount_fen": 10**12 + 1}]])
                obj = self.envelope("OrderRefunded", order_id=oid, lines=rl)
        elif kind == 9:  # enum and range errors
            obj = self.pick([
                lambda: self.envelope("PromoterJoined", promoter_id="Z", program="pyramid",
                                      inviter_id=None, city="北京", city_tier=1),
                lambda: self.envelope("PromoterJoined", promoter_id="Z", program="fenxiang",
                                      inviter_id=None, city="北京", city_tier=self.pick([0, 6, "1"])),
                lambda: self.envelope("GroupOpened", group_id="gx", owner_id="A", city="",
                                      city_tier=2),
                lambda: self.envelope("PayoutRequested", payout_id="pz", promoter_id="A",
                                      amount_fen=self.pick([0, -5, 10**12 + 1])),
                lambda: self.envelope("PromoterSuspended", promoter_id="A", reason="x" * 501),
                lambda: self.envelope("PayoutFailed", payout_id="po1", reason=None),
            ])()
        elif kind == 10:  # invalid rules
            obj = self.envelope("RulesAdopted", rules=self.invalid_rules())
            if self.chance(0.15):  # an envelope error wins over the rules error
                obj["at"] = "2026-11-01T10:00:00"
        elif kind == 11:  # rules missing entirely
            obj = self.envelope("RulesAdopted")
        elif kind == 12:  # not an object at all, but with an id inside
            return self.dumps([obj])
        else:  # top-level id of the wrong type (reported id must be null)
            obj["id"] = self.pick([17, None, ["e1"], True])
        return self.dumps(obj)

    def redeliver(self) -> str | None:
        if not self.accepted:
            return None
        text, obj = self.pick(self.accepted[-200:] if self.chance(0.7) else self.accepted)
        r = self.rng.random()
        if r < 0.5:
            return text                                     # byte-identical re-delivery
        obj = json.loads(json.dumps(obj))
        if r < 0.8:                                         # same event, other spelling
            at = R.parse_ts(obj["at"])
            obj["at"] = self.ts(at)
            for key in ("promoter_id", "group_id", "inviter_id"):
                if key in obj and obj[key] is None and self.chance(0.5):
                    del obj[key]
            if obj["type"] == "RulesAdopted" and self.chance(0.5):
                obj["rules"] = R.decode_rules(obj["rules"])   # explicit defaults
            return self.dumps(obj)
        # conflicting: same id, different content
        key = self.pick([k for k in obj if k not in ("type", "id")])
        if key == "at":
            obj["at"] = self.ts(R.parse_ts(obj["at"]) + _dt.timedelta(seconds=1))
        elif key == "rules":
            obj["rules"] = self.valid_rules()
        elif isinstance(obj[key], int) and not isinstance(obj[key], bool):
            obj[key] = obj[key] + 1 if key != "city_tier" else obj[key] % 5 + 1
        elif key == "lines":
            obj["lines"] = list(reversed(obj["lines"])) if len(obj["lines"]) > 1 else \
                [dict(obj["lines"][0], sku=obj["lines"][0]["sku"] + "x")]
        elif key == "program":
            obj["program"] = "cloud_store" if obj["program"] != "cloud_store" else "fenxiang"
        elif isinstance(obj[key], str):
            obj[key] = obj[key] + "2"
        else:
            obj[key] = self.pick(self.promoter_pool)
        return self.dumps(obj)

    def duplicate_keys(self) -> str:
        text = self.dumps(self.valid_object())
        return text[:-1] + ', "id": "dupkey"}' if self.chance(0.5) else \
            '{"type": "PromoterQualified", "type": "PromoterQualified", ' + text[1:]

    # ---- main loop -------------------------------------------------------------

    def build(self) -> list[str]:
        self.builders = [
            self.ev_rules, self.ev_joined, lambda: self.ev_promoter_flag("PromoterQualified"),
            lambda: self.ev_promoter_flag("PromoterSuspended"),
            lambda: self.ev_promoter_flag("PromoterReinstated"), self.ev_group_opened,
            self.ev_group_closed, self.ev_member_joined, self.ev_member_left, self.ev_pushed,
            self.ev_order, self.ev_completed, self.ev_refund, self.ev_settlement, self.ev_payout,
            lambda: self.ev_payout_end("PayoutSettled"), lambda: self.ev_payout_end("PayoutFailed"),
        ]
        weights = [3, 6, 4, 1.5, 1.5, 5, 1.2, 10, 3, 6, 14, 8, 6, 4, 6, 2.5, 1.5]
        if self.v2:
            self.builders.append(self.ev_period_closed)
            weights.append(1.2)
        profile = self.rng.choice(["balanced", "balanced", "rules_churn", "money", "groups"])
        if profile == "rules_churn":     # rates, modes and time zones change all the time
            weights[0] = 14
        elif profile == "money":         # orders, refunds, settlements and payouts
            for i, w in ((10, 22), (11, 12), (12, 10), (13, 8), (14, 10), (15, 4), (16, 3)):
                weights[i] = w
        elif profile == "groups":        # membership, pushes, suspensions
            for i, w in ((3, 4), (4, 4), (6, 3), (7, 18), (8, 8), (9, 12)):
                weights[i] = w
        # a realistic opening: small limits, a few promoters, a qualified owner
        opening = [self.ev_rules, self.ev_joined, self.ev_joined, self.ev_joined,
                   lambda: self.ev_promoter_flag("PromoterQualified"),
                   lambda: self.ev_promoter_flag("PromoterQualified"), self.ev_group_opened]
        while len(self.lines) < self.n:
            self.now = self.tick()
            if opening:
                text = self.dumps(opening.pop(0)())
            elif self.v2 and (month_end := self.v2_event()) is not None:
                text = month_end
            else:
                r = self.rng.random()
                if r < 0.012:
                    text = self.pick(["", "", "   ", "\t", " \r"])
                elif r < 0.07:
                    text = self.redeliver() or ""
                elif r < 0.09 and self.retry:
                    text = self.retry.pop(self.rng.randrange(len(self.retry)))
                elif r < 0.17:
                    text = self.malformed()
                elif r < 0.172 and self.dup_keys:
                    text = self.duplicate_keys()
                else:
                    builder = self.rng.choices(self.builders, weights)[0]
                    text = self.dumps(builder())
            if self.chance(0.01) and text:
                text += "\r"   # a CRLF line ending
            self.lines.append(text)
            self.observe(text)
        return self.lines

    def observe(self, text: str) -> None:
        if R._is_blank(text):
            return
        outcome, code, _ = self.ledger.append_text(text)
        if outcome == "accepted":
            self.accepted.append((text, json.loads(text)))
        elif code in ("unknown_order", "unknown_promoter", "unknown_group", "unknown_payout") \
                and self.chance(0.5):
            self.retry.append(text)   # e.g. a refund that arrived before its order


def generate(seed: int, n: int, *, dup_keys: bool = False, v2: bool = False) -> list[str]:
    """n physical JSON Lines lines (without line terminators), deterministic in seed.

    dup_keys=True also emits objects with a repeated member name, which SPEC
    does not settle (reference.py decision A1); off by default so that one
    policy difference does not shift every later log position.  v2=True
    adds SPEC version 2: closed months, bad PeriodClosed lines, back-dated
    corrections, zone changes at month ends (off by default, so that callers
    that replay only version-1 events keep their logs)."""
    return _Gen(seed, n, dup_keys, v2).build()
