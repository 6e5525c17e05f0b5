"""The public API is typed: mypy --strict (configured in pyproject.toml) passes on the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_package_ships_py_typed() -> None:
    assert (ROOT / "src" / "supernova_ledger" / "py.typed").exists()


def test_mypy_strict_is_clean() -> None:
    pytest.importorskip("mypy")
    done = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_results_are_checked_by_mypy(tmp_path: Path) -> None:
    """An embedder's code gets real types from report(), explain(), statement(), balance()."""
    pytest.importorskip("mypy")
    user = tmp_path / "user_code.py"
    user.write_text(
        "from supernova_ledger import Ledger\n"
        "with Ledger.open('memory:') as ledger:\n"
        "    report = ledger.report()\n"
        "    fen: int = report.promoters['B'].available_fen + report.tiers['3'].net_fen\n"
        "    head: str = ledger.explain('B').postings[0].event_id\n"
        "    closed: bool = ledger.statement('2026-11').totals.closing.paid_out_fen > 0\n"
        "    balance = ledger.balance('B')\n"
        "    if balance is not None:\n"
        "        level: int = balance.level1_fen\n"
        "    wrong: str = report.events\n"  # the one error mypy must find
        "    also_wrong = report.no_such_field\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(user)],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2, done.stdout
    assert 'Incompatible types in assignment (expression has type "int", variable has type "str")' in errors[0]
    assert '"Report" has no attribute "no_such_field"' in errors[1]
