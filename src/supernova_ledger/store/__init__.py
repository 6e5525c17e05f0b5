"""Log stores: ``memory:``, ``sqlite:///PATH``, ``postgresql://…``.

:func:`open_store` is the one place a URL becomes a store. The durable
stores are imported only when their URL is used, so ``memory:`` needs no
database driver.
"""

from __future__ import annotations

from ..errors import UsageError
from .base import GENESIS_HEAD, MAX_APPEND_BATCH, LogRecord, LogStore
from .memory import MemoryStore

__all__ = ["GENESIS_HEAD", "MAX_APPEND_BATCH", "LogRecord", "LogStore", "MemoryStore", "open_store"]


def open_store(url: str) -> LogStore:
    """Open the store a URL names. Raises UsageError / StoreUnavailable."""
    if url.startswith("memory:"):
        return MemoryStore(url)
    if url.startswith("sqlite:"):
        from .sqlite import SQLiteStore

        return SQLiteStore(url)
    if url.startswith(("postgresql:", "postgres:")):
        from .postgres import PostgresStore

        return PostgresStore(url)
    raise UsageError(f"store: unsupported URL {url!r} (use sqlite:///PATH, postgresql://…, memory:)")
