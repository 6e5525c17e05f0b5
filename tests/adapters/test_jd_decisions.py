"""What each row version does to the books, through a real ledger."""

from __future__ import annotations

from typing import Any

import pytest
from jd_helpers import ingest, ledger_with_structure, page, row, rows_of

from supernova_ledger.adapters.jd_union import (
    Attribution,
    JdRow,
    RowState,
    advance,
    latest_versions,
    row_kind,
)

PLACED = row("r1", validCode=16, modifyTime="2026-11-02 10:00:05")
COMPLETED = row("r1", validCode=17, finishTime="2026-11-05 09:00:00", modifyTime="2026-11-05 09:00:00",
                actualCosPrice="99.90")
RETURNED = row("r1", validCode=17, finishTime="2026-11-05 09:00:00", modifyTime="2026-11-20 12:00:00",
               actualCosPrice="49.95", skuReturnNum=1)


def _ids(ledger: Any) -> list[str]:
    import json
    return [json.loads(line)["id"] for line in ledger.export()][4:]


def _jd(document: dict[str, Any]) -> JdRow:
    (item,) = rows_of(page(document))
    assert isinstance(item, JdRow)
    return item


@pytest.mark.parametrize(("code", "kind"), [
    (15, "unpaid"), (16, "paid"), (17, "paid"), (24, "paid"), (2, "split"), (3, "invalid"), (-1, "invalid"),
    (13, "invalid"), (30, "invalid"), (77, "invalid"), (1000, "invalid"),
])
def test_valid_codes(code: int, kind: str) -> None:
    assert row_kind(code) == kind


def test_a_line_through_its_life() -> None:
    with ledger_with_structure() as ledger:
        assert ingest(ledger, page(row("r1", validCode=15, modifyTime="2026-11-02 10:00:00"))).accepted == 0
        report = ingest(ledger, page(PLACED))
        assert (report.accepted, report.ok) == (1, True)
        assert ledger.balance("B")["pending_fen"] == 999 and ledger.balance("A")["pending_fen"] == 199
        ingest(ledger, page(COMPLETED))
        ingest(ledger, page(RETURNED))
        assert _ids(ledger) == ["jd:r1:placed", "jd:r1:completed", "jd:r1:refund:4995"]
        assert ledger.balance("B")["level1_fen"] == 499
        assert ledger.report()["groups"]["g1"]["refunded_fen"] == 4995


def test_redelivery_and_older_versions_change_nothing() -> None:
    with ledger_with_structure() as ledger:
        ingest(ledger, page(PLACED), page(COMPLETED), page(RETURNED))
        before = ledger.report()
        again = ingest(ledger, page(RETURNED), page(PLACED), page(COMPLETED))
        assert (again.accepted, again.outcomes) == (0, {"redelivered": 1})
        older = ingest(ledger, page(COMPLETED))
        assert older.outcomes == {"stale": 1}
        assert ledger.report() == before


def test_a_row_first_seen_in_its_final_state_gives_the_same_books() -> None:
    with ledger_with_structure() as history, ledger_with_structure() as final_first:
        for version in (PLACED, COMPLETED, RETURNED):
            ingest(history, page(version))
        ingest(final_first, page(RETURNED))
        ingest(final_first, page(PLACED), page(COMPLETED))  # late, older: nothing
        assert history.report() == final_first.report()


@pytest.mark.parametrize("code", [3, 4, 13, 25, -1, 31, 99])
def test_an_invalid_or_unknown_code_is_placed_and_refunded_in_full(code: int) -> None:
    with ledger_with_structure() as history, ledger_with_structure() as final_first:
        invalid = row("r1", validCode=code, modifyTime="2026-11-03 08:00:00")
        ingest(history, page(PLACED))
        ingest(history, page(invalid))
        report = ingest(final_first, page(invalid))
        assert report.ok
        assert _ids(final_first) == ["jd:r1:placed", "jd:r1:refund:9990"]
        assert history.report() == final_first.report()
        assert final_first.balance("B")["level1_fen"] == 0 and final_first.balance("A")["level2_fen"] == 0
        group = final_first.report()["groups"]["g1"]
        assert (group["gross_fen"], group["net_fen"]) == (9990, 0)


def test_a_split_parent_is_never_placed_and_its_children_are() -> None:
    with ledger_with_structure() as ledger:
        parent = row("p1", orderId=4000, validCode=2, modifyTime="2026-11-02 10:01:00")
        child = row("c1", orderId=4001, parentId=4000, validCode=16, modifyTime="2026-11-02 10:01:00")
        report = ingest(ledger, page(parent, child))
        assert report.outcomes == {"recorded": 1, "applied": 1}
        assert _ids(ledger) == ["jd:c1:placed"]
        # a parent placed before JD split it is refunded in full
        ingest(ledger, page(row("p2", orderId=4100, validCode=16)))
        ingest(ledger, page(row("p2", orderId=4100, validCode=2, modifyTime="2026-11-02 10:30:00")))
        assert _ids(ledger)[-2:] == ["jd:p2:placed", "jd:p2:refund:9990"]


def test_refunds_before_completion_and_late_refunds_after_settlement() -> None:
    with ledger_with_structure() as ledger:
        ingest(ledger, page(PLACED))
        ingest(ledger, page(row("r1", validCode=16, actualCosPrice="80.00", modifyTime="2026-11-03 10:00:00")))
        assert ledger.balance("B")["pending_fen"] == 800
        ingest(ledger, page(row("r1", validCode=17, actualCosPrice="80.00", finishTime="2026-11-04 10:00:00",
                                modifyTime="2026-11-04 10:00:00")))
        ledger.append({"type": "SettlementRun", "id": "s1", "at": "2026-11-30T00:00:00+08:00",
                       "as_of": "2026-11-30T00:00:00+08:00"})
        assert ledger.balance("B")["available_fen"] == 800
        ingest(ledger, page(row("r1", validCode=17, actualCosPrice="0", finishTime="2026-11-04 10:00:00",
                                modifyTime="2026-12-02 10:00:00")))
        assert ledger.balance("B") == {"pending_fen": 0, "available_fen": 0, "in_payout_fen": 0, "paid_out_fen": 0,
                                       "level1_fen": 0, "level2_fen": 0}
        assert _ids(ledger)[-1] == "jd:r1:refund:9990"


def test_unmapped_positions_are_reported_not_guessed() -> None:
    with ledger_with_structure() as ledger:
        report = ingest(ledger, page(row("r1", positionId=555), row("r2", positionId=555), row("r3")))
        assert report.outcomes == {"unmapped": 2, "applied": 1} and not report.ok
        assert report.unmapped_positions == {"positionId=555": 2}
        assert sorted(p["row_id"] for p in report.problems) == ["r1", "r2"]
        assert report.summary()["unmapped"] == 2
        # mapped later, the same rows apply
        report = ingest(ledger, page(row("r1", positionId=555)),
                        positions="position_id,promoter_id,group_id\n555,A,\n")
        assert report.accepted == 1


def test_sub_union_id_wins_over_the_position() -> None:
    with ledger_with_structure() as ledger:
        ingest(ledger, page(row("r1", positionId=9, subUnionId="kol-a")))
        assert ledger.balance("A")["level1_fen"] == 999 and ledger.report()["groups"]["g1"]["orders"] == 0


def test_unknown_promoter_or_group_is_reported_and_keeps_no_state() -> None:
    with ledger_with_structure() as ledger:
        mapping = "position_id,promoter_id,group_id\n1,Z,\n2,B,g-missing\n"
        report = ingest(ledger, page(row("r1", positionId=1), row("r2", positionId=2)), positions=mapping)
        assert sorted((p["row_id"], p["code"]) for p in report.problems) == [("r1", "unknown_promoter"),
                                                                           ("r2", "unknown_group")]
        assert ledger.read_state(["jd_union/row/r1", "jd_union/row/r2"]) == {}
        ledger.append({"type": "GroupOpened", "id": "g2", "at": "2026-11-03T08:00:00+08:00",
                       "group_id": "g-missing", "owner_id": "B", "city": "临沂", "city_tier": 3})
        assert ingest(ledger, page(row("r2", positionId=2)), positions=mapping).accepted == 1


def test_malformed_rows_are_reported_and_the_rest_applies() -> None:
    bad_amount = row("r2", estimateCosPrice="1.001")
    bad_time = row("r3", modifyTime="2026-11-02T10:00:05Z")
    missing = row("r4")
    del missing["validCode"]
    with ledger_with_structure() as ledger:
        report = ingest(ledger, page(row("r1"), bad_amount, bad_time, missing))
        assert sorted(bad.row_id for bad in report.malformed if bad.row_id) == ["r2", "r3", "r4"]
        assert _ids(ledger) == ["jd:r1:placed"]
        assert report.summary()["malformed"] == 3


def _state(version: dict[str, Any], **fields: Any) -> RowState:
    return RowState(modified=version["modifyTime"], digest=_jd(version).digest(), **fields)


def _advance(state: RowState | None, version: dict[str, Any]) -> Any:
    return advance(state, _jd(version), lambda _row: Attribution("B", "g1"), lambda _row: "daily")


def test_advance_is_pure_and_deterministic() -> None:
    step = _advance(None, RETURNED)
    assert [event["id"] for event in step.events] == ["jd:r1:placed", "jd:r1:completed", "jd:r1:refund:4995"]
    assert step.state == RowState(modified="2026-11-20 12:00:00", digest=_jd(RETURNED).digest(), placed_fen=9990,
                                  completed=True, refunded_fen=4995)
    assert _advance(None, RETURNED) == step
    assert _advance(step.state, COMPLETED).outcome == "stale"
    assert _advance(step.state, RETURNED).outcome == "redelivered"
    assert _advance(step.state, dict(RETURNED, actualCosPrice="10.00")).outcome == "conflict"
    assert _advance(_state(PLACED, placed_fen=9990), row("r1", validCode=15, modifyTime="2026-11-09 00:00:00")).events == ()


def test_latest_versions_ignores_arrival_order() -> None:
    versions = [_jd(PLACED), _jd(RETURNED), _jd(COMPLETED), _jd(PLACED)]
    assert latest_versions(versions) == latest_versions(reversed(versions)) == {"r1": _jd(RETURNED)}


def test_commissionable_amount_by_version() -> None:
    with ledger_with_structure() as ledger:
        completed_without_actual = row("r1", validCode=17, finishTime="2026-11-05 09:00:00",
                                       modifyTime="2026-11-05 09:00:00")
        del completed_without_actual["actualCosPrice"]
        ingest(ledger, page(completed_without_actual))
        assert _ids(ledger) == ["jd:r1:placed", "jd:r1:completed"]  # no actualCosPrice: nothing refunded
        # a unit returned before completion: half of a 2-unit line
        ingest(ledger, page(row("r2", orderId=3002, skuReturnNum=1, modifyTime="2026-11-03 09:00:00")))
        assert _ids(ledger)[-2:] == ["jd:r2:placed", "jd:r2:refund:4995"]
        # an estimate lowered before completion is a partial refund; a raised one changes nothing
        ingest(ledger, page(row("r3", orderId=3003)))
        ingest(ledger, page(row("r3", orderId=3003, estimateCosPrice="90.00", modifyTime="2026-11-03 09:00:00")))
        ingest(ledger, page(row("r3", orderId=3003, estimateCosPrice="120.00", modifyTime="2026-11-04 09:00:00")))
        assert _ids(ledger)[-2:] == ["jd:r3:placed", "jd:r3:refund:990"]


def test_many_rows_are_appended_in_bounded_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    from supernova_ledger.adapters import jd_union

    versions = [row(f"u{n}", orderId=5000 + n, validCode=15) for n in range(7)]  # state only
    versions += [row(f"p{n}", orderId=6000 + n, validCode=3) for n in range(5)]  # two events each
    with ledger_with_structure() as whole:
        ingest(whole, page(*versions))
        want = whole.report(), sorted(whole.store.state_items("jd_union/row/"))
    monkeypatch.setattr(jd_union, "_APPEND_EVENTS", 3)
    monkeypatch.setattr(jd_union, "_APPEND_ROWS", 2)
    appends: list[int] = []
    with ledger_with_structure() as batched:
        original = batched.append_batch

        def counting(events: Any, *, state: Any = None) -> Any:
            appends.append(len(state or {}))
            return original(events, state=state)

        monkeypatch.setattr(batched, "append_batch", counting)
        report = ingest(batched, page(*versions))
        assert report.ok and max(appends) <= 2 and len(appends) >= 6
        assert (batched.report(), sorted(batched.store.state_items("jd_union/row/"))) == want
