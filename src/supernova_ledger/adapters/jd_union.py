"""JD Union order rows (``jd.union.open.order.row.query``) into ledger events.

Three layers, each usable alone (see ``docs/jd_union.md``):

1. **Reading** (pure): :func:`read_document` turns saved API responses or JSON
   Lines of rows into :class:`JdRow` values, or :class:`RowRejection` for a
   row that is malformed (missing field, bad amount, unknown time format) —
   never an exception. Amounts become fen exactly (``decimal.Decimal`` from
   the JSON text, at most 2 decimals), never through a float.
2. **Deciding** (pure): :func:`advance` maps *(what the adapter remembers
   about a row, a new version of the row)* to the events that bring the
   ledger to the row's state, and the new memory. :func:`plan` does it for a
   set of rows, in a canonical order, after keeping only each row's latest
   version (:func:`latest_versions`).
3. **Applying** (I/O): :func:`ingest_rows` reads the remembered row states
   from the ledger's side state, appends the planned events and writes the
   new row states in the same transaction (``Ledger.append_batch(events,
   state=...)``).

Mapping (decision, see the docs): one ledger order per JD row (a row is one
order line): ``order_id`` ``jd:<row id>``, one line whose ``sku`` is the JD
``skuId``. Event ids are derived from the row and the change —
``jd:<row id>:placed``, ``jd:<row id>:completed``,
``jd:<row id>:refund:<refunded fen in total>`` — so a re-delivered row is a
``duplicate``, never a second refund.

What a row version says, as a function of that version alone (so the books
do not depend on which versions were seen, nor in which order):

- ``validCode`` 15 (awaiting payment): nothing yet;
- 16, 17, 24 (paid, completed, deposit paid): the line is placed with
  ``paid_fen`` = ``estimateCosPrice``; 17 with a ``finishTime``: completed
  then; its commissionable amount now is ``actualCosPrice`` when the row
  gives one and is completed or gives one above 0, else ``estimateCosPrice``, and never more
  than ``estimateCosPrice × (skuNum − skuReturnNum) / skuNum``;
- 2 (invalid: split into child orders): never placed; if it was placed
  before the split, refunded in full;
- any other code (cancelled, the invalid reasons, codes unknown today):
  invalid — placed (so a row first seen invalid gives the same books as
  one seen through its history) and refunded in full.

A refund is due when ``placed − commissionable amount now`` exceeds what
was refunded so far; a version older than the one applied changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal

import msgspec
from msgspec import Raw, Struct

from ..errors import CorruptLog, UsageError
from ..ledger import Ledger

__all__ = [
    "JdRow",
    "RowRejection",
    "RowState",
    "RowStep",
    "Attribution",
    "PositionMap",
    "JdIngestReport",
    "read_document",
    "read_rows",
    "decode_row",
    "beijing_time",
    "yuan_to_fen",
    "load_positions",
    "load_categories",
    "row_kind",
    "remaining_fen",
    "category_of",
    "RowOutcome",
    "advance",
    "latest_versions",
    "plan",
    "ingest_rows",
    "state_key",
    "STATE_PREFIX",
    "PAID_CODES",
    "MAX_ROWS_PER_CALL",
]

#: Side-state keys of the adapter: ``jd_union/row/<row id>``.
STATE_PREFIX: Final = "jd_union/row/"
#: validCodes of a line that earns: paid, completed, deposit paid.
PAID_CODES: Final = frozenset({16, 17, 24})
UNPAID_CODE: Final = 15
COMPLETED_CODE: Final = 17
SPLIT_CODE: Final = 2
#: Distinct rows one ingest call keeps in memory (split larger feeds into several calls).
MAX_ROWS_PER_CALL: Final = 1_000_000
#: A saved document (one file, or one line of JSON Lines) larger than this is refused.
MAX_DOCUMENT_BYTES: Final = 256 * 1024 * 1024
#: Row ids, order ids, sku ids: short tokens (JD's are digits), so derived ids stay <= 128 chars.
MAX_JD_ID_CHARS: Final = 64
#: Yuan amounts up to this (10^12 fen, the ledger's limit).
_MAX_YUAN: Final = Decimal(10_000_000_000)
#: Rows of a mapping CSV.
MAX_MAPPING_ROWS: Final = 1_000_000
#: Row states read per side-state query; events and rows (state keys) per append.
_STATE_READ_CHUNK: Final = 1_000
_APPEND_EVENTS = 5_000
_APPEND_ROWS = 5_000
#: Ids listed in a report (the counts are always complete).
MAX_LISTED: Final = 100

_ID_RE: Final = re.compile(r"\A[0-9A-Za-z_.\-]{1,%d}\Z" % MAX_JD_ID_CHARS)
_TIME_RE: Final = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\Z")
_BEIJING: Final = "+08:00"

RowKind = Literal["unpaid", "paid", "split", "invalid"]


# -- reading ---------------------------------------------------------------------


class JdRow(Struct, frozen=True, kw_only=True):
    """One version of a JD order row, checked and normalized (amounts in fen)."""

    row_id: str
    order_id: str
    parent_id: str  #: "0" unless JD split the original order
    sku_id: str
    sku_num: int
    sku_return_num: int
    valid_code: int
    order_time: str  #: ``yyyy-MM-dd HH:mm:ss``, Beijing time, as JD gives it
    finish_time: str | None
    modify_time: str
    estimate_fen: int
    actual_fen: int | None  #: None: the row gives no ``actualCosPrice``
    position_id: str | None
    sub_union_id: str | None
    cid1: int | None
    cid3: int | None

    def digest(self) -> str:
        """Identifies this version's content (the fields the adapter reads)."""
        return hashlib.sha256(_encoder.encode(self)).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class RowRejection:
    """A row (or document) that could not be read: nothing of it is applied."""

    source: str
    line: int | None  #: physical line in JSON Lines; None for a whole-file document
    row_id: str | None
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "row_id": self.row_id,
                "code": self.code, "message": self.message}


class _WireRow(Struct, kw_only=True):
    """The fields the adapter reads, as JD sends them; other fields are ignored."""

    id: int | str
    orderId: int | str
    parentId: int | str | None = 0
    skuId: int | str
    skuNum: int
    skuReturnNum: int | None = 0
    validCode: int
    orderTime: str
    finishTime: str | None = None
    modifyTime: str
    estimateCosPrice: Decimal
    actualCosPrice: Decimal | None = None
    positionId: int | str | None = None
    subUnionId: str | None = None
    cid1: int | None = None
    cid3: int | None = None


class _Bad(ValueError):
    """A field that does not hold what JD documents (message names the field)."""


_encoder: Final = msgspec.json.Encoder(order="sorted")
_wire_decoder: Final = msgspec.json.Decoder(_WireRow)
_object_decoder: Final = msgspec.json.Decoder(dict[str, Raw])
_value_decoder: Final = msgspec.json.Decoder(Raw)
_list_decoder: Final = msgspec.json.Decoder(list[Raw])


def yuan_to_fen(name: str, amount: Decimal) -> int:
    """An exact amount in yuan (at most 2 decimals, 0 to 10^10) as integer fen; else ``ValueError``."""
    if not amount.is_finite():
        raise _Bad(f"{name}: {amount} is not a number of yuan")
    if amount < 0 or amount > _MAX_YUAN:
        raise _Bad(f"{name}: {amount} is outside 0 to {_MAX_YUAN} yuan")
    fen = amount.scaleb(2)
    if fen != fen.to_integral_value():
        raise _Bad(f"{name}: {amount} has more than 2 decimals")
    return int(fen)


def beijing_time(name: str, text: str) -> str:
    """``yyyy-MM-dd HH:mm:ss`` (Beijing time) as RFC 3339 with ``+08:00``; else ``ValueError``."""
    if not _TIME_RE.match(text):
        raise _Bad(f"{name}: {text[:40]!r} is not yyyy-MM-dd HH:mm:ss")
    try:
        datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise _Bad(f"{name}: {text!r} is not a valid date and time") from None
    if text < "0001-01-02":
        raise _Bad(f"{name}: {text!r} is too early")
    return text.replace(" ", "T") + _BEIJING


def _jd_id(name: str, value: int | str | None, *, optional: bool = False) -> str | None:
    if value is None or value == "":
        if optional:
            return None
        raise _Bad(f"{name}: is missing")
    if isinstance(value, bool):
        raise _Bad(f"{name}: expected a number or a string")
    if isinstance(value, int):
        if value < 0:
            raise _Bad(f"{name}: {value} is negative")
        return str(value)
    if not _ID_RE.match(value):
        raise _Bad(f"{name}: {value[:40]!r} is not 1-{MAX_JD_ID_CHARS} letters, digits, '_', '.' or '-'")
    return value


def _normalize(wire: _WireRow) -> JdRow:
    row_id = _jd_id("id", wire.id)
    assert row_id is not None
    if not 1 <= wire.skuNum <= 1_000_000:
        raise _Bad(f"skuNum: {wire.skuNum} is outside 1-1000000")
    returned = wire.skuReturnNum or 0
    if not 0 <= returned <= wire.skuNum:
        raise _Bad(f"skuReturnNum: {returned} is outside 0-skuNum ({wire.skuNum})")
    beijing_time("orderTime", wire.orderTime)
    beijing_time("modifyTime", wire.modifyTime)
    finish = wire.finishTime or None
    if finish is not None:
        beijing_time("finishTime", finish)
    parent = _jd_id("parentId", wire.parentId, optional=True) or "0"
    return JdRow(
        row_id=row_id,
        order_id=str(_jd_id("orderId", wire.orderId)),
        parent_id=parent,
        sku_id=str(_jd_id("skuId", wire.skuId)),
        sku_num=wire.skuNum,
        sku_return_num=returned,
        valid_code=wire.validCode,
        order_time=wire.orderTime,
        finish_time=finish,
        modify_time=wire.modifyTime,
        estimate_fen=yuan_to_fen("estimateCosPrice", wire.estimateCosPrice),
        actual_fen=None if wire.actualCosPrice is None else yuan_to_fen("actualCosPrice", wire.actualCosPrice),
        position_id=_jd_id("positionId", wire.positionId, optional=True),
        sub_union_id=_jd_id("subUnionId", wire.subUnionId, optional=True),
        cid1=wire.cid1,
        cid3=wire.cid3,
    )


def _readable_row_id(raw: bytes) -> str | None:
    try:
        obj = _object_decoder.decode(raw)
        value = msgspec.json.decode(obj["id"]) if "id" in obj else None
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = str(value)
    return text if 1 <= len(text) <= 128 else None


def decode_row(raw: bytes) -> JdRow:
    """One row object (JSON bytes) as a :class:`JdRow`; raises ``ValueError`` naming the field."""
    try:
        return _normalize(_wire_decoder.decode(raw))
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ValueError(str(exc).replace("Object missing required field", "missing field")) from None
    except _Bad as exc:
        raise ValueError(str(exc)) from None


def _row_or_rejection(raw: bytes, source: str, line: int | None) -> JdRow | RowRejection:
    try:
        return decode_row(raw)
    except ValueError as exc:
        return RowRejection(source, line, _readable_row_id(raw), "jd_invalid_row", str(exc))


def _items(raw: bytes, source: str, line: int | None, depth: int = 0) -> Iterator[JdRow | RowRejection]:
    """Rows of one JSON value: a row, a list, an API page ``{"data": [...]}`` or a wrapped response."""
    stripped = raw.lstrip()
    if depth > 4:
        yield RowRejection(source, line, None, "jd_invalid_document", "document: nested too deeply")
        return
    if stripped.startswith(b"["):
        try:
            elements = _list_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            yield RowRejection(source, line, None, "jd_invalid_document", f"document: {exc}")
            return
        for element in elements:
            yield from _items(bytes(element), source, line, depth + 1)
        return
    try:
        obj = _object_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        yield RowRejection(source, line, None, "jd_invalid_row", "row: not a JSON object")
        return
    if "data" in obj or "hasMore" in obj:
        code = obj.get("code")
        if code is not None:
            try:
                code_value = msgspec.json.decode(code)
            except msgspec.DecodeError:  # pragma: no cover - Raw is valid JSON
                code_value = None
            if code_value not in (200, "200", 0, "0"):
                message = obj.get("message")
                text = msgspec.json.decode(message) if message is not None else None
                yield RowRejection(source, line, None, "jd_api_error",
                                   f"code: the API answered {code_value!r} ({text!r:.200})")
                return
        data = obj.get("data")
        if data is None or bytes(data).strip() == b"null":
            return  # an empty page
        try:
            rows = _list_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            yield RowRejection(source, line, None, "jd_invalid_document", "data: expected a list of rows")
            return
        for row in rows:
            yield _row_or_rejection(bytes(row), source, line)
        return
    for name, value in obj.items():
        if name == "queryResult" or name.endswith(("_responce", "_response")):
            inner = bytes(value)
            if inner.lstrip().startswith(b'"'):  # JD wraps the result as a JSON string
                try:
                    inner = msgspec.json.decode(inner, type=str).encode("utf-8")
                except (msgspec.DecodeError, msgspec.ValidationError):  # pragma: no cover - Raw is valid JSON
                    inner = b""
            yield from _items(inner, source, line, depth + 1)
            return
    yield _row_or_rejection(raw, source, line)


def read_document(data: bytes, source: str = "-") -> Iterator[JdRow | RowRejection]:
    """Rows of a saved file: one JSON document (a page, a wrapped response, a list) or JSON Lines.

    Never raises for bad content: each unreadable row or line is a :class:`RowRejection`."""
    if len(data) > MAX_DOCUMENT_BYTES:
        yield RowRejection(source, None, None, "jd_invalid_document",
                           f"document: larger than {MAX_DOCUMENT_BYTES} bytes; split it")
        return
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        return
    try:
        _value_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass  # not one JSON value: JSON Lines
    else:
        yield from _items(data, source, None if b"\n" in data.strip() else 1)
        return
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip(b" \t\r"):
            yield from _items(line, source, number)


def read_rows(rows: Iterable[Mapping[str, Any] | bytes | str], source: str = "api") -> Iterator[JdRow | RowRejection]:
    """Rows an application already holds (dicts from its own HTTP client, or JSON text).

    A dict holding floats has already lost exactness: pass the response text instead."""
    for index, row in enumerate(rows, start=1):
        if isinstance(row, str):
            raw = row.encode("utf-8")
        elif isinstance(row, bytes):
            raw = row
        else:
            try:
                raw = msgspec.json.encode(row)
            except (TypeError, ValueError) as exc:
                yield RowRejection(source, index, None, "jd_invalid_row", f"row: not JSON-encodable ({exc})")
                continue
        yield from _items(raw, source, index)


# -- mappings --------------------------------------------------------------------


class Attribution(Struct, frozen=True):
    promoter_id: str
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class PositionMap:
    """``positionId`` / ``subUnionId`` → promoter (and group). A ``subUnionId`` entry wins."""

    by_position: Mapping[str, Attribution]
    by_sub_union: Mapping[str, Attribution] = field(default_factory=dict)

    def resolve(self, row: JdRow) -> Attribution | None:
        if row.sub_union_id is not None:
            found = self.by_sub_union.get(row.sub_union_id)
            if found is not None:
                return found
        if row.position_id is not None:
            return self.by_position.get(row.position_id)
        return None


def _csv_rows(text: str, name: str, required: Sequence[str], optional: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        raise UsageError(f"{name}: is empty (needs a header line)")
    columns = [column.strip() for column in header]
    for column in required:
        if column not in columns:
            raise UsageError(f"{name}: header has no column {column!r} (columns: {', '.join(columns)})")
    unknown = [c for c in columns if c not in required and c not in optional]
    if unknown:
        raise UsageError(f"{name}: unknown column {unknown[0]!r}")
    for number, values in enumerate(reader, start=2):
        if not any(value.strip() for value in values):
            continue
        if number > MAX_MAPPING_ROWS + 1:
            raise UsageError(f"{name}: more than {MAX_MAPPING_ROWS} rows")
        if len(values) != len(columns):
            raise UsageError(f"{name}: line {number} has {len(values)} fields, the header {len(columns)}")
        yield number, {column: value.strip() for column, value in zip(columns, values, strict=True)}


def _ledger_id(name: str, number: int, column: str, value: str) -> str:
    if not 1 <= len(value) <= 128:
        raise UsageError(f"{name}: line {number}: {column} must be 1-128 characters")
    return value


def load_positions(text: str, name: str = "positions") -> PositionMap:
    """A CSV with a header: ``position_id`` and/or ``sub_union_id``, ``promoter_id``, optional ``group_id``.

    Each line fills exactly one of ``position_id`` / ``sub_union_id``. Raises :class:`UsageError`."""
    by_position: dict[str, Attribution] = {}
    by_sub: dict[str, Attribution] = {}
    reader = _csv_rows(text, name, ("promoter_id",), ("position_id", "sub_union_id", "group_id"))
    for number, values in reader:
        position, sub = values.get("position_id", ""), values.get("sub_union_id", "")
        if bool(position) == bool(sub):
            raise UsageError(f"{name}: line {number}: give exactly one of position_id and sub_union_id")
        promoter = _ledger_id(name, number, "promoter_id", values["promoter_id"])
        group = values.get("group_id") or None
        if group is not None:
            _ledger_id(name, number, "group_id", group)
        target, key = (by_position, position) if position else (by_sub, sub)
        if key in target:
            raise UsageError(f"{name}: line {number}: {key!r} is mapped twice")
        target[key] = Attribution(promoter, group)
    return PositionMap(by_position, by_sub)


def load_categories(text: str, name: str = "categories") -> dict[str, str]:
    """A CSV with a header ``cid3`` and/or ``cid1``, ``category``; keys ``cid3:<n>`` / ``cid1:<n>``."""
    mapping: dict[str, str] = {}
    for number, values in _csv_rows(text, name, ("category",), ("cid1", "cid3")):
        cid3, cid1 = values.get("cid3", ""), values.get("cid1", "")
        if bool(cid3) == bool(cid1):
            raise UsageError(f"{name}: line {number}: give exactly one of cid3 and cid1")
        level, cid = ("cid3", cid3) if cid3 else ("cid1", cid1)
        if not cid.isdigit():
            raise UsageError(f"{name}: line {number}: {level} {cid!r} is not a number")
        key = f"{level}:{int(cid)}"
        if key in mapping:
            raise UsageError(f"{name}: line {number}: {level} {cid} is mapped twice")
        mapping[key] = _ledger_id(name, number, "category", values["category"])
    return mapping


def category_of(row: JdRow, categories: Mapping[str, str]) -> str:
    """The mapped category of ``cid3``, else of ``cid1``, else ``jd:<cid3>``."""
    if row.cid3 is not None and (found := categories.get(f"cid3:{row.cid3}")) is not None:
        return found
    if row.cid1 is not None and (found := categories.get(f"cid1:{row.cid1}")) is not None:
        return found
    return f"jd:{row.cid3 if row.cid3 is not None else 0}"


# -- deciding (pure) -------------------------------------------------------------


class RowState(Struct, frozen=True, kw_only=True):
    """What the adapter remembers about one row (kept as side state beside the log)."""

    modified: str  #: ``modifyTime`` of the version applied last
    digest: str  #: :meth:`JdRow.digest` of that version
    placed_fen: int | None = None  #: ``paid_fen`` of the placed order; None: not placed
    completed: bool = False
    refunded_fen: int = 0  #: refunded in total


RowOutcome = Literal["applied", "recorded", "stale", "redelivered", "conflict", "unmapped"]


class RowStep(Struct, frozen=True, kw_only=True):
    """What one row version does: events to append and the row's new state."""

    row_id: str
    outcome: RowOutcome
    events: tuple[dict[str, Any], ...] = ()
    state: RowState | None = None  #: the new state; None: unchanged
    promoter_id: str | None = None  #: the promoter of a placed order (to check before appending)


def row_kind(valid_code: int) -> RowKind:
    """15 unpaid; 16/17/24 paid; 2 split; anything else (known or not) invalid."""
    if valid_code in PAID_CODES:
        return "paid"
    if valid_code == UNPAID_CODE:
        return "unpaid"
    if valid_code == SPLIT_CODE:
        return "split"
    return "invalid"


def remaining_fen(row: JdRow, placed_fen: int) -> int:
    """The line's commissionable amount according to this version (never above ``placed_fen``)."""
    kind = row_kind(row.valid_code)
    if kind in ("split", "invalid"):
        return 0
    if kind == "unpaid":
        return placed_fen
    actual = row.actual_fen
    given = actual is not None and (row.valid_code == COMPLETED_CODE or actual > 0)
    amount = actual if given and actual is not None else row.estimate_fen
    if row.sku_return_num:
        amount = min(amount, placed_fen * (row.sku_num - row.sku_return_num) // row.sku_num)
    return max(0, min(amount, placed_fen))


def _buyer(row: JdRow) -> str:
    """The adapter cannot know the buyer: one synthetic customer per original JD order."""
    return f"jd-buyer:{row.parent_id if row.parent_id != '0' else row.order_id}"


def advance(
    state: RowState | None,
    row: JdRow,
    attribute: Callable[[JdRow], Attribution | None],
    category: Callable[[JdRow], str],
) -> RowStep:
    """The events that bring the ledger from ``state`` to this version of the row, and the new state.

    Pure. ``attribute``/``category`` are asked only when the row is placed."""
    digest = row.digest()
    if state is not None:
        if row.modify_time < state.modified:
            return RowStep(row_id=row.row_id, outcome="stale")
        if row.modify_time == state.modified:
            return RowStep(row_id=row.row_id, outcome="redelivered" if digest == state.digest else "conflict")
    placed = state.placed_fen if state is not None else None
    completed = state.completed if state is not None else False
    refunded = state.refunded_fen if state is not None else 0
    kind = row_kind(row.valid_code)
    order_id = f"jd:{row.row_id}"
    events: list[dict[str, Any]] = []
    promoter_id: str | None = None
    if placed is None and kind in ("paid", "invalid"):
        attribution = attribute(row)
        if attribution is None:
            return RowStep(row_id=row.row_id, outcome="unmapped")
        placed = row.estimate_fen
        promoter_id = attribution.promoter_id
        events.append({
            "type": "OrderPlaced", "id": f"{order_id}:placed", "at": beijing_time("orderTime", row.order_time),
            "order_id": order_id, "customer_id": _buyer(row), "promoter_id": attribution.promoter_id,
            "group_id": attribution.group_id,
            "lines": [{"sku": row.sku_id, "category": category(row), "quantity": row.sku_num, "paid_fen": placed}],
        })
    if placed is not None:
        if not completed and row.valid_code == COMPLETED_CODE and row.finish_time is not None:
            completed = True
            events.append({"type": "OrderCompleted", "id": f"{order_id}:completed",
                           "at": beijing_time("finishTime", row.finish_time), "order_id": order_id})
        target = placed - remaining_fen(row, placed)
        if target > refunded:
            events.append({
                "type": "OrderRefunded", "id": f"{order_id}:refund:{target}",
                "at": beijing_time("modifyTime", row.modify_time), "order_id": order_id,
                "lines": [{"sku": row.sku_id, "amount_fen": target - refunded}],
            })
            refunded = target
    new_state = RowState(modified=row.modify_time, digest=digest, placed_fen=placed,
                         completed=completed, refunded_fen=refunded)
    return RowStep(row_id=row.row_id, outcome="applied" if events else "recorded", events=tuple(events),
                   state=new_state, promoter_id=promoter_id)


def latest_versions(rows: Iterable[JdRow]) -> dict[str, JdRow]:
    """Each row id's latest version (greatest ``modifyTime``; a tie goes to the greater digest).

    The same set of versions in any order, with any repeats, gives the same result."""
    latest: dict[str, JdRow] = {}
    keys: dict[str, tuple[str, str]] = {}
    for row in rows:
        key = (row.modify_time, row.digest())
        seen = keys.get(row.row_id)
        if seen is None or key > seen:
            if seen is None and len(latest) >= MAX_ROWS_PER_CALL:
                raise UsageError(f"rows: more than {MAX_ROWS_PER_CALL} distinct rows in one call; split the input")
            latest[row.row_id] = row
            keys[row.row_id] = key
    return latest


def plan(
    latest: Mapping[str, JdRow],
    states: Mapping[str, RowState],
    attribute: Callable[[JdRow], Attribution | None],
    category: Callable[[JdRow], str],
) -> list[RowStep]:
    """:func:`advance` for each row, in a canonical order: ``orderTime``, then row id."""
    ordered = sorted(latest.values(), key=lambda row: (row.order_time, row.row_id))
    return [advance(states.get(row.row_id), row, attribute, category) for row in ordered]


# -- applying (I/O) ----------------------------------------------------------------


def state_key(row_id: str) -> str:
    return STATE_PREFIX + row_id


_state_decoder: Final = msgspec.json.Decoder(RowState)


def _decode_state(key: str, value: bytes) -> RowState:
    try:
        return _state_decoder.decode(value)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CorruptLog(f"side state {key!r}: does not decode ({exc})") from None


@dataclass
class JdIngestReport:
    """What one ingest did. ``problems`` lists every row not applied for a reason to look at."""

    rows: int = 0  #: row versions read (well-formed)
    distinct_rows: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  #: RowStep outcome -> rows
    accepted: int = 0  #: events
    duplicates: int = 0
    rejected: int = 0
    malformed: list[RowRejection] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)  #: unmapped, conflicts, ledger rejections
    unmapped_positions: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.malformed and not self.problems

    def summary(self) -> dict[str, Any]:
        """Counts (complete) and the first :data:`MAX_LISTED` unmapped positions."""
        listed = sorted(self.unmapped_positions.items())[:MAX_LISTED]
        return {
            "rows": self.rows, "distinct_rows": self.distinct_rows, "malformed": len(self.malformed),
            "applied": self.outcomes.get("applied", 0), "recorded": self.outcomes.get("recorded", 0),
            "stale": self.outcomes.get("stale", 0), "redelivered": self.outcomes.get("redelivered", 0),
            "conflicts": self.outcomes.get("conflict", 0), "unmapped": self.outcomes.get("unmapped", 0),
            "unmapped_positions": dict(listed), "refused": self.outcomes.get("refused", 0),
            "accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected,
        }


def _position_label(row: JdRow) -> str:
    if row.sub_union_id is not None:
        return f"positionId={row.position_id} subUnionId={row.sub_union_id}"
    return f"positionId={row.position_id}"


def ingest_rows(
    ledger: Ledger,
    items: Iterable[JdRow | RowRejection],
    positions: PositionMap,
    categories: Mapping[str, str] | None = None,
) -> JdIngestReport:
    """Bring ``ledger`` (a :class:`~supernova_ledger.Ledger`) to the rows' latest state.

    Row states are read from and written to the ledger's side state under
    :data:`STATE_PREFIX`, in the same transaction as the events they produced.
    A row whose events the ledger refuses keeps its previous state (so it is
    tried again when delivered again) and is reported."""
    report = JdIngestReport()
    versions: list[JdRow] = []
    for item in items:
        if isinstance(item, RowRejection):
            report.malformed.append(item)
        else:
            report.rows += 1
            versions.append(item)
    latest = latest_versions(versions)
    del versions
    report.distinct_rows = len(latest)
    raw_states = _read_states(ledger, sorted(latest))
    states = {key[len(STATE_PREFIX):]: _decode_state(key, value) for key, value in raw_states.items()}
    mapping = dict(categories or {})
    steps = plan(latest, states, positions.resolve, lambda row: category_of(row, mapping))

    known: dict[str, bool] = {}
    batch: list[RowStep] = []
    batch_events = 0
    for step in steps:
        report.outcomes[step.outcome] = report.outcomes.get(step.outcome, 0) + 1
        row = latest[step.row_id]
        if step.outcome == "unmapped":
            label = _position_label(row)
            report.unmapped_positions[label] = report.unmapped_positions.get(label, 0) + 1
            report.problems.append({"row_id": step.row_id, "code": "jd_unmapped_position",
                                    "message": f"{label}: not in the positions mapping"})
            continue
        if step.outcome == "conflict":
            report.problems.append({"row_id": step.row_id, "code": "jd_conflicting_version",
                                    "message": f"modifyTime: {row.modify_time} was applied with other content; "
                                               "this version is ignored"})
            continue
        if step.state is None:
            continue
        if step.promoter_id is not None:
            if step.promoter_id not in known:
                known[step.promoter_id] = ledger.balance(step.promoter_id) is not None
            if not known[step.promoter_id]:
                report.outcomes["applied"] -= 1
                report.outcomes["refused"] = report.outcomes.get("refused", 0) + 1
                report.problems.append({"row_id": step.row_id, "code": "unknown_promoter",
                                        "message": f"promoter_id: {step.promoter_id!r} (from {_position_label(row)}) "
                                                   "has not joined the ledger"})
                continue
        if batch and (batch_events + len(step.events) > _APPEND_EVENTS or len(batch) >= _APPEND_ROWS):
            _flush(ledger, batch, raw_states, report)
            batch, batch_events = [], 0
        batch.append(step)
        batch_events += len(step.events)
    if batch:
        _flush(ledger, batch, raw_states, report)
    return report


def _read_states(ledger: Ledger, row_ids: Sequence[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for start in range(0, len(row_ids), _STATE_READ_CHUNK):
        keys = [state_key(row_id) for row_id in row_ids[start:start + _STATE_READ_CHUNK]]
        found.update(ledger.read_state(keys))
    return found


def _flush(ledger: Ledger, batch: list[RowStep], old: Mapping[str, bytes], report: JdIngestReport) -> None:
    events = [event for step in batch for event in step.events]
    state: dict[str, bytes | None] = {
        state_key(step.row_id): _encoder.encode(step.state) for step in batch if step.state is not None
    }
    outcomes = ledger.append_batch(events, state=state)
    corrections: dict[str, bytes | None] = {}
    index = 0
    for step in batch:
        mine = outcomes[index:index + len(step.events)]
        index += len(step.events)
        for outcome in mine:
            if outcome.status == "accepted":
                report.accepted += 1
            elif outcome.status == "duplicate":
                report.duplicates += 1
            else:
                report.rejected += 1
                report.problems.append({"row_id": step.row_id, "code": outcome.code,
                                        "message": f"{outcome.id}: {outcome.message}"})
        if any(outcome.status == "rejected" for outcome in mine):
            key = state_key(step.row_id)
            corrections[key] = old.get(key)
    if corrections:
        # The row keeps its previous state: delivered again, it is decided again
        # (its events are derived deterministically, so those accepted are duplicates).
        ledger.append_batch([], state=corrections)
