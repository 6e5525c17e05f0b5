"""The generated JD feed: deterministic, and with the shapes the issue asks for."""

from __future__ import annotations

import json

from jd_helpers import START, programme

from supernova_ledger.adapters.jd_rows import jd_programme


def test_same_seed_same_feed_byte_for_byte() -> None:
    one, two = jd_programme(5, 8, 8, START), jd_programme(5, 8, 8, START)
    assert one.steps == two.steps and one.positions_csv == two.positions_csv
    assert one.steps != jd_programme(6, 8, 8, START).steps


def test_the_feed_has_splits_redeliveries_late_pages_and_unknown_codes() -> None:
    prog = programme(3, 10, 30)
    pages = list(prog.rows())
    rows = [row for page in pages for row in json.loads(page)["data"]]
    codes = {row["validCode"] for row in rows}
    assert {2, 3, 15, 16, 17, 24} <= codes
    assert codes - {2, 3, 15, 16, 17, 24} - set(range(4, 15)) - set(range(19, 31))  # a code unknown today
    assert len(pages) > len(set(pages))  # pages re-delivered
    children = {row["parentId"] for row in rows if row["parentId"]}
    assert children <= {row["orderId"] for row in rows if row["validCode"] == 2}  # children of split parents
    windows = [json.loads(page)["data"][0]["modifyTime"][:13] for page in pages]
    assert windows != sorted(windows)  # windows out of order
    assert any(isinstance(row["estimateCosPrice"], str) for row in rows)
    assert any(not isinstance(row["estimateCosPrice"], str) for row in rows)
    assert prog.skipped_orders and all(reason for reason in prog.skipped_orders.values())
