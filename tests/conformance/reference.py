"""Independent reference implementation of SPEC.md (version 2), used only as a
test oracle for the real ``supernova_ledger``.  Written from SPEC.md alone,
standard library only, optimised for being read rather than for speed.

Public surface:
    run(lines)            -> (accepted canonical events, rejections)
    report(canonical_lines, period=None, top=None, until=None) -> dict
    explain(canonical_lines, promoter_id, period=None, until=None) -> dict (§8.2)
    statement(canonical_lines, period, until=None, promoter=None) -> dict (§8.3)
    canonical_json(obj)   -> bytes
    Ledger                 the state machine (used by the generator too);
                           Ledger.postings (§6.1, each with its promoter_id)
                           and Ledger.journal (§2.1 rejection journal)

SPEC AMBIGUITIES AND THE DECISIONS TAKEN HERE
(numbered so that the lead can compare; every one is also in the report)

 A1  Duplicate keys in a JSON object (anywhere in the line) make the event
     undecodable: invalid_event.  The rejection's id is still the string
     value of the last "id" member, if any.  (An auditor would not want a
     reader-dependent "last one wins".)
 A2  NaN / Infinity / -Infinity literals are not JSON: invalid_event, id null.
 A3  A number written with a fraction or exponent (1.0, 1e3) is never an int,
     even when its value is integral: invalid_event (invalid_rules inside
     rules).  -0 is the integer 0.
 A4  `rules` missing from a RulesAdopted -> invalid_event (missing required
     field); `rules` present but not an object (including null) ->
     invalid_rules.  A rule given as null -> invalid_rules (null is not
     "omitted").  The rules object is only examined once everything else in
     the event decoded fine.
 A5  category_rates keys are category identifiers, so 1-128 code points;
     an entry must have exactly level1_bps and level2_bps; each entry also
     obeys level1_bps + level2_bps <= 10000.  Any violation: invalid_rules.
 A6  "Known to the tz database" = a key of zoneinfo.available_timezones()
     (case-sensitive; "UTC", "Etc/GMT-14", "US/Pacific" are known;
     "asia/shanghai", "+08:00", "" are not).
 A7  owner_id (GroupOpened) is a person identifier: 1-128 code points, like
     promoter_id.  `reason` is required (not optional) and may be "".
 A8  Timestamps: [0-9] digits only, month/day/hour/minute/second must form a
     real date-time (no leap second 60), offset hours 00-23 and minutes
     00-59, "-00:00" accepted as UTC, and the instant's UTC date must lie in
     0001-01-02..9999-12-30 (so that its local date in every zone exists),
     else invalid_event.  Instant arithmetic (t + N days) never overflows.
     (The range was first 0001..9999; narrowed to the library's range, seen
     in its rejection message, because it is the sensible one.)
 A9  A line is blank (skipped) when it is empty or holds only JSON
     whitespace (space, tab, CR).  Lines are split on "\n" only.
 A10 A JSON line whose top-level value is not an object -> invalid_event,
     id null.  The reported id is the "id" member whenever it is a string,
     even if it is not a valid id (empty, >128 code points).
 A11 push_quota_exceeded: each accepted push keeps the local date it had
     when it was accepted (time zone then in force); a new push counts the
     group's pushes whose recorded local date equals the new push's local
     date in the time zone now in force.
 A12 A touch on a customer already bound to the same promoter sets the
     expiry to t + binding_days even when that is earlier than the current
     expiry (SPEC: "the expiry moves to"); "active at t" is only t < expiry.
     binding_days is the one in force at the touch.
 A13 SettlementRun uses the settle_after_days in force at the run.
 A14 OrderRefunded checks run check-by-check over all refund lines: first
     unknown_line for any line, then refund_exceeds_paid for any line.
 A15 The self-purchase rule compares the customer with L1 only: when the
     customer is L2 (the inviter of L1), L2 still earns level 2.
     self_purchase_commission is the one in force when the order is
     accepted.  Suspension is judged at acceptance per beneficiary.
 A16 Ranking `orders` counts in-scope orders attributed to the promoter as
     L1, refunded ones included (as for groups); only promoters with
     net_gmv_fen > 0 are listed.
 A17 Group `members` stay members when the group closes (MemberLeft is
     allowed on a closed group).  A closed group still accepts orders
     (OrderPlaced only checks unknown_group).
 A18 Canonical JSON escapes exactly what Python's json (= RFC 8785) does:
     '"', '\\', and U+0000-U+001F (as \\b \\t \\n \\f \\r or \\u00xx
     lowercase); everything else, including U+007F and U+2028, is raw.
 A19 A JSON string containing an unpaired surrogate escape (\\ud800) is not
     valid text: invalid_event.  The line is still a JSON object, so its
     "id" is reported when that id is itself a clean string.
 A20 An identifier's length counts Unicode code points; no normalisation.
 A21 Suspension does not stop a promoter's touches from binding customers
     (MemberJoined into a suspended owner's group, or an order through a
     suspended promoter's link, still binds/extends); it only stops earning.
 A22 `at` never reorders: an OrderCompleted whose `at` precedes the order's
     own `at` is accepted and its window starts at that `at`; a
     SettlementRun's as_of may lie before events already applied.
 A23 A UTF-8 byte order mark at the very start of a file (line 1) is an
     encoding signature, not content: it is ignored (RFC 8259 §8.1 lets
     parsers ignore it; spreadsheet tools on Windows write one).  A BOM
     anywhere else makes that line invalid JSON (id null).
 A24 Parser limits: a line nested deeper than ~1000 levels or holding an
     integer literal of more than 4300 digits is treated as unreadable
     JSON (invalid_event, id null); RFC 8259 §9 allows such limits.  Both
     are far outside anything a valid event contains.
 A25 report --until N with N greater than the number of events reports all
     of them ("events" is then the real count); --until 0 is the empty
     ledger (log_head = h0); --top 0 keeps an empty ranking.

VERSION 2 (postings, closed periods, explain, statements, rejection journal)

 B1  `period` of PeriodClosed is exactly `[0-9]{4}-[0-9]{2}` (ASCII digits),
     year 0001-9999, month 01-12; anything else (a non-string, "2026-13",
     "2026-1", "2026-11-01", "0000-01") is invalid_event.
 B2  PeriodClosed's local date is taken in the time zone in force before
     the event (like every other local date); "not after the last day of
     `period`" = its month is <= `period` (string order of YYYY-MM).
 B3  A settle posting is made for each beneficiary recorded at the order's
     acceptance (A15), even when that promoter is suspended at the run:
     suspension only blocks earning, and v1 balances must not change.
 B4  The booking period of a posting is decided once, when its event is
     accepted (latest closed month *before* that event); a PeriodClosed
     makes no posting.
 B5  Statement: "a non-zero opening balance" = any of the six opening
     figures is non-zero.  `totals` has the same keys as a promoter entry
     (opening, the eight movements, closing), each summed; with no listed
     promoter every total is 0.  `closed` is judged after the `events`.
 B6  Statement `--promoter ID` (V2_DECISIONS) filters the listed promoters
     to that id, and `totals` to it; a promoter not listed (no opening, no
     posting in the month) gives `promoters: {}` and zero totals.
 B7  Explain/statement --until N past the end work as in A25 (all events).
 B8  Rejection journal (V2_DECISIONS): `position` = accepted events so far;
     `type` = the event's type if it is one of the 18 (from the raw object
     when the event did not decode); `promoter_id` = `promoter_id`, else
     `owner_id`; identifiers (and `id`) from the decoded event, or from the
     raw object's top-level values when they are strings of 1-128 code
     points (so the journal's `id` is stricter than --rejects' id, A10).
     A line with repeated member names (A1) is read "last one wins" for
     the journal, like its reported id.  Strings holding an unpaired
     surrogate (A19) are unreadable: null.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import zoneinfo

__all__ = ["run", "report", "explain", "statement", "canonical_json", "Ledger", "TYPES",
           "DEFAULT_RULES", "BALANCES", "MOVEMENTS"]

H0 = "0" * 64
UTC = _dt.timezone.utc
MAX_AMOUNT = 10**12
MAX_QUANTITY = 10**6
FIRST_DAY, LAST_DAY = _dt.date(1, 1, 2), _dt.date(9999, 12, 30)
EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)

PROGRAMS = ("fenxiang", "cloud_store", "jing_xiaoge", "jing_xiaofu", "jing_xiaojia")

# field name -> (kind, optional)
TYPES: dict[str, dict[str, tuple[str, bool]]] = {
    "RulesAdopted": {"rules": ("rules", False)},
    "PromoterJoined": {"promoter_id": ("ident", False), "program": ("program", False),
                       "inviter_id": ("ident", True), "city": ("ident", False),
                       "city_tier": ("tier", False)},
    "PromoterQualified": {"promoter_id": ("ident", False)},
    "PromoterSuspended": {"promoter_id": ("ident", False), "reason": ("reason", False)},
    "PromoterReinstated": {"promoter_id": ("ident", False)},
    "GroupOpened": {"group_id": ("ident", False), "owner_id": ("ident", False),
                    "city": ("ident", False), "city_tier": ("tier", False)},
    "GroupClosed": {"group_id": ("ident", False)},
    "MemberJoined": {"group_id": ("ident", False), "customer_id": ("ident", False),
                     "invited_by": ("ident", False)},
    "MemberLeft": {"group_id": ("ident", False), "customer_id": ("ident", False)},
    "ProductPushed": {"group_id": ("ident", False), "sku": ("ident", False)},
    "OrderPlaced": {"order_id": ("ident", False), "customer_id": ("ident", False),
                    "promoter_id": ("ident", True), "group_id": ("ident", True),
                    "lines": ("order_lines", False)},
    "OrderCompleted": {"order_id": ("ident", False)},
    "OrderRefunded": {"order_id": ("ident", False), "lines": ("refund_lines", False)},
    "SettlementRun": {"as_of": ("ts", False)},
    "PayoutRequested": {"payout_id": ("ident", False), "promoter_id": ("ident", False),
                        "amount_fen": ("amount1", False)},
    "PayoutSettled": {"payout_id": ("ident", False)},
    "PayoutFailed": {"payout_id": ("ident", False), "reason": ("reason", False)},
    "PeriodClosed": {"period": ("period", False)},
}

BALANCES = ("pending_fen", "available_fen", "in_payout_fen", "paid_out_fen",
            "level1_fen", "level2_fen")
MOVEMENTS = ("earned_l1_fen", "earned_l2_fen", "clawed_back_l1_fen", "clawed_back_l2_fen",
             "settled_fen", "payout_fen", "paid_fen", "returned_fen")

DEFAULT_RULES = {
    "level1_bps": 1000, "level2_bps": 200, "category_rates": {},
    "attribution": "last_touch", "binding_days": 15, "settle_after_days": 15,
    "min_payout_fen": 1000, "max_groups_per_owner": 10, "max_group_members": 500,
    "max_daily_pushes": 40, "self_purchase_commission": True,
    "timezone": "Asia/Shanghai",
}
INT_RULES = {  # name -> (min, max)
    "level1_bps": (0, 10000), "level2_bps": (0, 10000), "binding_days": (1, 365),
    "settle_after_days": (0, 365), "min_payout_fen": (1, 10**12),
    "max_groups_per_owner": (1, 10**6), "max_group_members": (1, 10**6),
    "max_daily_pushes": (0, 10**6),
}


# --------------------------------------------------------------------------
# canonical JSON, timestamps
# --------------------------------------------------------------------------

def canonical_json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_TS = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                 r"(?:\.([0-9]{1,6}))?(Z|[+-][0-9]{2}:[0-9]{2})")


def parse_ts(value) -> _dt.datetime | None:
    """Strict RFC 3339 (SPEC §1) -> aware UTC datetime, or None if invalid."""
    if not isinstance(value, str):
        return None
    m = _TS.fullmatch(value)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, off = m.groups()
    if off == "Z":
        offset = _dt.timedelta(0)
    else:
        oh, om = int(off[1:3]), int(off[4:6])
        if oh > 23 or om > 59:
            return None
        offset = _dt.timedelta(hours=oh, minutes=om) * (-1 if off[0] == "-" else 1)
    try:
        micro = int((frac or "0").ljust(6, "0"))
        local = _dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro,
                             tzinfo=_dt.timezone(offset))
        instant = local.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    if not FIRST_DAY <= instant.date() <= LAST_DAY:  # A8: local dates stay representable
        return None
    return instant


def canonical_ts(t: _dt.datetime) -> str:
    t = t.astimezone(UTC)
    base = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return base + (f".{t.microsecond:06d}Z" if t.microsecond else "Z")


_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def is_month(value) -> bool:
    """A month `YYYY-MM`: year 0001-9999, month 01-12 (B1)."""
    m = _MONTH.fullmatch(value) if isinstance(value, str) else None
    return m is not None and int(m.group(1)) >= 1 and 1 <= int(m.group(2)) <= 12


def month_of(d: _dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def next_month(month: str) -> str:
    y, m = int(month[:4]), int(month[5:])
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


_ZONES: set[str] | None = None
_ZONE_CACHE: dict[str, zoneinfo.ZoneInfo] = {}


def known_zone(name) -> bool:
    global _ZONES
    if _ZONES is None:
        _ZONES = set(zoneinfo.available_timezones())
    return isinstance(name, str) and name in _ZONES


def local_date(t: _dt.datetime, tz: str) -> _dt.date:
    if tz not in _ZONE_CACHE:
        _ZONE_CACHE[tz] = zoneinfo.ZoneInfo(tz)
    return t.astimezone(_ZONE_CACHE[tz]).date()


# --------------------------------------------------------------------------
# decoding (§2, §4): raw JSON text -> canonical event dict, or an error code
# --------------------------------------------------------------------------

class Invalid(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class _DupKey(ValueError):
    pass


def _pairs(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise _DupKey(k)
        obj[k] = v
    return obj


def _no_constants(name):
    raise ValueError(f"not JSON: {name}")


def _has_surrogate(value) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    return False


def parse_line(text: str):
    """-> (obj or None, reported id or None, parse ok?)"""
    try:
        obj = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constants)
    except _DupKey:
        # A1: still try to read the id for the rejection record
        try:
            loose = json.loads(text, parse_constant=_no_constants)
        except Exception:
            return None, None, False
        rid = loose.get("id") if isinstance(loose, dict) else None
        return None, rid if isinstance(rid, str) and not _has_surrogate(rid) else None, False
    except Exception:
        return None, None, False
    rid = obj.get("id") if isinstance(obj, dict) else None
    rid = rid if isinstance(rid, str) and not _has_surrogate(rid) else None
    if _has_surrogate(obj):  # A19
        return None, rid, False
    return obj, rid, True


def _is_int(v) -> bool:
    return type(v) is int  # bool and float are not ints


def _int_in(v, lo, hi) -> bool:
    return _is_int(v) and lo <= v <= hi


def _ident(v) -> bool:
    return isinstance(v, str) and 1 <= len(v) <= 128


def _check_fields(obj, spec: dict[str, tuple[str, bool]], allowed_extra=()) -> None:
    """Exact key set: required present, optional may be absent, no unknowns."""
    if not isinstance(obj, dict):
        raise Invalid("invalid_event")
    for key in obj:
        if key not in spec and key not in allowed_extra:
            raise Invalid("invalid_event")
    for key, (_, optional) in spec.items():
        if key not in obj and not optional:
            raise Invalid("invalid_event")


def _decode_value(kind: str, v):
    """Validated canonical value for a field of this kind (not rules)."""
    ok = True
    if kind == "ident":
        ok = _ident(v)
    elif kind == "reason":
        ok = isinstance(v, str) and len(v) <= 500
    elif kind == "program":
        ok = isinstance(v, str) and v in PROGRAMS
    elif kind == "tier":
        ok = _int_in(v, 1, 5)
    elif kind == "amount1":
        ok = _int_in(v, 1, MAX_AMOUNT)
    elif kind == "ts":
        t = parse_ts(v)
        if t is None:
            raise Invalid("invalid_event")
        return canonical_ts(t)
    elif kind == "order_lines":
        spec = {"sku": ("ident", False), "category": ("ident", False),
                "quantity": ("qty", False), "paid_fen": ("paid", False)}
        return _decode_lines(v, spec)
    elif kind == "refund_lines":
        spec = {"sku": ("ident", False), "amount_fen": ("amount1", False)}
        return _decode_lines(v, spec)
    elif kind == "qty":
        ok = _int_in(v, 1, MAX_QUANTITY)
    elif kind == "paid":
        ok = _int_in(v, 0, MAX_AMOUNT)
    elif kind == "period":   # B1
        ok = is_month(v)
    else:  # pragma: no cover
        raise AssertionError(kind)
    if not ok:
        raise Invalid("invalid_event")
    return v


def _decode_lines(v, spec):
    if not isinstance(v, list) or not 1 <= len(v) <= 200:
        raise Invalid("invalid_event")
    out = []
    for item in v:
        _check_fields(item, spec)
        out.append({k: _decode_value(kind, item[k]) for k, (kind, _) in spec.items()})
    if len({line["sku"] for line in out}) != len(out):
        raise Invalid("invalid_event")
    return out


def decode_rules(v) -> dict:
    """§4: the full rule set after defaults, or Invalid('invalid_rules')."""
    bad = Invalid("invalid_rules")
    if not isinstance(v, dict):
        raise bad
    rules = dict(DEFAULT_RULES)
    for name, value in v.items():
        if name in INT_RULES:
            lo, hi = INT_RULES[name]
            if not _int_in(value, lo, hi):
                raise bad
        elif name == "attribution":
            if value not in ("last_touch", "protected_binding"):
                raise bad
        elif name == "self_purchase_commission":
            if type(value) is not bool:
                raise bad
        elif name == "timezone":
            if not known_zone(value):
                raise bad
        elif name == "category_rates":
            if not isinstance(value, dict) or len(value) > 1000:
                raise bad
            cats = {}
            for cat, entry in value.items():
                if not _ident(cat) or not isinstance(entry, dict):
                    raise bad
                if set(entry) != {"level1_bps", "level2_bps"}:
                    raise bad
                l1, l2 = entry["level1_bps"], entry["level2_bps"]
                if not (_int_in(l1, 0, 10000) and _int_in(l2, 0, 10000) and l1 + l2 <= 10000):
                    raise bad
                cats[cat] = {"level1_bps": l1, "level2_bps": l2}
            value = cats
        else:
            raise bad  # unknown rule name
        rules[name] = value
    if rules["level1_bps"] + rules["level2_bps"] > 10000:
        raise bad
    return rules


def decode_event(obj) -> dict:
    """JSON value -> canonical event dict; raises Invalid(code)."""
    if not isinstance(obj, dict):
        raise Invalid("invalid_event")
    etype = obj.get("type")
    if not isinstance(etype, str) or etype not in TYPES:
        raise Invalid("invalid_event")
    spec = TYPES[etype]
    envelope = {"type": ("type", False), "id": ("ident", False), "at": ("ts", False)}
    _check_fields(obj, {**envelope, **spec})
    event = {"type": etype, "id": _decode_value("ident", obj["id"]),
             "at": _decode_value("ts", obj["at"])}
    rules_raw = None
    for key, (kind, optional) in spec.items():
        value = obj.get(key)
        if kind == "rules":
            rules_raw = value
        elif optional and value is None:
            event[key] = None
        else:
            event[key] = _decode_value(kind, value)
    if etype == "RulesAdopted":  # rules last: only once the rest is fine (A4)
        event["rules"] = decode_rules(rules_raw)
    return event


# --------------------------------------------------------------------------
# postings and the rejection journal (§6.1, §2.1)
# --------------------------------------------------------------------------

def apply_posting(balances: dict, posting: dict) -> None:
    """Move one posting's amount between the six balances (`from` -> `to`)."""
    amount = posting["amount_fen"]
    if posting["from"] is not None:
        balances[posting["from"] + "_fen"] -= amount
    if posting["to"] is not None:
        balances[posting["to"] + "_fen"] += amount
    if posting["kind"] == "earn":
        balances[f"level{posting['level']}_fen"] += amount
    elif posting["kind"] == "clawback":
        balances[f"level{posting['level']}_fen"] -= amount


def spec_posting(posting: dict) -> dict:
    """The §6.1 object: every key but our own promoter_id."""
    return {k: v for k, v in posting.items() if k != "promoter_id"}


JOURNAL_IDS = ("promoter_id", "group_id", "order_id", "payout_id")


def journal_entry(position: int, code: str, event: dict) -> dict:
    """B8: a rejection of an event that decoded."""
    promoter = event.get("promoter_id")
    if promoter is None:
        promoter = event.get("owner_id")
    return {"position": position, "id": event["id"], "type": event["type"], "code": code,
            "promoter_id": promoter, "group_id": event.get("group_id"),
            "order_id": event.get("order_id"), "payout_id": event.get("payout_id")}


def _raw_ident(obj: dict, key: str):
    v = obj.get(key)
    return v if _ident(v) and not _has_surrogate(v) else None


def journal_entry_raw(position: int, code: str, text: str) -> dict:
    """B8: a rejection of a line that did not decode: best effort from the raw object."""
    try:
        obj = json.loads(text, parse_constant=_no_constants)   # repeated names: last wins
    except Exception:
        obj = None
    if not isinstance(obj, dict):
        obj = {}
    etype = obj.get("type")
    promoter = _raw_ident(obj, "promoter_id")
    if promoter is None:
        promoter = _raw_ident(obj, "owner_id")
    return {"position": position, "id": _raw_ident(obj, "id"),
            "type": etype if isinstance(etype, str) and etype in TYPES else None,
            "code": code, "promoter_id": promoter, "group_id": _raw_ident(obj, "group_id"),
            "order_id": _raw_ident(obj, "order_id"), "payout_id": _raw_ident(obj, "payout_id")}


# --------------------------------------------------------------------------
# the ledger state machine (§3, §5, §6, §7)
# --------------------------------------------------------------------------

def _us(t: _dt.datetime) -> int:
    """An instant as integer microseconds since 1970 (no overflow when adding days)."""
    return (t - EPOCH) // _dt.timedelta(microseconds=1)


def _days(n: int) -> int:
    return n * 86400 * 10**6


class Ledger:
    def __init__(self):
        self.rules = dict(DEFAULT_RULES)
        self.log: list[str] = []          # canonical JSON texts, position i+1
        self.head = H0
        self.by_id: dict[str, str] = {}   # event id -> canonical text
        self.promoters: dict[str, dict] = {}
        self.groups: dict[str, dict] = {}
        self.bindings: dict[str, tuple[str, int]] = {}   # customer -> (promoter, expiry µs)
        self.orders: dict[str, dict] = {}
        self.payouts: dict[str, dict] = {}
        # version 2
        self.closed: str | None = None     # latest closed month "YYYY-MM"
        self.postings: list[dict] = []     # §6.1 objects plus "promoter_id", log order
        self.posted: dict[str, dict] = {}  # promoter -> the six balances summed from postings
        self.journal: list[dict] = []      # §2.1 rejection journal (B8)
        self._event: dict | None = None    # the event being applied (for postings)
        self._book: str | None = None      # its booking period

    # ---- appending -------------------------------------------------------

    def append_text(self, text: str):
        """One JSON text -> ("accepted"|"duplicate"|"rejected", code|None, id|None)."""
        obj, rid, ok = parse_line(text)
        if not ok:
            self.journal.append(journal_entry_raw(len(self.log), "invalid_event", text))
            return "rejected", "invalid_event", rid
        try:
            event = decode_event(obj)
        except Invalid as e:
            self.journal.append(journal_entry_raw(len(self.log), e.code, text))
            return "rejected", e.code, rid
        return self.append(event)

    def append(self, event: dict):
        eid = event["id"]
        text = canonical_json(event).decode("utf-8")
        if eid in self.by_id:
            if self.by_id[eid] == text:
                return "duplicate", None, eid
            self.journal.append(journal_entry(len(self.log), "duplicate_event_id", event))
            return "rejected", "duplicate_event_id", eid
        code = self.check(event)
        if code:
            self.journal.append(journal_entry(len(self.log), code, event))
            return "rejected", code, eid
        self._event, self._book = event, self.booking_period(event)   # B4
        self.apply(event)
        self._event = self._book = None
        self.log.append(text)
        self.by_id[eid] = text
        self.head = sha256_hex(self.head + "\n" + text)
        return "accepted", None, eid

    # ---- postings (§6.1) -----------------------------------------------------

    def booking_period(self, e: dict) -> str:
        month = month_of(local_date(parse_ts(e["at"]), self.rules["timezone"]))
        if self.closed is not None and month <= self.closed:
            month = next_month(self.closed)
        return month

    def post(self, promoter_id: str, kind: str, amount: int, *, level=None, order_id=None,
             sku=None, rate_bps=None, base_fen=None, payout_id=None) -> None:
        """Record one posting of the event being applied; 0 fen is no posting."""
        if amount == 0:
            return
        assert amount > 0, (kind, amount)
        src, dst = {"earn": (None, "pending"), "clawback": ("?", None),
                    "settle": ("pending", "available"), "payout": ("available", "in_payout"),
                    "paid": ("in_payout", "paid_out"), "returned": ("in_payout", "available")}[kind]
        if kind == "clawback":
            src = "available" if self.orders[order_id]["settled"] else "pending"
        e = self._event
        posting = {"position": len(self.log) + 1, "event_id": e["id"], "at": e["at"],
                   "book": self._book, "kind": kind, "level": level, "order_id": order_id,
                   "sku": sku, "rate_bps": rate_bps, "base_fen": base_fen,
                   "payout_id": payout_id, "from": src, "to": dst, "amount_fen": amount}
        self.postings.append(dict(posting, promoter_id=promoter_id))
        sums = self.posted.setdefault(promoter_id, dict.fromkeys(BALANCES, 0))
        apply_posting(sums, posting)

    # ---- checks (§3, in the listed order) -----------------------------------

    def check(self, e: dict) -> str | None:
        t, r = e["type"], self.rules
        P, G = self.promoters, self.groups
        if t == "PromoterJoined":
            if e["promoter_id"] in P:
                return "duplicate_promoter"
            if e["inviter_id"] is not None and e["inviter_id"] not in P:
                return "unknown_promoter"
        elif t in ("PromoterQualified", "PromoterSuspended", "PromoterReinstated"):
            if e["promoter_id"] not in P:
                return "unknown_promoter"
        elif t == "GroupOpened":
            owner = P.get(e["owner_id"])
            if e["group_id"] in G:
                return "duplicate_group"
            if owner is None:
                return "unknown_promoter"
            if owner["suspended"]:
                return "promoter_suspended"
            if not owner["qualified"]:
                return "promoter_not_qualified"
            open_groups = sum(1 for g in G.values() if g["owner_id"] == e["owner_id"] and g["open"])
            if open_groups >= r["max_groups_per_owner"]:
                return "group_limit_exceeded"
        elif t == "GroupClosed":
            g = G.get(e["group_id"])
            if g is None:
                return "unknown_group"
            if not g["open"]:
                return "group_closed"
        elif t == "MemberJoined":
            g = G.get(e["group_id"])
            if g is None:
                return "unknown_group"
            if not g["open"]:
                return "group_closed"
            c = e["customer_id"]
            if c in g["members"] or c == g["owner_id"]:
                return "already_member"
            if e["invited_by"] != g["owner_id"] and e["invited_by"] not in g["members"]:
                return "not_invited"
            if len(g["members"]) >= r["max_group_members"]:
                return "group_full"
        elif t == "MemberLeft":
            g = G.get(e["group_id"])
            if g is None:
                return "unknown_group"
            if e["customer_id"] not in g["members"]:
                return "not_member"
        elif t == "ProductPushed":
            g = G.get(e["group_id"])
            if g is None:
                return "unknown_group"
            if not g["open"]:
                return "group_closed"
            day = local_date(parse_ts(e["at"]), r["timezone"])
            if g["push_days"].get(day, 0) >= r["max_daily_pushes"]:
                return "push_quota_exceeded"
        elif t == "OrderPlaced":
            if e["order_id"] in self.orders:
                return "duplicate_order"
            if e["group_id"] is not None and e["group_id"] not in G:
                return "unknown_group"
            if e["promoter_id"] is not None and e["promoter_id"] not in P:
                return "unknown_promoter"
        elif t == "OrderCompleted":
            o = self.orders.get(e["order_id"])
            if o is None:
                return "unknown_order"
            if o["completed_at"] is not None:
                return "order_already_completed"
        elif t == "OrderRefunded":
            o = self.orders.get(e["order_id"])
            if o is None:
                return "unknown_order"
            if any(line["sku"] not in o["lines"] for line in e["lines"]):
                return "unknown_line"
            for line in e["lines"]:
                ol = o["lines"][line["sku"]]
                if ol["refunded"] + line["amount_fen"] > ol["paid"]:
                    return "refund_exceeds_paid"
        elif t == "PayoutRequested":
            if e["payout_id"] in self.payouts:
                return "duplicate_payout"
            p = P.get(e["promoter_id"])
            if p is None:
                return "unknown_promoter"
            if e["amount_fen"] < r["min_payout_fen"]:
                return "below_minimum_payout"
            if e["amount_fen"] > p["available_fen"]:
                return "insufficient_balance"
        elif t in ("PayoutSettled", "PayoutFailed"):
            po = self.payouts.get(e["payout_id"])
            if po is None:
                return "unknown_payout"
            if po["finished"]:
                return "payout_already_finished"
        elif t == "PeriodClosed":
            if self.closed is not None and e["period"] <= self.closed:
                return "period_already_closed"
            if month_of(local_date(parse_ts(e["at"]), r["timezone"])) <= e["period"]:  # B2
                return "period_not_ended"
        return None

    # ---- effects -----------------------------------------------------------

    def apply(self, e: dict) -> None:
        t, r = e["type"], self.rules
        at = parse_ts(e["at"])
        P, G = self.promoters, self.groups
        if t == "RulesAdopted":
            self.rules = e["rules"]
        elif t == "PromoterJoined":
            P[e["promoter_id"]] = {
                "program": e["program"], "inviter_id": e["inviter_id"],
                "qualified": False, "suspended": False, "invitees": 0,
                "pending_fen": 0, "available_fen": 0, "in_payout_fen": 0,
                "paid_out_fen": 0, "level1_fen": 0, "level2_fen": 0}
            if e["inviter_id"] is not None:
                P[e["inviter_id"]]["invitees"] += 1
        elif t == "PromoterQualified":
            P[e["promoter_id"]]["qualified"] = True
        elif t == "PromoterSuspended":
            P[e["promoter_id"]]["suspended"] = True
        elif t == "PromoterReinstated":
            P[e["promoter_id"]]["suspended"] = False
        elif t == "GroupOpened":
            G[e["group_id"]] = {"owner_id": e["owner_id"], "open": True,
                                "city_tier": e["city_tier"], "members": set(),
                                "pushes": 0, "push_days": {}}
        elif t == "GroupClosed":
            G[e["group_id"]]["open"] = False
        elif t == "MemberJoined":
            g = G[e["group_id"]]
            g["members"].add(e["customer_id"])
            self.touch(e["customer_id"], g["owner_id"], at)
        elif t == "MemberLeft":
            G[e["group_id"]]["members"].discard(e["customer_id"])
        elif t == "ProductPushed":
            g = G[e["group_id"]]
            day = local_date(at, r["timezone"])
            g["pushes"] += 1
            g["push_days"][day] = g["push_days"].get(day, 0) + 1
        elif t == "OrderPlaced":
            self.place_order(e, at)
        elif t == "OrderCompleted":
            self.orders[e["order_id"]]["completed_at"] = _us(at)
        elif t == "OrderRefunded":
            self.refund(e)
        elif t == "SettlementRun":
            as_of = _us(parse_ts(e["as_of"]))
            wait = _days(r["settle_after_days"])
            due = sorted((o["completed_at"], oid) for oid, o in self.orders.items()
                         if o["completed_at"] is not None and not o["settled"]
                         and o["completed_at"] + wait <= as_of)
            for _, oid in due:   # completion instant, then order_id by code point
                o = self.orders[oid]
                o["settled"] = True
                for pid, level in o["beneficiaries"]:   # level 1 before level 2 (B3)
                    amount = self.commission(o, level)
                    P[pid]["pending_fen"] -= amount
                    P[pid]["available_fen"] += amount
                    self.post(pid, "settle", amount, level=level, order_id=oid)
        elif t == "PayoutRequested":
            p = P[e["promoter_id"]]
            p["available_fen"] -= e["amount_fen"]
            p["in_payout_fen"] += e["amount_fen"]
            self.post(e["promoter_id"], "payout", e["amount_fen"], payout_id=e["payout_id"])
            self.payouts[e["payout_id"]] = {"promoter_id": e["promoter_id"],
                                            "amount_fen": e["amount_fen"], "finished": False}
        elif t in ("PayoutSettled", "PayoutFailed"):
            po = self.payouts[e["payout_id"]]
            po["finished"] = True
            p = P[po["promoter_id"]]
            p["in_payout_fen"] -= po["amount_fen"]
            if t == "PayoutSettled":
                p["paid_out_fen"] += po["amount_fen"]
            else:
                p["available_fen"] += po["amount_fen"]
            self.post(po["promoter_id"], "paid" if t == "PayoutSettled" else "returned",
                      po["amount_fen"], payout_id=e["payout_id"])
        elif t == "PeriodClosed":
            self.closed = e["period"]
        self.check_invariant()

    def touch(self, customer: str, promoter: str, at: _dt.datetime) -> None:
        """§5 binding touch (A12)."""
        t = _us(at)
        bound = self.bindings.get(customer)
        expiry = t + _days(self.rules["binding_days"])
        if bound is None or not t < bound[1]:
            self.bindings[customer] = (promoter, expiry)
        elif bound[0] == promoter:
            self.bindings[customer] = (promoter, expiry)

    def place_order(self, e: dict, at: _dt.datetime) -> None:
        r, c = self.rules, e["customer_id"]
        link = e["promoter_id"]
        if link is None and e["group_id"] is not None:
            link = self.groups[e["group_id"]]["owner_id"]
        l1 = link
        if r["attribution"] == "protected_binding":
            bound = self.bindings.get(c)
            if bound is not None and _us(at) < bound[1]:
                l1 = bound[0]
        l2 = self.promoters[l1]["inviter_id"] if l1 is not None else None
        lines = {}
        for line in e["lines"]:
            rate = r["category_rates"].get(line["category"],
                                           {"level1_bps": r["level1_bps"], "level2_bps": r["level2_bps"]})
            lines[line["sku"]] = {"paid": line["paid_fen"], "refunded": 0,
                                  1: rate["level1_bps"], 2: rate["level2_bps"]}
        beneficiaries = []
        earns = l1 is not None and not (c == l1 and not r["self_purchase_commission"])
        if earns:
            for pid, level in ((l1, 1), (l2, 2)):
                if pid is not None and not self.promoters[pid]["suspended"]:
                    beneficiaries.append((pid, level))
        order = {"customer_id": c, "group_id": e["group_id"], "l1": l1, "lines": lines,
                 "local_date": local_date(at, r["timezone"]), "completed_at": None,
                 "settled": False, "beneficiaries": beneficiaries}
        self.orders[e["order_id"]] = order
        for pid, level in beneficiaries:
            amount = self.commission(order, level)
            self.promoters[pid]["pending_fen"] += amount
            self.promoters[pid][f"level{level}_fen"] += amount
        for line in e["lines"]:   # line in event order, then level 1 before level 2
            ln = lines[line["sku"]]
            for pid, level in beneficiaries:
                self.post(pid, "earn", ln["paid"] * ln[level] // 10000, level=level,
                          order_id=e["order_id"], sku=line["sku"], rate_bps=ln[level],
                          base_fen=ln["paid"])
        if link is not None:
            self.touch(c, link, at)

    @staticmethod
    def commission(order: dict, level: int) -> int:
        return sum((ln["paid"] - ln["refunded"]) * ln[level] // 10000
                   for ln in order["lines"].values())

    def refund(self, e: dict) -> None:
        o = self.orders[e["order_id"]]
        before = {b: self.commission(o, b[1]) for b in o["beneficiaries"]}
        for line in e["lines"]:   # refunded line in event order, then level 1 before level 2
            ln = o["lines"][line["sku"]]
            old_remaining = ln["paid"] - ln["refunded"]
            new_remaining = old_remaining - line["amount_fen"]
            for pid, level in o["beneficiaries"]:
                drop = old_remaining * ln[level] // 10000 - new_remaining * ln[level] // 10000
                self.post(pid, "clawback", drop, level=level, order_id=e["order_id"],
                          sku=line["sku"], rate_bps=ln[level], base_fen=line["amount_fen"])
            ln["refunded"] += line["amount_fen"]
        for (pid, level), old in before.items():
            drop = old - self.commission(o, level)
            p = self.promoters[pid]
            p["available_fen" if o["settled"] else "pending_fen"] -= drop
            p[f"level{level}_fen"] -= drop

    def check_invariant(self) -> None:
        for pid, p in self.promoters.items():
            held = p["pending_fen"] + p["available_fen"] + p["in_payout_fen"] + p["paid_out_fen"]
            if held != p["level1_fen"] + p["level2_fen"]:  # pragma: no cover
                raise AssertionError(f"balance invariant broken for {pid!r}")
            # §6.1: every balance is the sum of its postings
            posted = self.posted.get(pid, dict.fromkeys(BALANCES, 0))
            if posted != {k: p[k] for k in BALANCES}:  # pragma: no cover
                raise AssertionError(f"postings of {pid!r} do not sum to its balances")

    # ---- explain (§8.2) and statements (§8.3) -------------------------------

    def explain(self, promoter_id: str, period: str | None = None) -> dict:
        if promoter_id not in self.promoters:
            raise KeyError(promoter_id)   # exit 2 / unknown_promoter
        p = self.promoters[promoter_id]
        postings = [spec_posting(x) for x in self.postings if x["promoter_id"] == promoter_id
                    and (period is None or x["book"] == period)]
        out = {"format": "supernova-ledger/explain@1", "events": len(self.log),
               "log_head": self.head, "promoter_id": promoter_id, "period": period,
               "balances": {k: p[k] for k in BALANCES}, "postings": postings}
        out["digest"] = hashlib.sha256(canonical_json(out)).hexdigest()
        return out

    def statement(self, period: str, promoter: str | None = None) -> dict:
        assert is_month(period), period
        entries: dict[str, dict] = {}

        def entry(pid: str) -> dict:
            if pid not in entries:
                entries[pid] = {"opening": dict.fromkeys(BALANCES, 0),
                                **dict.fromkeys(MOVEMENTS, 0), "closing": None}
            return entries[pid]

        booked_in = []
        for x in self.postings:            # log order; opening = booked before the month
            if x["book"] < period:
                apply_posting(entry(x["promoter_id"])["opening"], x)
            elif x["book"] == period:
                booked_in.append(x)
        listed = {pid for pid, en in entries.items() if any(en["opening"].values())}  # B5
        listed |= {x["promoter_id"] for x in booked_in}
        for x in booked_in:
            en = entry(x["promoter_id"])
            field = {"earn": f"earned_l{x['level']}_fen",
                     "clawback": f"clawed_back_l{x['level']}_fen",
                     "settle": "settled_fen", "payout": "payout_fen", "paid": "paid_fen",
                     "returned": "returned_fen"}[x["kind"]]
            en[field] += x["amount_fen"]
        for pid in listed:                 # closing = opening + movements
            en = entries[pid]
            closing = dict(en["opening"])
            for x in booked_in:
                if x["promoter_id"] == pid:
                    apply_posting(closing, x)
            en["closing"] = closing
        if promoter is not None:           # B6
            listed &= {promoter}
        promoters = {pid: entries[pid] for pid in sorted(listed)}
        totals = {"opening": dict.fromkeys(BALANCES, 0), **dict.fromkeys(MOVEMENTS, 0),
                  "closing": dict.fromkeys(BALANCES, 0)}
        for en in promoters.values():
            for key in MOVEMENTS:
                totals[key] += en[key]
            for key in BALANCES:
                totals["opening"][key] += en["opening"][key]
                totals["closing"][key] += en["closing"][key]
        out = {"format": "supernova-ledger/statement@1", "events": len(self.log),
               "log_head": self.head, "period": period,
               "closed": self.closed is not None and period <= self.closed,
               "promoters": promoters, "totals": totals}
        out["digest"] = hashlib.sha256(canonical_json(out)).hexdigest()
        return out

    # ---- report (§8) ---------------------------------------------------------

    def report(self, period: str | None = None, top: int | None = None) -> dict:
        def in_scope(order) -> bool:
            if period is None:
                return True
            d = order["local_date"]
            text = f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
            return text[:len(period)] == period if len(period) in (7, 10) else False

        promoters = {}
        for pid, p in self.promoters.items():
            promoters[pid] = {k: p[k] for k in (
                "program", "inviter_id", "qualified", "suspended", "invitees",
                "pending_fen", "available_fen", "in_payout_fen", "paid_out_fen",
                "level1_fen", "level2_fen")}
        groups = {}
        for gid, g in self.groups.items():
            groups[gid] = {"owner_id": g["owner_id"], "open": g["open"],
                           "city_tier": g["city_tier"], "members": len(g["members"]),
                           "pushes": g["pushes"], "orders": 0, "buyers": set(),
                           "gross_fen": 0, "refunded_fen": 0, "net_fen": 0}
        gmv: dict[str, list[int]] = {}
        for o in self.orders.values():
            if not in_scope(o):
                continue
            gross = sum(ln["paid"] for ln in o["lines"].values())
            refunded = sum(ln["refunded"] for ln in o["lines"].values())
            if o["group_id"] is not None:
                g = groups[o["group_id"]]
                g["orders"] += 1
                g["buyers"].add(o["customer_id"])
                g["gross_fen"] += gross
                g["refunded_fen"] += refunded
                g["net_fen"] += gross - refunded
            if o["l1"] is not None:
                acc = gmv.setdefault(o["l1"], [0, 0])
                acc[0] += gross - refunded
                acc[1] += 1
        tiers = {str(k): {"groups": 0, "net_fen": 0} for k in range(1, 6)}
        for g in groups.values():
            g["buyers"] = len(g["buyers"])
            tiers[str(g["city_tier"])]["groups"] += 1
            tiers[str(g["city_tier"])]["net_fen"] += g["net_fen"]
        ranked = sorted(((pid, net, n) for pid, (net, n) in gmv.items() if net > 0),
                        key=lambda x: (-x[1], -x[2], x[0]))
        ranking = [{"rank": i, "promoter_id": pid, "net_gmv_fen": net, "orders": n}
                   for i, (pid, net, n) in enumerate(ranked, 1)]
        if top is not None:
            ranking = ranking[:top]
        out = {"format": "supernova-ledger/report@1", "events": len(self.log),
               "log_head": self.head, "period": period, "promoters": promoters,
               "groups": groups, "tiers": tiers, "ranking": ranking}
        out["digest"] = hashlib.sha256(canonical_json(out)).hexdigest()
        return out


# --------------------------------------------------------------------------
# the two entry points used by the tests
# --------------------------------------------------------------------------

def _is_blank(line: str) -> bool:
    return line.strip(" \t\r\n") == ""


def run(lines: list[str]) -> tuple[list[dict], list[dict]]:
    """Ingest JSON Lines (one physical line per element, 1-based numbering).

    Returns (accepted canonical events in log order, rejections as
    {"line", "id", "code"}).  Duplicates are neither (see run_detailed)."""
    ledger, rejections, _ = run_detailed(lines)
    return [json.loads(text) for text in ledger.log], rejections


def run_detailed(lines: list[str]):
    """-> (ledger, rejections, outcome counts)."""
    ledger = Ledger()
    rejections = []
    counts = {"accepted": 0, "duplicates": 0, "rejected": 0}
    for number, line in enumerate(lines, 1):
        if number == 1 and line.startswith("\ufeff"):  # A23
            line = line[1:]
        if _is_blank(line):
            continue
        outcome, code, rid = ledger.append_text(line)
        if outcome == "accepted":
            counts["accepted"] += 1
        elif outcome == "duplicate":
            counts["duplicates"] += 1
        else:
            counts["rejected"] += 1
            rejections.append({"line": number, "id": rid, "code": code})
    return ledger, rejections, counts


def replay(canonical_lines, until: int | None = None) -> Ledger:
    ledger = Ledger()
    for i, line in enumerate(canonical_lines):
        if until is not None and i >= until:
            break
        if isinstance(line, dict):
            line = canonical_json(line).decode("utf-8")
        outcome, code, _ = ledger.append_text(line)
        if outcome != "accepted":
            raise AssertionError(f"replay of position {i + 1} gave {outcome} {code}")
    return ledger


def report(accepted_canonical_lines, period=None, top=None, until=None) -> dict:
    """§8 report over the first `until` (default all) accepted events, given
    as canonical JSON texts (or as dicts)."""
    return replay(accepted_canonical_lines, until).report(period=period, top=top)


def explain(accepted_canonical_lines, promoter_id: str, period=None, until=None) -> dict:
    """§8.2 over the first `until` (default all) accepted events; KeyError for a
    promoter that has not joined within them."""
    return replay(accepted_canonical_lines, until).explain(promoter_id, period=period)


def statement(accepted_canonical_lines, period: str, until=None, promoter=None) -> dict:
    """§8.3 over the first `until` (default all) accepted events."""
    return replay(accepted_canonical_lines, until).statement(period, promoter=promoter)
