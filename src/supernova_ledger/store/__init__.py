"""Log stores: ``memory:``, ``sqlite:///PATH``, ``postgresql://…``.

:func:`open_store` is the one place a URL becomes a store. The durable
stores are imported only when their URL is used, so ``memory:`` needs no
database driver.
"""

from __future__ import annotations

from ..errors import UsageError
from .base import GENESIS_HEAD, MAX_APPEND_BATCH, LogRecord, LogStore, redact_url
from .memory import MemoryStore

__all__ = ["GENESIS_HEAD", "MAX_APPEND_BATCH", "LogRecord", "LogStore", "MemoryStore", "open_store", "redact_url"]


def open_store(url: str, *, create: bool = True) -> LogStore:
    """Open the store a URL names. Raises UsageError / StoreUnavailable.

    ``create=False`` (the read commands): a store holding no ledger yet is
    :class:`~supernova_ledger.errors.NoLedger` and nothing is created (an
    SQLite file this process may not write is opened read-only)."""
    if url.startswith("memory:"):
        return MemoryStore(url)
    if url.startswith("sqlite:"):
        from .sqlite import SQLiteStore

        return SQLiteStore(url, create=create)
    if url.startswith(("postgresql:", "postgres:")):
        from .postgres import PostgresStore

        return PostgresStore(url, create=create)
    raise UsageError(f"store: unsupported URL {redact_url(url)!r} (use sqlite:///PATH, postgresql://…, memory:)")
