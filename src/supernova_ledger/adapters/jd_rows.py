"""Realistic JD Union row streams derived from the simulator's programme.

:func:`jd_programme` runs :class:`~supernova_ledger.simulate.Simulation` and
turns its orders into the rows JD Union would deliver for them, keeping every
other event of the programme (promoters, groups, rules, settlements,
payouts, …) as ledger events. The result is a list of *steps* to feed in
order — ``("events", [event, …])`` for ``Ledger.append_batch`` /
``supernova-ledger ingest``, ``("rows", [page, …])`` for
:func:`~supernova_ledger.adapters.jd_union.ingest_rows` /
``supernova-ledger ingest-jd`` — plus the positions and categories mappings.

What the rows contain (all deterministic for a seed):

- one row per order line; JD-style numeric order ids, row ids
  ``<orderId>-<n>``; amounts as yuan with two decimals (JSON numbers, some as
  strings); times ``yyyy-MM-dd HH:mm:ss`` Beijing time;
- some orders first seen awaiting payment (15), a few paid by deposit (24);
- split orders: the parent's rows go 15 → 2 (invalid, split) and child
  orders (``parentId`` = the parent) carry the lines;
- completions (17 with ``finishTime``), refunds before completion (a line
  cancelled: validCode 3, another invalid reason, or a code unknown today;
  part of a line: ``actualCosPrice`` below the estimate) and after completion
  (``actualCosPrice`` falls), including late refunds after settlement;
- polling: rows are delivered in 1-hour ``modifyTime`` windows, pages of at
  most 500, windows out of order and late (never past an event that depends
  on them: a settlement run, a rule change, a suspension), pages re-delivered.

Orders JD would not report, or whose commission the ledger could not
reproduce without the buyer's identity, are left out of the rows and listed
in :attr:`JdProgramme.skipped_orders`: orders with no promoter, and
self-purchases while ``self_purchase_commission`` is false (zero commission
either way). :attr:`JdProgramme.reference_events` is the simulator's own log
without them, to compare books with.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Literal

import msgspec

from ..domain.book import Book
from ..events import coerce_event
from ..simulate import CATEGORIES, Simulation

__all__ = ["JdProgramme", "jd_programme", "Step"]

Step = tuple[Literal["events", "rows"], list[Any]]

_ORDER_EVENTS: Final = ("OrderPlaced", "OrderCompleted", "OrderRefunded")
#: Events a row must not be delivered after when it happened before them (and not before when after).
_BARRIERS: Final = ("RulesAdopted", "SettlementRun", "PromoterSuspended", "PromoterReinstated", "PeriodClosed")
_BEIJING: Final = timezone(timedelta(hours=8))
_PAGE_SIZE: Final = 500
_INVALID_CODES: Final = (4, 5, 6, 7, 8, 9, 11, 13, 14, 19, 20, 21, 22, 23, 25, 26, 27, 28, 29, 30)
_UNKNOWN_CODES: Final = (-1, 31, 42, 99)
_APP_POSITION: Final = "9000001"  # a shared position whose sub-promoters are told apart by subUnionId
_page_encoder: Final = msgspec.json.Encoder()


@dataclass
class JdProgramme:
    steps: list[Step]
    positions_csv: str
    categories_csv: str
    #: the simulator's own events, without the orders left out of the rows
    reference_events: list[dict[str, Any]]
    #: order id -> why it is not in the rows
    skipped_orders: dict[str, str] = field(default_factory=dict)
    row_versions: int = 0

    def rows(self) -> Iterator[bytes]:
        """Every page of every rows step, in feed order (JSON bytes)."""
        for kind, items in self.steps:
            if kind == "rows":
                yield from items


@dataclass
class _Row:
    row_id: str
    order_id: str
    parent_id: str
    sku_id: int
    sku_num: int
    position: str
    sub_union: str | None
    cid1: int
    cid3: int
    estimate_fen: int
    order_time: str
    code: int = 15
    refunded_fen: int = 0
    finish_time: str | None = None
    modify_s: int = 0  # seconds since the epoch of the latest version

    def version(self, as_string: bool) -> dict[str, Any]:
        def yuan(fen: int) -> Any:
            text = f"{fen // 100}.{fen % 100:02d}"
            return text if as_string else _Yuan(text)

        actual = self.estimate_fen - self.refunded_fen if (self.code == 17 or self.refunded_fen) else 0
        return {
            "id": self.row_id, "orderId": int(self.order_id), "parentId": int(self.parent_id),
            "skuId": self.sku_id, "skuName": f"商品{self.sku_id}", "skuNum": self.sku_num,
            "skuReturnNum": 0, "skuFrozenNum": 0, "validCode": self.code,
            "orderTime": self.order_time, "finishTime": self.finish_time or "",
            "modifyTime": _beijing(self.modify_s),
            "estimateCosPrice": yuan(self.estimate_fen), "actualCosPrice": yuan(actual),
            "estimateFee": yuan(self.estimate_fen // 10), "actualFee": yuan(actual // 10),
            "commissionRate": _Yuan("10.00"), "finalRate": _Yuan("90.00"),
            "cid1": self.cid1, "cid2": self.cid1 * 10, "cid3": self.cid3,
            "positionId": int(self.position), "subUnionId": self.sub_union or "", "pid": "",
            "unionRole": 1, "payMonth": 0, "balanceExt": "",
        }


class _Yuan(msgspec.Struct):
    """Placeholder replaced by the raw number text when a page is encoded."""

    text: str


def _beijing(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, _BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _epoch(at: str) -> int:
    return int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp())


def _encode_page(rows: list[dict[str, Any]], has_more: bool) -> bytes:
    """A JD API page; amounts as JSON numbers written exactly (never through a float)."""
    page = {"code": 200, "message": "success", "hasMore": has_more, "data": rows}
    return _page_encoder.encode(_unwrap(page))


def _unwrap(value: Any) -> Any:
    if isinstance(value, _Yuan):
        return msgspec.Raw(value.text.encode())
    if isinstance(value, dict):
        return {key: _unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    return value


class _Generator:
    def __init__(self, seed: int, promoters: int, days: int, start: str) -> None:
        self.sim = Simulation(seed, promoters, days, start)
        self.rng = random.Random(f"jd-rows/{seed}")
        self.book = Book()
        self.steps: list[Step] = []
        self.reference: list[dict[str, Any]] = []
        self.skipped: dict[str, str] = {}
        self.rows_of: dict[str, list[_Row]] = {}  # simulator order id -> rows carrying its lines
        self.positions: dict[tuple[str, str | None], str] = {}
        self.sub_unions: dict[str, str] = {}
        self.pending: list[dict[str, Any]] = []  # row versions not yet delivered
        self.sent_pages: list[bytes] = []
        self.chunk: list[dict[str, Any]] = []  # events not yet flushed into a step
        self.next_jd_order = 0
        self.versions = 0
        self.last_flush_s = 0

    # -- driving -------------------------------------------------------------

    def run(self) -> JdProgramme:
        for event in self.sim.events():
            outcome, _ = self.book.submit(coerce_event(event))
            kind = event["type"]
            if kind in _ORDER_EVENTS:
                # Orders reach the JD ledger as rows only; a re-delivered or refused
                # order event stays in the reference log (duplicate/rejected there).
                if outcome.status == "accepted":
                    self._order_event(event)
                elif event["order_id"] not in self.skipped:
                    self.reference.append(event)
                continue
            if kind in _BARRIERS:
                self._deliver()
            elif self.pending and _epoch(event["at"]) - self.last_flush_s > 3600 * (1 + self.rng.randrange(6)):
                self._deliver()
            self.reference.append(event)
            self.chunk.append(event)
        self._deliver()
        self._flush_events()
        return JdProgramme(self.steps, self._positions_csv(), self._categories_csv(), self.reference,
                           dict(sorted(self.skipped.items())), self.versions)

    def _order_event(self, event: dict[str, Any]) -> None:
        """Turn an accepted order event into row versions (or leave its order out)."""
        order_id = event["order_id"]
        kind = event["type"]
        at_s = _epoch(event["at"])
        if kind == "OrderPlaced":
            order = self.book.orders[order_id]
            if order.l1 is None:
                self.skipped[order_id] = "no promoter: JD would not report it"
                return
            if order.customer_id == order.l1 and not self.book.rules.self_purchase_commission:
                self.skipped[order_id] = "self-purchase without commission: the buyer is unknown to the adapter"
                return
            self.reference.append(event)
            self._place(event, order.l1, at_s)
            return
        if order_id in self.skipped:
            return
        self.reference.append(event)
        rows = self.rows_of[order_id]
        if kind == "OrderCompleted":
            for row in rows:
                if row.code in (16, 24):
                    row.code, row.finish_time = 17, _beijing(at_s)
                    self._version(row, at_s)
            return
        for line in event["lines"]:
            sku_id = self._sku_id(line["sku"])
            row = next(r for r in rows if r.sku_id == sku_id)
            row.refunded_fen += line["amount_fen"]
            if row.code != 17 and row.refunded_fen == row.estimate_fen:
                roll = self.rng.random()
                if roll < 0.5:
                    row.code = 3  # cancelled
                elif roll < 0.75:
                    row.code = self.rng.choice(_INVALID_CODES)
                else:
                    row.code = self.rng.choice(_UNKNOWN_CODES)
            self._version(row, at_s)

    # -- rows ------------------------------------------------------------------

    @staticmethod
    def _sku_id(sku: str) -> int:
        name, number = sku.rsplit("-", 1)
        index = next(i for i, c in enumerate(CATEGORIES) if c[0] == name)
        return 100_000 + index * 1_000 + int(number)

    def _jd_order_id(self) -> str:
        self.next_jd_order += 1
        return str(260_000_000_000 + self.next_jd_order)

    def _place(self, event: dict[str, Any], l1: str, at_s: int) -> None:
        group = event.get("group_id")
        if group is None and self.rng.random() < 0.5:
            position, sub = _APP_POSITION, self.sub_unions.setdefault(l1, f"s{len(self.sub_unions) + 1:05d}")
        else:
            key = (l1, group)
            position = self.positions.setdefault(key, str(1_000_001 + len(self.positions)))
            sub = None
        lines = event["lines"]
        order_time = _beijing(at_s)
        split = len(lines) >= 2 and self.rng.random() < 0.3
        awaiting = split or self.rng.random() < 0.3
        parent = self._jd_order_id() if split else "0"
        groups = [lines[:1], lines[1:]] if split else [lines]
        rows: list[_Row] = []
        if split:
            for n, line in enumerate(lines, start=1):
                self._version(self._row(parent, "0", n, line, position, sub, order_time, code=15), at_s)
        for part in groups:
            jd_order = self._jd_order_id()
            for n, line in enumerate(part, start=1):
                row = self._row(jd_order, parent, n, line, position, sub, order_time,
                                code=24 if self.rng.random() < 0.03 else 16)
                if awaiting and not split:
                    paid_code, row.code = row.code, 15
                    self._version(row, at_s)
                    row.code = paid_code
                    self._version(row, at_s + 1 + self.rng.randrange(120))
                else:
                    self._version(row, at_s + (1 + self.rng.randrange(120) if split else 0))
                rows.append(row)
        if split:  # the parent's rows turn invalid (split) once the children are paid
            for n, line in enumerate(lines, start=1):
                parent_row = self._row(parent, "0", n, line, position, sub, order_time, code=2)
                self._version(parent_row, at_s + 121 + self.rng.randrange(60))
        self.rows_of[event["order_id"]] = rows

    def _row(self, jd_order: str, parent: str, n: int, line: dict[str, Any], position: str, sub: str | None,
             order_time: str, *, code: int) -> _Row:
        sku_id = self._sku_id(line["sku"])
        category = next(i for i, c in enumerate(CATEGORIES) if c[0] == line["category"])
        return _Row(f"{jd_order}-{n}", jd_order, parent, sku_id, line["quantity"], position, sub,
                    cid1=1_000 + category, cid3=9_000 + category, estimate_fen=line["paid_fen"],
                    order_time=order_time, code=code)

    def _version(self, row: _Row, at_s: int) -> None:
        row.modify_s = max(at_s, row.modify_s + 1)
        self.versions += 1
        self.pending.append(row.version(as_string=self.rng.random() < 0.2))

    # -- delivery ----------------------------------------------------------------

    def _flush_events(self) -> None:
        if self.chunk:
            self.steps.append(("events", self.chunk))
            self.chunk = []

    def _deliver(self) -> None:
        """Poll the pending versions: 1-hour windows out of order, pages re-delivered."""
        if not self.pending:
            return
        self._flush_events()
        windows: dict[str, list[dict[str, Any]]] = {}
        for version in self.pending:
            windows.setdefault(version["modifyTime"][:13], []).append(version)
        self.pending = []
        self.last_flush_s = max(_epoch_text(v) for vs in windows.values() for v in vs)
        order = sorted(windows)
        self.rng.shuffle(order)
        pages: list[bytes] = []
        for window in order:
            rows = sorted(windows[window], key=lambda v: (v["modifyTime"], v["id"]))
            for start in range(0, len(rows), _PAGE_SIZE):
                chunk = rows[start:start + _PAGE_SIZE]
                page = _encode_page(chunk, start + _PAGE_SIZE < len(rows))
                pages.append(page)
                if self.rng.random() < 0.1:
                    pages.append(page)  # the poller retried a page
        if self.sent_pages and self.rng.random() < 0.3:
            pages.insert(self.rng.randrange(len(pages) + 1), self.rng.choice(self.sent_pages))  # an old page again
        self.sent_pages.extend(pages)
        del self.sent_pages[:-200]
        self.steps.append(("rows", pages))

    # -- mappings ------------------------------------------------------------------

    def _positions_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["position_id", "sub_union_id", "promoter_id", "group_id"])
        for (promoter, group), position in sorted(self.positions.items(), key=lambda item: int(item[1])):
            writer.writerow([position, "", promoter, group or ""])
        for promoter, sub in sorted(self.sub_unions.items(), key=lambda item: item[1]):
            writer.writerow(["", sub, promoter, ""])
        return out.getvalue()

    @staticmethod
    def _categories_csv() -> str:
        lines = ["cid3,category"] + [f"{9_000 + i},{c[0]}" for i, c in enumerate(CATEGORIES)]
        return "\n".join(lines) + "\n"


def _epoch_text(version: dict[str, Any]) -> int:
    return int(datetime.strptime(version["modifyTime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=_BEIJING).timestamp())


def jd_programme(seed: int, promoters: int = 300, days: int = 30,
                 start: str = "2026-11-01T00:00:00+08:00") -> JdProgramme:
    """The simulator's programme for ``seed`` as ledger events and JD row pages (see the module doc)."""
    return _Generator(seed, promoters, days, start).run()
