"""Checkpoints on every store: kept across reopen, verified before use, corrupt ones ignored."""

from __future__ import annotations

from pathlib import Path

from supernova_ledger import Ledger
from supernova_ledger.store import open_store

EXAMPLE = Path(__file__).parents[1] / "golden" / "spec_example.jsonl"


def test_checkpoint_survives_reopen_and_gives_the_same_state(store_url: str) -> None:
    lines = EXAMPLE.read_bytes().splitlines()
    with Ledger.open(store_url) as ledger:
        ledger.append_batch(lines[:9])
        assert ledger.checkpoint() == 9
        ledger.append_batch(lines[9:])
        expected = ledger.report()
    with Ledger.open(store_url) as reopened:
        assert reopened.store.load_checkpoint() is not None
        assert reopened.checkpoint_problem is None
        assert reopened.report() == expected
        assert reopened.verify().ok


def test_newer_checkpoint_replaces_older_and_corrupt_one_is_ignored(store_url: str) -> None:
    lines = EXAMPLE.read_bytes().splitlines()
    store = open_store(store_url)
    try:
        ledger = Ledger(store)
        ledger.append_batch(lines[:5])
        ledger.checkpoint()
        ledger.append_batch(lines[5:])
        ledger.checkpoint()
        expected = ledger.report()
        position, blob = store.load_checkpoint() or (0, b"")
        assert position == 12
        store.save_checkpoint(13, blob[:-3] + b"xyz")  # a newer, damaged one
        again = Ledger(store)
        assert "checksum" in (again.checkpoint_problem or "")
        assert again.report() == expected
    finally:
        store.close()


def test_a_checkpoint_of_rules_written_in_any_key_order_verifies(store_url: str) -> None:
    """Live, the rules come in the input line's key order; replayed, in canonical (sorted) order.
    The checkpoint must not depend on it, or verify reports a sound checkpoint as forged."""
    lines = [
        b'{"type":"RulesAdopted","id":"r1","at":"2026-11-01T00:00:00+08:00","rules":{"settle_after_days":7,'
        b'"category_rates":{"b":{"level1_bps":300,"level2_bps":50},"a":{"level2_bps":50,"level1_bps":300}}}}',
        b'{"type":"PromoterJoined","id":"e1","at":"2026-11-01T09:00:00+08:00","promoter_id":"A",'
        b'"program":"fenxiang","city":"x","city_tier":1}',
    ]
    with Ledger.open(store_url) as ledger:
        ledger.append_batch(lines)
        ledger.checkpoint()
        result = ledger.verify()
        assert result.ok, result.describe()
