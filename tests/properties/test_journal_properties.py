"""Hypothesis properties of postings, explanations and statements (SPEC §6.1, §8.2, §8.3)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from strategies import event_logs

from supernova_ledger import Ledger
from supernova_ledger.domain import Book
from supernova_ledger.domain.postings import Balances, Posting, apply_posting
from supernova_ledger.events import DecodeFailure, coerce_event


def _sum_by_hand(postings: list[Posting]) -> dict[str, int]:
    """Balances from postings, written out from SPEC §6.1 (not with apply_posting)."""
    sums = dict.fromkeys(Balances.__slots__, 0)
    for p in postings:
        assert p.amount_fen > 0
        if p.from_ is not None:
            sums[p.from_ + "_fen"] -= p.amount_fen
        if p.to is not None:
            sums[p.to + "_fen"] += p.amount_fen
        if p.kind in ("earn", "clawback"):
            sums[f"level{p.level}_fen"] += p.amount_fen if p.kind == "earn" else -p.amount_fen
    return sums


@given(event_logs())
def test_at_every_position_each_balance_is_the_sum_of_its_postings(log: list[dict[str, Any]]) -> None:
    book = Book()
    postings: dict[str, list[Posting]] = {}
    for item in log:
        try:
            event = coerce_event(item)
        except DecodeFailure:
            continue
        outcome, _ = book.submit(event)
        if outcome.status != "accepted":
            assert outcome.postings == ()
            continue
        for posting in outcome.postings:
            assert (posting.position, posting.event_id) == (outcome.position, event.id)
            assert posting.book >= (book.closed_through or "")
            postings.setdefault(posting.promoter_id, []).append(posting)
        for promoter_id, promoter in book.promoters.items():
            assert _sum_by_hand(postings.get(promoter_id, [])) == promoter.balances(), (promoter_id, book.position)


@given(event_logs(), event_logs(max_size=30), st.sampled_from(["2026-11", "2026-12"]))
def test_a_closed_month_never_changes(before: list[dict[str, Any]], after: list[dict[str, Any]], month: str) -> None:
    with Ledger.open("memory:") as ledger:
        ledger.append_batch(before)
        ledger.append({"type": "PeriodClosed", "id": "close", "at": "2027-03-01T00:00:00Z", "period": month})
        closed_at = ledger.position
        at_close = ledger.statement(month)
        # Closed now: by this close, or by an earlier close of it or of a later month.
        assert at_close["closed"] is True
        ledger.append_batch([{**event, "id": f"later-{n}"} for n, event in enumerate(after)])
        later = ledger.statement(month)
        assert later["closed"] is True
        assert (later["promoters"], later["totals"]) == (at_close["promoters"], at_close["totals"])
        assert ledger.statement(month, until=closed_at)["digest"] == at_close["digest"]


@given(event_logs())
def test_statements_add_up_and_chain(log: list[dict[str, Any]]) -> None:
    with Ledger.open("memory:") as ledger:
        ledger.append_batch(log)
        months = ["2026-10", "2026-11", "2026-12", "2027-01"]
        statements = [ledger.statement(month) for month in months]
        report = ledger.report()
    for statement in statements:
        for promoter_id, account in statement["promoters"].items():
            moved = account["closing"]
            assert moved["level1_fen"] - account["opening"]["level1_fen"] == (
                account["earned_l1_fen"] - account["clawed_back_l1_fen"])
            assert moved["level2_fen"] - account["opening"]["level2_fen"] == (
                account["earned_l2_fen"] - account["clawed_back_l2_fen"])
            assert moved["paid_out_fen"] - account["opening"]["paid_out_fen"] == account["paid_fen"]
            assert moved["in_payout_fen"] - account["opening"]["in_payout_fen"] == (
                account["payout_fen"] - account["paid_fen"] - account["returned_fen"])
    # Each month opens where the one before closed (every posting is booked in some month of the window
    # or later; promoters with nothing at all are left out of both).
    for earlier, later in zip(statements, statements[1:]):
        for promoter_id, account in later["promoters"].items():
            if promoter_id in earlier["promoters"]:
                assert account["opening"] == earlier["promoters"][promoter_id]["closing"]
    # The last month's closing balances are the report's balances for every promoter listed.
    last = statements[-1]
    for promoter_id, account in last["promoters"].items():
        wanted = {k: v for k, v in report["promoters"][promoter_id].items() if k.endswith("_fen")}
        assert account["closing"] == wanted


@given(event_logs())
def test_explain_sums_to_the_balances(log: list[dict[str, Any]]) -> None:
    with Ledger.open("memory:") as ledger:
        ledger.append_batch(log)
        report = ledger.report()
        for promoter_id, figures in report["promoters"].items():
            explanation = ledger.explain(promoter_id)
            balances = Balances()
            for p in explanation["postings"]:
                apply_posting(balances, Posting(promoter_id=promoter_id, **{("from_" if k == "from" else k): v
                                                                         for k, v in p.items()}))
            assert balances.as_dict() == explanation["balances"]
            assert explanation["balances"] == {k: v for k, v in figures.items() if k.endswith("_fen")}
