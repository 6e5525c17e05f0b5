"""Errors a user of supernova_ledger can meet.

Rejections of events are *data* (:class:`supernova_ledger.Outcome`), never
exceptions. Exceptions are for the things a caller must handle::

    SupernovaError                      every error below carries ``code``
    ├── UsageError                      bad argument: store URL, period, top, until
    ├── StoreError                      the store cannot be used
    │   ├── StoreUnavailable            unreachable server, unwritable path
    │   │   └── NoLedger                    a read found no ledger at the URL (nothing created)
    │   └── ConcurrencyConflict         another writer stored those positions first
    ├── CorruptLog                      stored log fails decoding or replay
    └── InvariantViolation              a money invariant broke (a bug; never ignored)
"""

from __future__ import annotations

__all__ = [
    "SupernovaError",
    "UsageError",
    "StoreError",
    "StoreUnavailable",
    "ConcurrencyConflict",
    "NoLedger",
    "CorruptLog",
    "InvariantViolation",
    "invariant",
]


class SupernovaError(Exception):
    """Base class; ``code`` is stable, ``message`` names the field or thing at fault."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class UsageError(SupernovaError):
    code = "usage"


class StoreError(SupernovaError):
    code = "store_error"


class StoreUnavailable(StoreError):
    code = "store_unavailable"


class NoLedger(StoreUnavailable):
    code = "no_ledger"


class ConcurrencyConflict(StoreError):
    code = "concurrency_conflict"


class CorruptLog(SupernovaError):
    code = "corrupt_log"


class InvariantViolation(SupernovaError):
    code = "invariant_violation"


def invariant(condition: bool, message: str) -> None:
    """An assertion that stays on under ``python -O``: it guards money."""
    if not condition:
        raise InvariantViolation(message)
