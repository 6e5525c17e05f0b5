"""Small builders for JD Union rows and programmes used by the adapter tests."""

from __future__ import annotations

import functools
import json
from typing import Any

from supernova_ledger import Ledger
from supernova_ledger.adapters.jd_rows import JdProgramme, jd_programme
from supernova_ledger.adapters.jd_union import (
    JdIngestReport,
    JdRow,
    RowRejection,
    ingest_rows,
    load_categories,
    load_positions,
    read_document,
)

START = "2026-11-01T00:00:00+08:00"

STRUCTURE = [
    {"type": "PromoterJoined", "id": "j1", "at": "2026-11-01T08:00:00+08:00", "promoter_id": "A",
     "program": "fenxiang", "city": "临沂", "city_tier": 3},
    {"type": "PromoterJoined", "id": "j2", "at": "2026-11-01T08:05:00+08:00", "promoter_id": "B",
     "program": "fenxiang", "inviter_id": "A", "city": "临沂", "city_tier": 3},
    {"type": "PromoterQualified", "id": "q2", "at": "2026-11-01T08:10:00+08:00", "promoter_id": "B"},
    {"type": "GroupOpened", "id": "g1", "at": "2026-11-01T08:20:00+08:00", "group_id": "g1", "owner_id": "B",
     "city": "临沂", "city_tier": 3},
]
POSITIONS = "position_id,sub_union_id,promoter_id,group_id\n777,,B,g1\n,kol-a,A,\n"


def row(row_id: str = "r1", **fields: Any) -> dict[str, Any]:
    """A JD row as the API sends it (amounts as strings unless given otherwise)."""
    base: dict[str, Any] = {
        "id": row_id, "orderId": 3001, "parentId": 0, "skuId": 55, "skuName": "纸巾", "skuNum": 2,
        "skuReturnNum": 0, "skuFrozenNum": 0, "validCode": 16, "orderTime": "2026-11-02 10:00:00",
        "finishTime": "", "modifyTime": "2026-11-02 10:00:05", "estimateCosPrice": "99.90",
        "actualCosPrice": "0.00", "estimateFee": "9.99", "actualFee": "0", "commissionRate": 10,
        "finalRate": 90, "cid1": 1, "cid2": 10, "cid3": 9001, "positionId": 777, "subUnionId": "",
        "pid": "", "unionRole": 1, "payMonth": 0, "balanceExt": "",
    }
    base.update(fields)
    return base


def page(*rows: dict[str, Any], has_more: bool = False) -> bytes:
    return json.dumps({"code": 200, "message": "success", "data": list(rows), "hasMore": has_more},
                      ensure_ascii=False).encode()


def rows_of(*documents: bytes) -> list[JdRow | RowRejection]:
    return [item for document in documents for item in read_document(document)]


def ingest(ledger: Ledger, *documents: bytes, positions: str = POSITIONS) -> JdIngestReport:
    return ingest_rows(ledger, rows_of(*documents), load_positions(positions))


def ledger_with_structure(url: str = "memory:") -> Ledger:
    ledger = Ledger.open(url)
    outcomes = ledger.append_batch(STRUCTURE)
    assert all(o.status in ("accepted", "duplicate") for o in outcomes), outcomes
    return ledger


@functools.lru_cache(maxsize=None)
def programme(seed: int, promoters: int, days: int) -> JdProgramme:
    return jd_programme(seed, promoters=promoters, days=days, start=START)


def feed_steps(ledger: Ledger, prog: JdProgramme) -> list[JdIngestReport]:
    """Feed a programme's steps in order (events appended, row pages ingested per step)."""
    positions, categories = load_positions(prog.positions_csv), load_categories(prog.categories_csv)
    reports = []
    for kind, items in prog.steps:
        if kind == "events":
            for start in range(0, len(items), 5000):
                ledger.append_batch(items[start:start + 5000])
        else:
            reports.append(ingest_rows(ledger, rows_of(*items), positions, categories))
    return reports


def books(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what depends on the order of the log (its head and digest)."""
    return {key: value for key, value in report.items() if key not in ("log_head", "digest")}
