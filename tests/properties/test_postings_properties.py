"""Postings are the books (SPEC §6.1): at every position, each balance is the sum of its postings.

Random logs (``tests/strategies.py``, with ``PeriodClosed`` events put in)
and random conformance logs, folded event by event: after every accepted
event, every promoter's six balances equal the sum of the postings made for
it so far — and through the API, ``explain`` lists postings that add up to
the balances it shows, at any ``until``.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import ledger_logs

from conformance.generator import generate as conformance_lines
from supernova_ledger import Ledger
from supernova_ledger.domain import Book
from supernova_ledger.domain.postings import Posting, sum_postings
from supernova_ledger.events import DecodeFailure, coerce_event


def fold_checking_every_position(log: list[Any]) -> int:
    """Fold ``log`` into a Book; after each accepted event check every promoter's balances
    against the sum of its postings. Returns how many postings were made."""
    book = Book()
    posted: dict[str, list[Posting]] = {}
    made = 0
    for line in log:
        try:
            event = coerce_event(line)
        except DecodeFailure:
            continue
        outcome, _ = book.submit(event)
        if not outcome.accepted:
            assert outcome.postings == ()
            continue
        for posting in outcome.postings:
            assert (posting.position, posting.event_id) == (outcome.position, outcome.id)
            assert book.closed_through is None or posting.book > book.closed_through
            posted.setdefault(posting.promoter_id, []).append(posting)
        made += len(outcome.postings)
        assert set(posted) <= set(book.promoters)
        for promoter_id, promoter in book.promoters.items():
            assert sum_postings(posted.get(promoter_id, ())).as_dict() == promoter.balances(), (
                promoter_id, outcome.position,
            )
    return made


@given(ledger_logs())
def test_each_balance_is_the_sum_of_its_postings_at_every_position(log: list[dict[str, Any]]) -> None:
    fold_checking_every_position(log)


@pytest.mark.parametrize("v2", [False, True], ids=["v1", "v2"])
@pytest.mark.parametrize("seed", range(4))
def test_the_same_over_conformance_logs(seed: int, v2: bool) -> None:
    """v2 logs: closed months, bad PeriodClosed lines, back-dated corrections, zone changes at month ends."""
    assert fold_checking_every_position(conformance_lines(seed, 400, v2=v2)) > 0


def _postings_of(explained: dict[str, Any]) -> list[Posting]:
    return [msgspec.convert({**spec, "promoter_id": explained["promoter_id"]}, Posting)
            for spec in explained["postings"]]


@given(ledger_logs(), st.data())
def test_explain_lists_postings_that_add_up_to_its_balances(log: list[dict[str, Any]], data: st.DataObject) -> None:
    with Ledger.open("memory:") as ledger:
        for event in log:
            ledger.append(event)
        until = data.draw(st.integers(0, ledger.position))
        book = Book()  # who had joined by then
        for line in ledger.export():
            if book.position == until:
                break
            book.submit(coerce_event(line))
        for promoter_id in sorted(book.promoters):
            explained = ledger.explain(promoter_id, until=until)
            assert sum_postings(_postings_of(explained)).as_dict() == explained["balances"]
