"""Reading JD rows: exact amounts, Beijing times, every malformed row a reported rejection."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from jd_helpers import page, row

from supernova_ledger.adapters.jd_union import (
    JdRow,
    RowRejection,
    beijing_time,
    load_categories,
    load_positions,
    read_document,
    read_rows,
    yuan_to_fen,
)
from supernova_ledger.errors import UsageError


def _one(document: bytes) -> JdRow | RowRejection:
    (item,) = list(read_document(document, "f.json"))
    return item


@pytest.mark.parametrize(("text", "fen"), [
    ("0", 0), ("0.01", 1), ("19.9", 1990), ("19.90", 1990), ("1.10", 110), ("1E+2", 10000), ("12.300", 1230),
    ("10000000000", 10**12), ("0.29", 29), ("4.35", 435),
])
def test_yuan_to_fen_is_exact(text: str, fen: int) -> None:
    assert yuan_to_fen("x", Decimal(text)) == fen


@pytest.mark.parametrize(("text", "says"), [
    ("1.234", "more than 2 decimals"), ("-0.01", "outside"), ("10000000000.01", "outside"),
    ("NaN", "not a number"), ("Infinity", "not a number"),
])
def test_yuan_to_fen_refuses(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        yuan_to_fen("estimateCosPrice", Decimal(text))


def test_json_numbers_are_read_from_their_text_never_as_floats() -> None:
    # 0.29 and 4.35 are the classic floats whose *100 is not an integer.
    raw = json.dumps(row(estimateCosPrice=0, actualCosPrice=0)).replace('"estimateCosPrice": 0', '"estimateCosPrice": 4.35')
    raw = raw.replace('"actualCosPrice": 0', '"actualCosPrice": 0.29')
    item = _one(raw.encode())
    assert isinstance(item, JdRow)
    assert (item.estimate_fen, item.actual_fen) == (435, 29)


def test_times_become_rfc3339_beijing() -> None:
    assert beijing_time("t", "2026-11-11 20:15:00") == "2026-11-11T20:15:00+08:00"


@pytest.mark.parametrize("text", [
    "2026-11-11T20:15:00", "2026/11/11 20:15:00", "2026-11-11 20:15", "2026-02-30 10:00:00",
    "2026-11-11 24:00:00", "1763000000000", "2026-11-11 20:15:00+08:00", "",
])
def test_unknown_time_formats_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        beijing_time("orderTime", text)


@pytest.mark.parametrize(("change", "says"), [
    ({"modifyTime": None}, "modifyTime"),
    ({"estimateCosPrice": "12.345"}, "estimateCosPrice: 12.345 has more than 2 decimals"),
    ({"estimateCosPrice": "abc"}, "estimateCosPrice"),
    ({"estimateCosPrice": -1}, "estimateCosPrice"),
    ({"orderTime": "2026-11-02T10:00:00+08:00"}, "orderTime"),
    ({"finishTime": "11/05/2026"}, "finishTime"),
    ({"skuNum": 0}, "skuNum"),
    ({"skuReturnNum": 3}, "skuReturnNum"),
    ({"validCode": "16"}, "validCode"),
    ({"orderId": "12 34"}, "orderId"),
    ({"skuId": None}, "skuId"),
])
def test_a_malformed_row_is_a_rejection_with_its_row_id(change: dict[str, object], says: str) -> None:
    fields = row("r-bad", **change)
    if change.get("modifyTime", "") is None:
        del fields["modifyTime"]
    item = _one(page(fields))
    assert isinstance(item, RowRejection)
    assert (item.row_id, item.code, item.source) == ("r-bad", "jd_invalid_row", "f.json")
    assert says in item.message


def test_a_row_without_a_readable_id_is_still_reported() -> None:
    fields = row()
    del fields["id"]
    item = _one(page(fields))
    assert isinstance(item, RowRejection) and item.row_id is None and "id" in item.message


def test_unknown_fields_are_ignored_and_empty_finish_time_is_none() -> None:
    item = _one(page(row(newFieldFromJd={"x": 1}, finishTime="")))
    assert isinstance(item, JdRow) and item.finish_time is None and item.position_id == "777"


def test_documents_of_every_shape() -> None:
    one, two = row("r1"), row("r2")
    wrapped = {"jd_union_open_order_row_query_responce": {"code": "0", "queryResult": json.dumps(
        {"code": 200, "data": [one, two], "hasMore": False})}}
    shapes = [
        page(one, two),  # one saved response
        json.dumps([one, two]).encode(),  # a JSON array of rows
        (json.dumps(one) + "\n\n" + json.dumps(two) + "\n").encode(),  # JSON Lines of rows
        page(one) + b"\n" + page(two, has_more=True) + b"\n",  # JSON Lines of pages
        json.dumps(wrapped).encode(),  # the gateway's envelope, result as a JSON string
        b"\xef\xbb\xbf" + json.dumps({"data": [one, two], "hasMore": False}, indent=2).encode(),  # pretty, BOM
    ]
    for document in shapes:
        ids = [item.row_id for item in read_document(document)]
        assert ids == ["r1", "r2"], document[:80]


def test_broken_lines_and_api_errors_are_rejections_not_crashes() -> None:
    document = b'{"id": \n' + json.dumps(row("r2")).encode() + b'\n{"code": 500, "message": "busy", "data": null}\n[1, 2\n'
    items = list(read_document(document, "x"))
    assert [type(item).__name__ for item in items] == ["RowRejection", "JdRow", "RowRejection", "RowRejection"]
    assert [getattr(item, "code", None) for item in items] == ["jd_invalid_row", None, "jd_api_error", "jd_invalid_document"]
    assert [getattr(item, "line", None) for item in items] == [1, None, 3, 4]


def test_rows_from_an_application() -> None:
    items = list(read_rows([row("r1"), json.dumps(row("r2")), {"id": "r3"}]))
    assert [type(item).__name__ for item in items] == ["JdRow", "JdRow", "RowRejection"]


def test_positions_mapping() -> None:
    mapping = load_positions("position_id,sub_union_id,promoter_id,group_id\n777,,B,g1\n,kol-a,A,\n")
    assert mapping.by_position["777"].promoter_id == "B" and mapping.by_position["777"].group_id == "g1"
    assert mapping.by_sub_union["kol-a"].group_id is None


@pytest.mark.parametrize(("text", "says"), [
    ("", "empty"),
    ("position_id,group_id\n1,g\n", "promoter_id"),
    ("position_id,promoter_id,colour\n1,A,red\n", "unknown column"),
    ("position_id,sub_union_id,promoter_id\n1,s,A\n", "exactly one"),
    ("position_id,promoter_id\n1,A\n1,B\n", "mapped twice"),
    ("position_id,promoter_id\n1\n", "line 2"),
    ("position_id,promoter_id\n1,\n", "promoter_id"),
])
def test_bad_positions_mappings_are_usage_errors(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        load_positions(text)


def test_categories_mapping() -> None:
    assert load_categories("cid3,cid1,category\n9001,,daily\n,1,food\n") == {"cid3:9001": "daily", "cid1:1": "food"}
    with pytest.raises(UsageError, match="not a number"):
        load_categories("cid3,category\nx,daily\n")
