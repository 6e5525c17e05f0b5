"""The money invariant (SPEC §6) is guarded by checks that stay on under ``python -O``."""

from __future__ import annotations

import subprocess
import sys

import pytest
from builders import feed, order, programme

from supernova_ledger import InvariantViolation, Ledger


def test_invariant_survives_python_dash_o() -> None:
    code = (
        "from supernova_ledger.errors import invariant, InvariantViolation\n"
        "try:\n    invariant(False, 'balances')\nexcept InvariantViolation as e:\n    print(e.code)\n"
    )
    done = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "invariant_violation"


def test_a_broken_balance_is_caught_at_the_next_money_change() -> None:
    with Ledger.open("memory:") as ledger:
        programme(ledger)
        feed(ledger, order("o1", "c1", group="g1"))
        ledger._book.promoters["B"].pending_fen += 1  # simulate a bug in the fold
        with pytest.raises(InvariantViolation, match="'B'"):
            ledger.append(order("o2", "c1", group="g1"))
