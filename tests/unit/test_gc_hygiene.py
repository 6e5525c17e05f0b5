"""The ledger freezes its long-lived state for the collector and hands it back when dropped."""

from __future__ import annotations

import gc

from supernova_ledger import Ledger

from builders import programme


def test_a_closed_ledger_leaves_nothing_frozen_and_its_cycles_are_collected() -> None:
    gc.collect()
    ledger = Ledger.open("memory:")
    programme(ledger)
    assert gc.get_freeze_count() > 0  # the book was frozen after deciding
    ledger.report(until=3)  # a temporary book: folded without freezing
    ledger.close()
    assert gc.get_freeze_count() == 0  # whatever cycles the state holds are collectable again


def test_a_ledger_that_rebuilds_its_book_hands_the_old_one_back() -> None:
    with Ledger.open("memory:") as ledger:
        programme(ledger)
        ledger._rebuild()
        assert gc.get_freeze_count() == 0
        assert ledger.report()["events"] > 0  # folded afresh from the store
