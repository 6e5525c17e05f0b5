"""The baseline: the same accepted events through a plain eventsourcing ``Application``.

One aggregate (``EventLog``) records every accepted event as one domain event
``EventLog.Recorded(event=<the event as a dict>)``; the application's default
mapper and JSON transcoder store it. Writing is ``app.save(log)`` after each
event or after each 1,000 events; reading is
``app.recorder.select_notifications`` page by page plus
``app.mapper.to_domain_event`` for each notification; reopening is a new
``Application`` plus ``app.repository.get(log_id)``, which folds every event of
the aggregate (no snapshots: the plain way to answer from an event-sourced
aggregate).

Persistence is chosen the documented way, through environment settings:
``PERSISTENCE_MODULE`` = ``eventsourcing.popo`` / ``eventsourcing.sqlite`` /
``eventsourcing.postgres`` with ``SQLITE_DBNAME`` or ``POSTGRES_*``.
eventsourcing's SQLite datastore uses WAL with SQLite's default
``synchronous`` (FULL unless compiled otherwise; checked in the results), and
PostgreSQL the server's default ``synchronous_commit`` — durable, like the
ledger's stores.
"""

from __future__ import annotations

import uuid
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

__all__ = ["EventLog", "BaselineApp", "baseline_env", "LOG_ID", "READ_PAGE"]

#: Notifications fetched per select_notifications call (the ledger's stores read 2,000 per page too).
READ_PAGE: Final = 2_000


#: A fixed aggregate id, so a reopened application finds the log again.
LOG_ID: Final = uuid.uuid5(uuid.NAMESPACE_URL, "supernova-ledger:benchmark-baseline")


class EventLog(Aggregate):
    """One aggregate holding the whole programme's events, in order."""

    @staticmethod
    def create_id() -> uuid.UUID:
        return LOG_ID

    class Recorded(Aggregate.Event):
        event: dict[str, Any]

        def apply(self, aggregate: "EventLog") -> None:
            aggregate.recorded += 1

    def __init__(self) -> None:
        self.recorded = 0

    def record(self, event: dict[str, Any]) -> None:
        self.trigger_event(self.Recorded, event=event)


class BaselineApp(Application[uuid.UUID]):
    name = "Baseline"

    def get_log(self) -> EventLog:
        return self.repository.get(LOG_ID)


def baseline_env(store_url: str) -> dict[str, str]:
    """eventsourcing environment settings for the baseline beside a ledger store URL.

    ``memory:`` -> POPO; ``sqlite:///PATH`` -> SQLite file PATH;
    ``postgresql://USER@HOST:PORT/DB?schema=S`` -> the same server, schema S.
    """
    if store_url.startswith("memory:"):
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if store_url.startswith("sqlite:///"):
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": store_url[len("sqlite:///") :]}
    if store_url.startswith(("postgresql:", "postgres:")):
        parts = urlsplit(store_url)
        query = parse_qs(parts.query)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parts.path.lstrip("/"),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": parts.username or "postgres",
            "POSTGRES_PASSWORD": parts.password or "",
            "POSTGRES_SCHEMA": query.get("schema", ["public"])[-1],
            "POSTGRES_POOL_SIZE": "2",
        }
    raise ValueError(f"baseline: no eventsourcing persistence for {store_url!r}")
