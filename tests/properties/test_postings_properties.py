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
from supernova_ledger.domain.accounts import MOVEMENT_KEYS, build_statement
from supernova_ledger.domain.postings import Balances, Posting, Tally, apply_posting, sum_postings
from supernova_ledger.errors import InvariantViolation
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


# -- Tally: postings added up per effect give what applying each one gives ---------------

_EFFECTS = st.one_of(
    st.tuples(st.just("earn"), st.sampled_from([1, 2]), st.none()),
    st.tuples(st.just("clawback"), st.sampled_from([1, 2]), st.sampled_from(["pending", "available"])),
    st.tuples(st.sampled_from(["settle"]), st.sampled_from([1, 2, None]), st.just("pending")),
    st.tuples(st.sampled_from(["payout"]), st.none(), st.just("available")),
    st.tuples(st.sampled_from(["paid", "returned"]), st.none(), st.just("in_payout")),
)


def _posting(kind: str, level: int | None, source: str | None, amount: int, book: str) -> Posting:
    return Posting(promoter_id="P", position=1, event_id="e", at="2026-11-01T00:00:00Z", book=book,
                   kind=kind, level=level, from_=source, amount_fen=amount)  # type: ignore[arg-type]


@given(st.lists(st.tuples(_EFFECTS, st.integers(1, 10**12)), max_size=60))
def test_a_tally_gives_the_balances_of_applying_each_posting(items: list[tuple[tuple[Any, Any, Any], int]]) -> None:
    postings = [_posting(kind, level, source, amount, "2026-11") for (kind, level, source), amount in items]
    one_by_one = Balances()
    for posting in postings:
        apply_posting(one_by_one, posting)
    assert sum_postings(postings).as_dict() == one_by_one.as_dict()
    tally = Tally()
    for posting in postings:
        tally.add(posting)
    assert len(tally.sums) <= len({(p.kind, p.level, p.from_) for p in postings})
    again = Balances()
    tally.apply_to(again, "P")
    assert again.as_dict() == one_by_one.as_dict()


@given(st.lists(st.tuples(_EFFECTS, st.integers(1, 10**9), st.sampled_from(["2026-10", "2026-11", "2026-12"])),
                max_size=60), st.sampled_from(["2026-10", "2026-11"]))
def test_a_statement_sums_each_posting_once_into_opening_movements_and_closing(
    items: list[tuple[tuple[Any, Any, Any], int, str]], period: str
) -> None:
    """build_statement (per-effect tallies) against the definition, posting by posting."""
    postings = [_posting(kind, level, source, amount, book) for (kind, level, source), amount, book in items]
    book = Book()
    stated = build_statement(book, postings, period)
    opening, closing = Balances(), Balances()
    movements = dict.fromkeys(MOVEMENT_KEYS, 0)
    for posting in postings:
        if posting.book > period:
            continue
        apply_posting(closing, posting)
        if posting.book < period:
            apply_posting(opening, posting)
        elif posting.kind in ("earn", "clawback"):
            movements[f"{'earned' if posting.kind == 'earn' else 'clawed_back'}_l{posting.level}_fen"] += posting.amount_fen
        else:
            movements[{"settle": "settled_fen", "payout": "payout_fen", "paid": "paid_fen",
                       "returned": "returned_fen"}[posting.kind]] += posting.amount_fen
    listed = any(p.book == period for p in postings) or opening.any()
    if not listed:
        assert stated["promoters"] == {}
        return
    assert stated["promoters"] == {"P": {"opening": opening.as_dict(), **movements, "closing": closing.as_dict()}}


@pytest.mark.parametrize("amount", [0, -5])
def test_a_tally_refuses_a_posting_that_is_not_positive(amount: int) -> None:
    with pytest.raises(InvariantViolation):
        Tally().add(_posting("earn", 1, None, amount, "2026-11"))
