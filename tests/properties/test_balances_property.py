"""The balances table (written with every batch) always equals the folded state."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from strategies import event_logs

from supernova_ledger import Ledger
from supernova_ledger.balances import decode_row
from supernova_ledger.domain.state import BALANCE_FIELDS


@given(event_logs(), st.lists(st.integers(1, 12), min_size=1, max_size=8))
def test_every_promoter_row_equals_its_folded_balances(log: list[dict[str, Any]], cuts: list[int]) -> None:
    with Ledger.open("memory:") as ledger:
        start, k = 0, 0
        while start < len(log):  # random batch sizes: rows must follow every batch
            size = cuts[k % len(cuts)]
            ledger.append_batch(log[start : start + size])
            start, k = start + size, k + 1
        promoters = ledger._book.promoters
        rows = ledger.store.read_balances(sorted(promoters))
        assert sorted(rows) == sorted(promoters)
        for promoter_id, data in rows.items():
            assert dict(zip(BALANCE_FIELDS, decode_row(data).balances)) == promoters[promoter_id].balances()
