"""SPEC §10.1: the version-2 worked example's postings, explanation and statements, pinned.

The test vectors (log head and digests) are the spec's; the postings and
statement figures are the ones it works out by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from supernova_ledger import Ledger
from supernova_ledger.errors import UsageError

HERE = Path(__file__).parent
V2 = HERE / "spec_example_v2.jsonl"
EXPLAIN_B = "2cc65ca0c17eb8b7e6e090bbd7d68e9529024b9d10247fa9c0756cfbf8a8c798"
STATEMENT_NOV = "a4f0f260710d17dc59e8f467cbf7cb8ff33fba627e6c45581df2a061905c0c07"
STATEMENT_DEC = "5b215ef3f075ea63f5ae3a57bd039a764fbc2dd32f5c993547bef87ac2b11b82"


@pytest.fixture(scope="module")
def ledger() -> Any:
    with Ledger.open("memory:") as opened:
        opened.append_batch([line for line in V2.read_bytes().split(b"\n") if line.strip()])
        yield opened


def _brief(postings: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(p["position"], p["kind"], p["level"], p["sku"] or p["payout_id"], p["from"], p["to"], p["amount_fen"],
             p["book"]) for p in postings]


def test_explain_b(ledger: Ledger) -> None:
    explanation = ledger.explain("B")
    assert explanation["digest"] == EXPLAIN_B
    assert _brief(explanation["postings"]) == [
        (7, "earn", 1, "s1", None, "pending", 999, "2026-11"),
        (7, "earn", 1, "s2", None, "pending", 597, "2026-11"),
        (9, "settle", 1, None, "pending", "available", 1596, "2026-11"),
        (10, "payout", None, "po1", "available", "in_payout", 1500, "2026-11"),
        (11, "clawback", 1, "s1", "available", None, 500, "2026-11"),
        (12, "paid", None, "po1", "in_payout", "paid_out", 1500, "2026-11"),
        (14, "clawback", 1, "s2", "available", None, 597, "2026-12"),  # November was closed when it came
    ]
    clawback = explanation["postings"][4]
    assert (clawback["rate_bps"], clawback["base_fen"], clawback["order_id"]) == (1000, 4995, "o1")
    assert explanation["balances"] == {"pending_fen": 0, "available_fen": -1001, "in_payout_fen": 0,
                                       "paid_out_fen": 1500, "level1_fen": 499, "level2_fen": 0}


def test_explain_a_and_periods(ledger: Ledger) -> None:
    a = ledger.explain("A")
    assert _brief(a["postings"]) == [
        (7, "earn", 2, "s1", None, "pending", 199, "2026-11"),
        (7, "earn", 2, "s2", None, "pending", 99, "2026-11"),
        (9, "settle", 2, None, "pending", "available", 298, "2026-11"),
        (11, "clawback", 2, "s1", "available", None, 100, "2026-11"),
        (14, "clawback", 2, "s2", "available", None, 99, "2026-12"),
    ]
    assert [p["position"] for p in ledger.explain("A", period="2026-12")["postings"]] == [14]
    assert ledger.explain("B", until=12)["balances"]["available_fen"] == -404
    with pytest.raises(UsageError, match="'Z' has not joined"):
        ledger.explain("Z")
    with pytest.raises(UsageError, match="has not joined"):
        ledger.explain("B", until=2)  # B joins at position 3
    with pytest.raises(UsageError, match="period"):
        ledger.explain("B", period="2026-11-01")


def test_statements(ledger: Ledger) -> None:
    november = ledger.statement("2026-11")
    assert november["digest"] == STATEMENT_NOV
    assert november["closed"] is True
    b = november["promoters"]["B"]
    assert (b["earned_l1_fen"], b["clawed_back_l1_fen"], b["settled_fen"], b["payout_fen"], b["paid_fen"]) == (
        1596, 500, 1596, 1500, 1500)
    assert (b["closing"]["available_fen"], b["closing"]["level1_fen"]) == (-404, 1096)
    a = november["promoters"]["A"]
    assert (a["earned_l2_fen"], a["clawed_back_l2_fen"], a["settled_fen"], a["closing"]["available_fen"]) == (
        298, 100, 298, 198)
    december = ledger.statement("2026-12")
    assert december["digest"] == STATEMENT_DEC
    assert december["closed"] is False
    assert december["promoters"]["B"]["opening"] == november["promoters"]["B"]["closing"]
    assert (december["promoters"]["B"]["clawed_back_l1_fen"], december["promoters"]["B"]["closing"]["available_fen"]) == (
        597, -1001)


def test_a_closed_month_is_the_same_before_and_after_the_late_refund(ledger: Ledger) -> None:
    at_close = ledger.statement("2026-11", until=13)
    now = ledger.statement("2026-11")
    assert at_close["closed"] is True
    assert (at_close["promoters"], at_close["totals"]) == (now["promoters"], now["totals"])
    before_close = ledger.statement("2026-11", until=12)
    assert before_close["closed"] is False


def test_statement_for_one_promoter(ledger: Ledger) -> None:
    only_b = ledger.statement("2026-11", promoter="B")
    assert list(only_b["promoters"]) == ["B"]
    assert only_b["totals"] == {k: v for k, v in only_b["promoters"]["B"].items()}
    assert ledger.statement("2026-10")["promoters"] == {}


def test_every_balance_is_the_sum_of_its_postings(ledger: Ledger) -> None:
    for promoter in ("A", "B"):
        explanation = ledger.explain(promoter)
        sums = dict.fromkeys(explanation["balances"], 0)
        for p in explanation["postings"]:
            if p["from"]:
                sums[p["from"] + "_fen"] -= p["amount_fen"]
            if p["to"]:
                sums[p["to"] + "_fen"] += p["amount_fen"]
            if p["kind"] in ("earn", "clawback"):
                sums[f"level{p['level']}_fen"] += p["amount_fen"] if p["kind"] == "earn" else -p["amount_fen"]
        assert sums == explanation["balances"], promoter
