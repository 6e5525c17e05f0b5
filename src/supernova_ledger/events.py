"""The 18 event types of SPEC §3 as msgspec Structs, decoding and canonical form.

Every event decodes strictly: unknown fields, wrong types, out-of-range values
and timestamps without an offset fail at decode time with the path of the
field. A decoded event is already *canonical*: its timestamps are rewritten to
the UTC form of SPEC §7 and a ``RulesAdopted`` carries the full rule set after
defaults, so ``canonical(event)`` is a single sorted-key encode.

Schema evolution: a new field gets a default, a field's type never changes,
a name is never reused.
"""

from __future__ import annotations

import decimal
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any, Final, Literal, TypeAlias, Union

import msgspec
import msgspec.inspect
from msgspec import Meta, Struct
from msgspec.structs import force_setattr

from .rules import RulesError, normalize_rules

__all__ = [
    "Event",
    "EVENT_TYPES",
    "RulesAdopted",
    "PromoterJoined",
    "PromoterQualified",
    "PromoterSuspended",
    "PromoterReinstated",
    "GroupOpened",
    "GroupClosed",
    "MemberJoined",
    "MemberLeft",
    "ProductPushed",
    "OrderLine",
    "OrderPlaced",
    "OrderCompleted",
    "RefundLine",
    "OrderRefunded",
    "SettlementRun",
    "PayoutRequested",
    "PayoutSettled",
    "PayoutFailed",
    "PeriodClosed",
    "DecodeFailure",
    "decode_event",
    "decode_canonical",
    "decode_stored",
    "coerce_event",
    "canonical",
    "canonical_json",
    "timestamp_us",
    "readable_id",
    "readable_fields",
    "MAX_LINE_BYTES",
    "MAX_DEPTH",
]

#: A longer line cannot be a valid event (200 lines of 128-char strings fit well below).
MAX_LINE_BYTES: Final = 1 << 20
#: How deep an event handed to the API may nest (a valid one nests 4 levels).
MAX_DEPTH: Final = 64

Id = Annotated[str, Meta(min_length=1, max_length=128)]
Reason = Annotated[str, Meta(max_length=500)]
_TS_PATTERN = (
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]{1,6})?(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z"
)
Timestamp = Annotated[str, Meta(pattern=_TS_PATTERN)]
PositiveFen = Annotated[int, Meta(ge=1, le=10**12)]
PaidFen = Annotated[int, Meta(ge=0, le=10**12)]
Quantity = Annotated[int, Meta(ge=1, le=10**6)]
CityTier = Annotated[int, Meta(ge=1, le=5)]
Program = Literal["fenxiang", "cloud_store", "jing_xiaoge", "jing_xiaofu", "jing_xiaojia"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US: Final = timedelta(microseconds=1)
# Instants are kept where every time zone can still name their local date.
_MIN_INSTANT: Final = datetime(1, 1, 2, tzinfo=timezone.utc)
_MAX_INSTANT: Final = datetime(9999, 12, 31, tzinfo=timezone.utc)


#: local minute + offset (``text[:16] + "Z"`` or ``+ "+08:00"``) -> its UTC minute ``YYYY-MM-DDTHH:MM``,
#: for minutes already validated once (offsets are whole minutes: the seconds never change the minute).
_UTC_MINUTES: dict[str, str] = {}
_UTC_MINUTES_MAX: Final = 100_000


def _canonical_timestamp(field: str, text: str) -> str:
    """Validate an RFC 3339 timestamp (shape checked by the pattern) and return its UTC form.

    Fast path: a minute seen before needs only its seconds checked (the pattern
    has checked the shape, and the range ends are whole minutes); the answer
    is the same as :func:`_canonical_timestamp_exact`'s (a test compares them)."""
    if text[-1] == "Z":
        key = text[:16] + "Z"
        rest = text[16:-1]
    else:
        key = text[:16] + text[-6:]
        rest = text[16:-6]
    minute = _UTC_MINUTES.get(key)
    if minute is None or rest[1:3] > "59":
        return _canonical_timestamp_exact(field, text, key)
    if len(rest) == 3:  # ":SS"
        return minute + rest + "Z"
    fraction = rest[4:]
    if fraction.count("0") == len(fraction):
        return minute + rest[:3] + "Z"
    return minute + rest[:4] + fraction + "0" * (6 - len(fraction)) + "Z"


def _canonical_timestamp_exact(field: str, text: str, key: str | None = None) -> str:
    """:func:`_canonical_timestamp` by ``datetime`` (and, with ``key``, learn the minute)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a valid date-time") from None
    if not _MIN_INSTANT <= moment < _MAX_INSTANT:
        raise ValueError(f"{field}: {text!r} is outside 0001-01-02..9999-12-30 UTC")
    if text[-1] == "Z" and (len(text) == 20 or (len(text) == 27 and moment.microsecond)):
        answer = text  # already canonical: UTC, and six fraction digits only when non-zero
    else:
        # isoformat gives four-digit years and exactly six fraction digits when non-zero.
        answer = moment.astimezone(timezone.utc).isoformat()[:-6] + "Z"
    if key is not None:
        if len(_UTC_MINUTES) >= _UTC_MINUTES_MAX:
            _UTC_MINUTES.clear()
        _UTC_MINUTES[key] = answer[:16]
    return answer


#: UTC hour ``YYYY-MM-DDTHH`` -> µs since the epoch (of canonical timestamps, already validated).
_HOUR_US: dict[str, int] = {}
_HOUR_US_MAX: Final = 100_000


def timestamp_us(text: str) -> int:
    """Microseconds since the Unix epoch of a (canonical) timestamp.

    Canonical timestamps (``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``, minutes and seconds
    validated on decoding) are computed from a per-hour cache; anything else
    through ``datetime``."""
    size = len(text)
    if (size == 20 or size == 27) and text[-1] == "Z":
        hour = _HOUR_US.get(text[:13])
        if hour is None:
            if len(_HOUR_US) >= _HOUR_US_MAX:
                _HOUR_US.clear()
            hour = _HOUR_US[text[:13]] = (datetime.fromisoformat(text[:13] + ":00:00+00:00") - _EPOCH) // _ONE_US
        seconds = int(text[14:16]) * 60 + int(text[17:19])
        if size == 20:
            return hour + seconds * 1_000_000
        return hour + seconds * 1_000_000 + int(text[20:26])
    return (datetime.fromisoformat(text) - _EPOCH) // _ONE_US


class _Event(
    Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="type",
    omit_defaults=False,
):
    id: Id
    at: Timestamp

    def __post_init__(self) -> None:
        force_setattr(self, "at", _canonical_timestamp("at", self.at))


class RulesAdopted(_Event, tag="RulesAdopted", kw_only=True, frozen=True):
    """Replaces the whole rule set; omitted rules take their defaults (SPEC §4)."""

    rules: Any

    def __post_init__(self) -> None:
        super().__post_init__()
        # Raises RulesError (not a ValueError): msgspec lets it through, and
        # decode_event turns it into ``invalid_rules``.
        force_setattr(self, "rules", normalize_rules(self.rules))


class PromoterJoined(_Event, tag="PromoterJoined", kw_only=True, frozen=True):
    promoter_id: Id
    program: Program
    inviter_id: Id | None = None
    city: Id
    city_tier: CityTier


class PromoterQualified(_Event, tag="PromoterQualified", kw_only=True, frozen=True):
    promoter_id: Id


class PromoterSuspended(_Event, tag="PromoterSuspended", kw_only=True, frozen=True):
    promoter_id: Id
    reason: Reason


class PromoterReinstated(_Event, tag="PromoterReinstated", kw_only=True, frozen=True):
    promoter_id: Id


class GroupOpened(_Event, tag="GroupOpened", kw_only=True, frozen=True):
    group_id: Id
    owner_id: Id
    city: Id
    city_tier: CityTier


class GroupClosed(_Event, tag="GroupClosed", kw_only=True, frozen=True):
    group_id: Id


class MemberJoined(_Event, tag="MemberJoined", kw_only=True, frozen=True):
    group_id: Id
    customer_id: Id
    invited_by: Id


class MemberLeft(_Event, tag="MemberLeft", kw_only=True, frozen=True):
    group_id: Id
    customer_id: Id


class ProductPushed(_Event, tag="ProductPushed", kw_only=True, frozen=True):
    group_id: Id
    sku: Id


class OrderLine(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    sku: Id
    category: Id
    quantity: Quantity
    paid_fen: PaidFen


class RefundLine(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    sku: Id
    amount_fen: PositiveFen


def _distinct_skus(skus: list[str]) -> None:
    if len(set(skus)) == len(skus):
        return
    seen: set[str] = set()
    for index, sku in enumerate(skus):
        if sku in seen:
            raise ValueError(f"lines[{index}].sku: {sku!r} appears twice")
        seen.add(sku)


class OrderPlaced(_Event, tag="OrderPlaced", kw_only=True, frozen=True):
    order_id: Id
    customer_id: Id
    promoter_id: Id | None = None
    group_id: Id | None = None
    lines: Annotated[tuple[OrderLine, ...], Meta(min_length=1, max_length=200)]

    def __post_init__(self) -> None:
        super().__post_init__()
        _distinct_skus([line.sku for line in self.lines])


class OrderCompleted(_Event, tag="OrderCompleted", kw_only=True, frozen=True):
    order_id: Id


class OrderRefunded(_Event, tag="OrderRefunded", kw_only=True, frozen=True):
    order_id: Id
    lines: Annotated[tuple[RefundLine, ...], Meta(min_length=1, max_length=200)]

    def __post_init__(self) -> None:
        super().__post_init__()
        _distinct_skus([line.sku for line in self.lines])


class SettlementRun(_Event, tag="SettlementRun", kw_only=True, frozen=True):
    as_of: Timestamp

    def __post_init__(self) -> None:
        super().__post_init__()
        force_setattr(self, "as_of", _canonical_timestamp("as_of", self.as_of))


class PayoutRequested(_Event, tag="PayoutRequested", kw_only=True, frozen=True):
    payout_id: Id
    promoter_id: Id
    amount_fen: PositiveFen


class PayoutSettled(_Event, tag="PayoutSettled", kw_only=True, frozen=True):
    payout_id: Id


class PayoutFailed(_Event, tag="PayoutFailed", kw_only=True, frozen=True):
    payout_id: Id
    reason: Reason


#: A calendar month ``YYYY-MM`` (year 0001-9999).
Month = Annotated[str, Meta(pattern=r"\A(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])\Z")]


class PeriodClosed(_Event, tag="PeriodClosed", kw_only=True, frozen=True):
    """Closes ``period`` and every month before it: no posting is booked into them any more."""

    period: Month


Event: TypeAlias = (
    RulesAdopted
    | PromoterJoined
    | PromoterQualified
    | PromoterSuspended
    | PromoterReinstated
    | GroupOpened
    | GroupClosed
    | MemberJoined
    | MemberLeft
    | ProductPushed
    | OrderPlaced
    | OrderCompleted
    | OrderRefunded
    | SettlementRun
    | PayoutRequested
    | PayoutSettled
    | PayoutFailed
    | PeriodClosed
)

EVENT_TYPES: Final[tuple[type[_Event], ...]] = (
    RulesAdopted,
    PromoterJoined,
    PromoterQualified,
    PromoterSuspended,
    PromoterReinstated,
    GroupOpened,
    GroupClosed,
    MemberJoined,
    MemberLeft,
    ProductPushed,
    OrderPlaced,
    OrderCompleted,
    OrderRefunded,
    SettlementRun,
    PayoutRequested,
    PayoutSettled,
    PayoutFailed,
    PeriodClosed,
)

_decoder: Final[msgspec.json.Decoder[Event]] = msgspec.json.Decoder(Event)
_encoder: Final = msgspec.json.Encoder(order="sorted")


def _trusted_twin(cls: type[_Event]) -> type[Struct]:
    """The same fields and tag, without ``__post_init__``: for events already stored.

    A stored event was validated and canonicalized when it was accepted; replay
    only needs its values. ``verify`` still decodes stored events strictly."""
    fields = [
        (f.name, f.type) if f.required else (f.name, f.type, f.default)
        for f in msgspec.structs.fields(cls)
    ]
    return msgspec.defstruct(
        cls.__name__, fields, kw_only=True, frozen=True, tag=cls.__name__, tag_field="type",
        module=__name__,
    )


#: stored twin class -> public event class (the fold dispatches on the public class name)
TRUSTED_TWINS: Final = {_trusted_twin(cls): cls for cls in EVENT_TYPES}
_stored_decoder: Final[msgspec.json.Decoder[Any]] = msgspec.json.Decoder(Union[tuple(TRUSTED_TWINS)])


def decode_stored(data: bytes) -> Event:
    """Decode an event the ledger itself stored (canonical, already validated): fast, no re-checks.

    The result has the attributes of the public event class named by its
    ``type`` but is an instance of a private twin class."""
    try:
        event: Event = _stored_decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise DecodeFailure("invalid_event", _describe(exc), None) from None
    return event


class DecodeFailure(Exception):
    """An event that does not decode: ``code`` is ``invalid_event`` or ``invalid_rules``."""

    def __init__(self, code: str, message: str, event_id: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.event_id = event_id
        #: What was handed in, when the caller keeps it (for the rejection journal).
        self.raw: Any = None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def readable_id(data: bytes | str) -> str | None:
    """The ``id`` of a line that failed to decode, when the line is an object with a string id."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        obj = json.loads(text, parse_constant=_not_json)  # a str with a BOM is not JSON
    except (ValueError, RecursionError):
        return None
    if isinstance(obj, dict):
        value = obj.get("id")
        if isinstance(value, str) and _is_text(value):
            return value
    return None


#: The fields a rejection-journal entry names (SPEC §2.1), read from whatever could be read.
JOURNAL_FIELDS: Final = ("id", "type", "promoter_id", "owner_id", "group_id", "order_id", "payout_id")
_TYPE_NAMES: Final = frozenset(cls.__name__ for cls in EVENT_TYPES)


def _is_text(value: str) -> bool:
    """Whether ``value`` can be written as UTF-8 (JSON escapes can smuggle in lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def readable_fields(event: Any) -> dict[str, str]:
    """Best-effort identifiers of an event that may not have decoded (for the rejection journal).

    ``event`` is a decoded event, a mapping, or JSON text/bytes. Only strings
    of 1–128 characters are taken (an unknown ``type`` is left out); anything
    unreadable gives ``{}``."""
    if isinstance(event, (bytes, str)):
        if len(event) > MAX_LINE_BYTES:
            return {}
        try:
            text = event.decode("utf-8") if isinstance(event, bytes) else event
            event = json.loads(text, parse_constant=_not_json)
        except (ValueError, RecursionError):
            return {}
    if isinstance(event, Struct):
        struct = event
        event = {name: type(struct).__name__ if name == "type" else getattr(struct, name, None) for name in JOURNAL_FIELDS}
    if not isinstance(event, Mapping):
        return {}
    get = event.get
    found: dict[str, str] = {}
    for name in JOURNAL_FIELDS:
        try:
            value = get(name)
        except Exception:  # a hostile mapping: nothing of it is trusted
            continue
        if isinstance(value, str) and 1 <= len(value) <= 128 and _is_text(value):
            found[name] = value
    if found.get("type") not in _TYPE_NAMES:
        found.pop("type", None)
    return found


def decode_event(data: bytes | str) -> Event:
    """Decode one JSON event strictly. Raises :class:`DecodeFailure`."""
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError:
            raise DecodeFailure("invalid_event", "event: not valid UTF-8 text", None) from None
    event = _decode_strictly(data)
    if _may_repeat_names(data, event):
        _refuse_repeated_names(data)
    return event


def decode_canonical(data: bytes) -> Event:
    """Decode a stored event strictly and require its bytes to be canonical (``verify``).

    Every check of :func:`decode_event` holds: a repeated member name needs no
    scan here, because canonical JSON names each member once, so such bytes
    never equal the canonical form of what they decode to. Raises
    :class:`DecodeFailure`; bytes that decode but are not canonical raise it
    with code ``not_canonical``."""
    event = _decode_strictly(data)
    if _encoder.encode(event) != data:
        raise DecodeFailure("not_canonical", "event: not in canonical form", event.id)
    return event


def _decode_strictly(data: bytes) -> Event:
    """The strict decoder's checks, all but the repeated-name scan."""
    if len(data) > MAX_LINE_BYTES:
        raise DecodeFailure("invalid_event", f"event: longer than {MAX_LINE_BYTES} bytes", None)
    try:
        event: Event = _decoder.decode(data)
    except RulesError as exc:
        _refuse_repeated_names(data)
        raise DecodeFailure("invalid_rules", str(exc), readable_id(data)) from None
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise DecodeFailure("invalid_event", _describe(exc), readable_id(data)) from None
    except (ValueError, RecursionError) as exc:  # pragma: no cover - defensive
        raise DecodeFailure("invalid_event", str(exc), readable_id(data)) from None
    return event


def _quoted(names: Iterable[str]) -> tuple[bytes, ...]:
    return tuple(f'"{name}"'.encode() for name in names)


_TOP_NAMES: Final = {cls: _quoted((*cls.__struct_fields__, "type")) for cls in EVENT_TYPES}
_LINE_NAMES: Final = {
    "OrderPlaced": _quoted(OrderLine.__struct_fields__),
    "OrderRefunded": _quoted(RefundLine.__struct_fields__),
}


def _quote_plan(cls: type[_Event]) -> tuple[int, int, tuple[tuple[str, bytes], ...]] | None:
    """How many ``"`` an event of ``cls`` holds at the least: (fixed, per line, optional str
    fields with their ``"name":null`` spelling).

    Without backslashes every JSON string is two quotes. A decoded event has
    each required member once at least (member name: 2, string value: 2 more)
    and each optional one (``str | None``, default None) at most once unless
    repeated: present with a string (4), or absent or spelled ``"name":null``
    when None (0 or 2; without backslashes a quoted name followed by ``:`` is a
    member, so counting ``"name":null`` counts exactly those members). A quote
    count equal to the least possible for the decoded values and those explicit
    nulls proves no member name is repeated. None: no plan (scan instead)."""
    fixed, optional = 4, []  # "type":"Name"
    per_line = 0
    for field in msgspec.inspect.type_info(cls).fields:  # type: ignore[attr-defined]
        kind = type(field.type).__name__
        if not field.required:
            members = getattr(field.type, "types", ())
            if field.default is not None or sorted(type(t).__name__ for t in members) != ["NoneType", "StrType"]:
                return None
            optional.append((field.name, f'"{field.name}":null'.encode()))
        elif kind in ("StrType", "LiteralType"):
            fixed += 4
        elif kind == "IntType":
            fixed += 2
        elif kind == "VarTupleType" and field.name == "lines":
            fixed += 2
            line_cls = field.type.item_type.cls
            for line_field in msgspec.inspect.type_info(line_cls).fields:  # type: ignore[attr-defined]
                line_kind = type(line_field.type).__name__
                if not line_field.required or line_kind not in ("StrType", "IntType"):
                    return None
                per_line += 4 if line_kind == "StrType" else 2
        else:
            return None
    return fixed, per_line, tuple(optional)


def _may_repeat_names(data: bytes, event: Event) -> bool:
    """A cheap test that can only err towards "maybe": JSON with a member name twice.

    msgspec keeps the last of repeated names silently; an event whose meaning
    depends on which copy a parser keeps is ambiguous, so it is refused."""
    if b"\\u" in data or isinstance(event, RulesAdopted):
        return True
    plan = _QUOTE_PLANS.get(type(event))
    if plan is not None and b"\\" not in data:
        fixed, per_line, optional = plan
        least = fixed
        if per_line:
            least += per_line * len(event.lines)  # type: ignore[union-attr]
        for optional_name, null_member in optional:
            if getattr(event, optional_name) is not None:
                least += 4
            elif null_member in data:  # spelled "name":null: its name is two quotes more
                if data.count(null_member) > 1:
                    return True  # twice: maybe (the exact check decides)
                least += 2
        if data.count(b'"') == least:
            return False
    for name in _TOP_NAMES[type(event)]:
        if data.count(name) > 1:
            return True
    line_names = _LINE_NAMES.get(type(event).__name__)
    if line_names:
        lines = len(event.lines)  # type: ignore[union-attr]
        return any(data.count(name) > lines for name in line_names)
    return False


_QUOTE_PLANS: Final = {cls: plan for cls in EVENT_TYPES if (plan := _quote_plan(cls)) is not None}


def _refuse_repeated_names(data: bytes) -> None:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [name for name, _ in items]
        if len(set(names)) != len(names):
            repeated = sorted({name for name in names if names.count(name) > 1})
            raise DecodeFailure("invalid_event", f"member name {repeated[0]!r} appears twice in one object", None)
        return dict(items)

    try:
        json.loads(data, object_pairs_hook=pairs)
    except DecodeFailure as failure:
        raise DecodeFailure(failure.code, failure.message, readable_id(data)) from None
    except RecursionError:
        raise DecodeFailure("invalid_event", f"event: nested deeper than {MAX_DEPTH} levels", None) from None


def _describe(exc: Exception) -> str:
    text = str(exc)
    if "matching regex" in text:
        where = text.rsplit(" - at ", 1)[-1]
        return f"expected an RFC 3339 timestamp with an explicit offset - at {where}"
    if text.startswith("Object contains unknown field"):
        return text.replace("Object contains unknown field", "unknown field", 1)
    return text


#: Values an application may hand in that msgspec would silently turn into
#: JSON (bytes as base64, dates as text, sets in hash order): refused instead.
_NOT_JSON: Final = (bytes, bytearray, memoryview, datetime, date, time, timedelta, uuid.UUID, decimal.Decimal,
                    set, frozenset)


def _json_value(value: Any, where: str, depth: int = 0) -> None:
    """Raise ValueError unless ``value`` is made of JSON types only, at most :data:`MAX_DEPTH` deep."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: nested deeper than {MAX_DEPTH} levels (or refers to itself)")
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: object key {key!r} is not a string")
            _json_value(item, f"{where}.{key}", depth + 1)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _json_value(item, f"{where}[{index}]", depth + 1)
        return
    raise ValueError(f"{where}: {type(value).__name__} is not a JSON type")


def coerce_event(event: Event | Mapping[str, Any] | bytes | str) -> Event:
    """Turn what an embedding application hands us into a validated, canonical event.

    A Struct built in Python is not validated by its constructor, so it is
    round-tripped through the strict decoder like any JSON line. Its values
    must already be JSON types (str, int, float, bool, None, list, dict with
    string keys; a tuple or Struct counts as a list or object): bytes, UUID,
    date and the like are ``invalid_event``, never converted silently."""
    if isinstance(event, (bytes, str)):
        return decode_event(event)
    try:
        builtins = msgspec.to_builtins(event, builtin_types=_NOT_JSON)
        _json_value(builtins, "event")
        data = _encoder.encode(builtins)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        event_id = event.get("id") if isinstance(event, Mapping) else getattr(event, "id", None)
        if isinstance(exc, RecursionError):
            exc = ValueError(f"event: nested deeper than {MAX_DEPTH} levels (or refers to itself)")
        raise DecodeFailure(
            "invalid_event", f"event: not JSON ({exc})",
            event_id if isinstance(event_id, str) and _is_text(event_id) else None,
        ) from None
    return decode_event(data)


def canonical(event: Event) -> bytes:
    """The canonical JSON of a decoded event (SPEC §7)."""
    return _encoder.encode(event)


def canonical_json(value: Any) -> bytes:
    """Canonical JSON of any JSON value: sorted keys, no whitespace, UTF-8 unescaped."""
    return _encoder.encode(value)
