"""The adapter's row state lives beside the log, in the events' transaction, and survives reopening."""

from __future__ import annotations

import json

from jd_helpers import STRUCTURE, books, feed_steps, ingest, page, programme, row

from supernova_ledger import Ledger
from supernova_ledger.adapters.jd_union import STATE_PREFIX, RowState
from supernova_ledger.store import open_store

PLACED = row("r1", validCode=16)
COMPLETED = row("r1", validCode=17, finishTime="2026-11-05 09:00:00", modifyTime="2026-11-05 09:00:00",
                actualCosPrice="99.90")
CANCELLED = row("r2", orderId=3002, validCode=3, modifyTime="2026-11-03 09:00:00")


def test_row_state_survives_reopening(durable_url: str) -> None:
    with Ledger.open(durable_url) as ledger:
        ledger.append_batch(STRUCTURE)
        assert ingest(ledger, page(COMPLETED, CANCELLED)).ok
        events = ledger.position
    with Ledger.open(durable_url) as ledger:
        again = ingest(ledger, page(PLACED, COMPLETED, CANCELLED))  # re-delivered (r1's latest is COMPLETED)
        assert (again.accepted, again.duplicates, again.outcomes) == (0, 0, {"redelivered": 2})
        assert ingest(ledger, page(PLACED)).outcomes == {"stale": 1}  # an older version, alone
        assert ledger.position == events
        returned = dict(COMPLETED, modifyTime="2026-11-21 10:00:00", actualCosPrice="0.00")
        assert ingest(ledger, page(returned)).accepted == 1
    with open_store(durable_url) as store:
        states = {key: RowState(**json.loads(value)) for key, value in store.state_items(STATE_PREFIX)}
    assert states == {
        "jd_union/row/r1": RowState(modified="2026-11-21 10:00:00", digest=states["jd_union/row/r1"].digest,
                                    placed_fen=9990, completed=True, refunded_fen=9990),
        "jd_union/row/r2": RowState(modified="2026-11-03 09:00:00", digest=states["jd_union/row/r2"].digest,
                                    placed_fen=9990, completed=False, refunded_fen=9990),
    }


def test_a_programme_fed_across_reopenings_gives_the_books_of_one_session(durable_url: str) -> None:
    prog = programme(5, 8, 8)
    with Ledger.open("memory:") as memory:
        feed_steps(memory, prog)
        want = memory.report()
    half = len(prog.steps) // 2
    first, second = type(prog)(prog.steps[:half], prog.positions_csv, prog.categories_csv, []), \
        type(prog)(prog.steps[half:], prog.positions_csv, prog.categories_csv, [])
    with Ledger.open(durable_url) as ledger:
        feed_steps(ledger, first)
    with Ledger.open(durable_url) as ledger:
        feed_steps(ledger, second)
        assert ledger.report() == want
        # everything delivered once more: nothing changes
        everything = type(prog)([step for step in prog.steps if step[0] == "rows"], prog.positions_csv,
                                prog.categories_csv, [])
        reports = feed_steps(ledger, everything)
        assert sum(report.accepted for report in reports) == 0
        assert books(ledger.report()) == books(want)
