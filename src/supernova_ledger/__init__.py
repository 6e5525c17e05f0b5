"""supernova_ledger: the books of a social-commerce distribution programme.

An append-only event log of referrals, group joins, pushes, orders, refunds,
settlements and payouts, from which commission balances, group GMV and
promoter rankings are derived deterministically; the contract is docs/spec.md.

    from supernova_ledger import Ledger
    with Ledger.open("sqlite:///books.db") as ledger:
        outcome = ledger.append({...})      # accepted / duplicate / rejected + code
        report = ledger.report(period="2026-11")
"""

from .audit import Verification
from .domain.book import Outcome
from .domain.codes import Code
from .errors import (
    ConcurrencyConflict,
    CorruptLog,
    InvariantViolation,
    StoreError,
    StoreUnavailable,
    SupernovaError,
    UsageError,
)
from .events import DecodeFailure, Event, canonical, canonical_json, decode_event
from .ledger import DEFAULT_STORE_URL, MAX_BATCH, Ledger
from .rules import Rules

__version__ = "0.1.0"

__all__ = [
    "Ledger",
    "Outcome",
    "Code",
    "Event",
    "Rules",
    "Verification",
    "DecodeFailure",
    "decode_event",
    "canonical",
    "canonical_json",
    "DEFAULT_STORE_URL",
    "MAX_BATCH",
    "SupernovaError",
    "UsageError",
    "StoreError",
    "StoreUnavailable",
    "ConcurrencyConflict",
    "CorruptLog",
    "InvariantViolation",
    "__version__",
]
