"""Pausing Python's cyclic garbage collector around bulk work on the ledger's state."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc", "release_frozen"]


@contextmanager
def paused_gc(*, freeze: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector while folding, restoring or snapshotting.

    The fold allocates millions of long-lived, acyclic objects; every full
    collection would walk all of them again (measured: 14% of replay time at
    400k events, more as the state grows). Reference counting still frees
    everything meanwhile; the collector resumes afterwards as it was.

    ``freeze=True`` (for work whose result is state that lives on, such as a
    ledger's book): before the collector resumes, :func:`gc.freeze` moves every
    object alive now into the permanent generation, so the collections that
    follow never walk the state again (measured: 5-13% of ingest and replay
    CPU at 100k events). Frozen objects are never collected as cycles: whoever
    drops frozen state (a ledger closing or rebuilding its book) calls
    :func:`release_frozen`, so its cycles are found by the next collection."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if freeze:
                gc.freeze()
            gc.enable()


def release_frozen() -> None:
    """Hand frozen objects back to the collector (after dropping frozen state).

    (``gc.unfreeze`` is one list splice; ``gc.get_freeze_count`` would walk the list.)"""
    gc.unfreeze()
