"""Log stores: ``memory:``, ``sqlite:///PATH``, ``postgresql://…``."""

from __future__ import annotations

from ..errors import UsageError
from .base import GENESIS_HEAD, MAX_APPEND_BATCH, LogRecord, LogStore
from .memory import MemoryStore

__all__ = ["GENESIS_HEAD", "MAX_APPEND_BATCH", "LogRecord", "LogStore", "MemoryStore", "open_store"]


def open_store(url: str) -> LogStore:
    """Open the store a URL names. Raises UsageError / StoreUnavailable."""
    if url == "memory:" or url.startswith("memory:"):
        return MemoryStore(url)
    raise UsageError(f"store: unsupported URL {url!r} (use sqlite:///PATH, postgresql://…, memory:)")
