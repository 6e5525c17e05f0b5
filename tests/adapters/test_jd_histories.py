"""Arbitrary row histories (within what JD documents) in any order give the same books.

A history: awaiting payment (15) for a while, then paid (16 or 24), then any
mix of partial refunds (``actualCosPrice`` falling — above 0 before
completion —, units returned), a completion (17) and at most one turn to an
invalid code — known or not — after which the row stays invalid. The estimate never changes. Whatever the order of
arrival and the split into polls, the balances and the money figures are those
of the history applied in order.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from jd_helpers import ingest, ledger_with_structure, page, row

from supernova_ledger.domain.state import BALANCE_FIELDS

INVALID = st.sampled_from([3, 4, 13, 19, 25, 30, -1, 31, 77, 1000])


@st.composite
def history(draw: st.DrawFn, row_id: str, order_id: int) -> list[dict[str, Any]]:
    estimate = draw(st.integers(min_value=0, max_value=200_000))
    units = draw(st.integers(min_value=1, max_value=4))
    versions: list[tuple[int, int | None, int, bool]] = []  # (code, actual fen, returned units, finished)
    for _ in range(draw(st.integers(0, 2))):
        versions.append((15, None, 0, False))
    code, actual, returned, finished = draw(st.sampled_from([16, 24])), 0, 0, False
    versions.append((code, actual, returned, finished))
    for _ in range(draw(st.integers(0, 4))):
        step = draw(st.sampled_from(["refund", "return", "complete", "invalid"]))
        if step == "refund":
            # before completion an actualCosPrice of 0 means "none given": all refunded is the invalid turn
            ceiling, floor = (actual if actual else estimate), (0 if code == 17 else 1)
            if ceiling >= floor:
                actual = draw(st.integers(min_value=floor, max_value=ceiling))
        elif step == "return" and returned < units:
            returned += 1
        elif step == "complete" and not finished and code in (16, 24):
            code, finished = 17, True
            actual = actual if actual else estimate
        elif step == "invalid" and code in (16, 17, 24):
            code = draw(INVALID)
        versions.append((code, actual, returned, finished))
        if code not in (16, 17, 24):
            break
    out = []
    for n, (code, actual_fen, returned_units, done) in enumerate(versions):
        out.append(row(
            row_id, orderId=order_id, skuNum=units, skuReturnNum=returned_units, validCode=code,
            estimateCosPrice=f"{estimate // 100}.{estimate % 100:02d}",
            actualCosPrice="0" if actual_fen is None else f"{actual_fen // 100}.{actual_fen % 100:02d}",
            finishTime="2026-11-05 09:00:00" if done else "",
            modifyTime=f"2026-11-{3 + n:02d} 10:00:00",
        ))
    return out


histories = st.tuples(history("r1", 3001), history("r2", 3002), history("r3", 3003))


def _books(ledger: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    report = ledger.report()
    balances = {pid: {f: p[f] for f in BALANCE_FIELDS} for pid, p in report["promoters"].items()}
    group = {k: report["groups"]["g1"][k] for k in ("gross_fen", "refunded_fen", "net_fen", "orders")}
    return balances, group


@given(rows=histories, data=st.data())
def test_any_arrival_order_gives_the_books_of_the_history(rows: tuple[list[dict[str, Any]], ...], data: st.DataObject) -> None:
    versions = [version for one in rows for version in one]
    arrival = data.draw(st.permutations(versions))
    arrival += data.draw(st.lists(st.sampled_from(versions), max_size=6))
    polls = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=len(arrival)))
    with ledger_with_structure() as in_order, ledger_with_structure() as shuffled:
        for one in rows:
            for version in one:
                assert ingest(in_order, page(version)).ok
        start = 0
        for size in polls + [len(arrival)]:
            if start < len(arrival):
                assert ingest(shuffled, page(*arrival[start:start + size])).ok
                start += size
        assert _books(shuffled) == _books(in_order)
