"""The decider and the sharded view workers on PostgreSQL, tracked by eventsourcing.

Two kinds of eventsourcing :class:`~eventsourcing.projection.Projection`,
each with its own single-row tracking record (eventsourcing's
``PostgresTrackingRecorder``) in the ledger's own schema:

``decider``
    folds the log (the store's ``stored_events``) in order and records each
    event's :class:`~.decisions.Decision` in ``snv_decisions``; one
    instance. Its tracking position is the last log position decided.
``view-n{N}-s{i}``
    shard ``i`` of ``N``: reads ``snv_decisions`` in order — only those
    whose stored ``key_hashes`` include one it owns, filtered by the
    server — and merges the facts whose key it owns
    (``zlib.crc32(key) % N == i``) into the view tables, rows tagged
    ``(shards=N, shard=i)``.

Every batch is ONE transaction holding both the rows it writes and its
tracking position, so a killed process loses its open transaction and
resumes after the last committed batch: no fact is lost or merged twice.
The tracking upsert only moves forward (``WHERE notification_id < new``):
a second copy of a worker that tries to record the same batch fails and
rolls back instead of double-counting.

Views are keyed ``(shards, key)``: a key is owned by one shard per ``N``
(the primary key enforces it), and views for another ``N`` are built anew
beside them. :func:`query_report` reads all shards of one ``N`` in one
``REPEATABLE READ`` snapshot, requires them at the same position and merges
them (:func:`~.query.merge_report`).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import psycopg
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg import sql

from ..domain.report import check_period
from ..errors import SupernovaError, UsageError
from ..store import open_store
from ..store.postgres import parse_postgres_url
from .decisions import Decider, Decision, decode_decision, encode_decision, key_hashes, shard_of
from .query import merge_report
from .views import BALANCE_FIELDS, Merge, RankRow, ShardTotals, group_row, promoter_row

__all__ = [
    "DECIDER_NAME",
    "MAX_SHARDS",
    "ShardsOutOfStep",
    "InjectedFailure",
    "ScaleRecorder",
    "DecisionProjection",
    "ShardProjection",
    "worker_name",
    "prepare",
    "run_decider",
    "run_worker",
    "run_workers",
    "project",
    "tracked_positions",
    "query_report",
    "drop_views",
    "verify_decisions",
]

DECIDER_NAME: Final = "decider"
MAX_SHARDS: Final = 1024
DEFAULT_DECIDE_BATCH: Final = 1_000
DEFAULT_WORK_BATCH: Final = 2_000
TRACKING_TABLE: Final = "snv_tracking"
_GENESIS_HEAD: Final = "0" * 64


class ShardsOutOfStep(SupernovaError):
    """The shards of one ``N`` are not at the same position (some worker is behind)."""

    code = "shards_out_of_step"


class InjectedFailure(RuntimeError):
    """Raised inside a transaction by the ``crash_at`` test knob."""


def worker_name(shards: int, index: int) -> str:
    """The tracking (application) name of shard ``index`` of ``shards``."""
    return f"view-n{shards}-s{index}"


def _check_shards(shards: int, index: int = 0) -> None:
    if not 1 <= shards <= MAX_SHARDS:
        raise UsageError(f"shards: must be 1–{MAX_SHARDS}, got {shards}")
    if not 0 <= index < shards:
        raise UsageError(f"index: must be 0–{shards - 1}, got {index}")


# -- tables ------------------------------------------------------------------------------

_TABLES: Final = (
    """CREATE TABLE IF NOT EXISTS {s}.snv_decisions (
        position bigint PRIMARY KEY, head text NOT NULL, decision bytea NOT NULL, key_hashes bigint[] NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {s}.snv_promoters (
        shards integer NOT NULL, promoter_id text NOT NULL, shard integer NOT NULL,
        program text, inviter_id text,
        qualified boolean NOT NULL, qualified_at bigint NOT NULL,
        suspended boolean NOT NULL, suspended_at bigint NOT NULL,
        invitees bigint NOT NULL, pending_fen bigint NOT NULL, available_fen bigint NOT NULL,
        in_payout_fen bigint NOT NULL, paid_out_fen bigint NOT NULL,
        level1_fen bigint NOT NULL, level2_fen bigint NOT NULL,
        PRIMARY KEY (shards, promoter_id))""",
    """CREATE TABLE IF NOT EXISTS {s}.snv_groups (
        shards integer NOT NULL, group_id text NOT NULL, shard integer NOT NULL,
        owner_id text, city_tier integer,
        closed bigint NOT NULL, members bigint NOT NULL, pushes bigint NOT NULL,
        PRIMARY KEY (shards, group_id))""",
    """CREATE TABLE IF NOT EXISTS {s}.snv_group_days (
        shards integer NOT NULL, group_id text NOT NULL, local_date text NOT NULL, shard integer NOT NULL,
        orders bigint NOT NULL, gross_fen bigint NOT NULL, refunded_fen bigint NOT NULL,
        PRIMARY KEY (shards, group_id, local_date))""",
    """CREATE TABLE IF NOT EXISTS {s}.snv_buyers (
        shards integer NOT NULL, group_id text NOT NULL, customer_id text NOT NULL, local_date text NOT NULL,
        shard integer NOT NULL,
        PRIMARY KEY (shards, group_id, customer_id, local_date))""",
    """CREATE TABLE IF NOT EXISTS {s}.snv_rank_days (
        shards integer NOT NULL, promoter_id text NOT NULL, local_date text NOT NULL, shard integer NOT NULL,
        orders bigint NOT NULL, net_gmv_fen bigint NOT NULL,
        PRIMARY KEY (shards, promoter_id, local_date))""",
)
#: Every view table, each with ``shards`` and ``shard`` columns.
VIEW_TABLES: Final = ("snv_promoters", "snv_groups", "snv_group_days", "snv_buyers", "snv_rank_days")

_UPSERTS: Final = {
    "snv_promoters": """
        INSERT INTO {s}.snv_promoters AS t
        SELECT %(shards)s, u.id, %(shard)s, u.program, u.inviter_id, u.q, u.q_at, u.s, u.s_at,
               u.b0, u.b1, u.b2, u.b3, u.b4, u.b5, u.b6
        FROM unnest(%(id)s::text[], %(program)s::text[], %(inviter_id)s::text[], %(q)s::boolean[],
                    %(q_at)s::bigint[], %(s)s::boolean[], %(s_at)s::bigint[], %(b0)s::bigint[], %(b1)s::bigint[],
                    %(b2)s::bigint[], %(b3)s::bigint[], %(b4)s::bigint[], %(b5)s::bigint[], %(b6)s::bigint[])
             AS u(id, program, inviter_id, q, q_at, s, s_at, b0, b1, b2, b3, b4, b5, b6)
        ON CONFLICT (shards, promoter_id) DO UPDATE SET
            program = COALESCE(EXCLUDED.program, t.program),
            inviter_id = CASE WHEN EXCLUDED.program IS NULL THEN t.inviter_id ELSE EXCLUDED.inviter_id END,
            qualified = CASE WHEN EXCLUDED.qualified_at > t.qualified_at THEN EXCLUDED.qualified
                             ELSE t.qualified END,
            qualified_at = GREATEST(EXCLUDED.qualified_at, t.qualified_at),
            suspended = CASE WHEN EXCLUDED.suspended_at > t.suspended_at THEN EXCLUDED.suspended
                             ELSE t.suspended END,
            suspended_at = GREATEST(EXCLUDED.suspended_at, t.suspended_at),
            invitees = t.invitees + EXCLUDED.invitees,
            pending_fen = t.pending_fen + EXCLUDED.pending_fen,
            available_fen = t.available_fen + EXCLUDED.available_fen,
            in_payout_fen = t.in_payout_fen + EXCLUDED.in_payout_fen,
            paid_out_fen = t.paid_out_fen + EXCLUDED.paid_out_fen,
            level1_fen = t.level1_fen + EXCLUDED.level1_fen,
            level2_fen = t.level2_fen + EXCLUDED.level2_fen""",
    "snv_groups": """
        INSERT INTO {s}.snv_groups AS t
        SELECT %(shards)s, u.id, %(shard)s, u.owner_id, u.city_tier, u.closed, u.members, u.pushes
        FROM unnest(%(id)s::text[], %(owner_id)s::text[], %(city_tier)s::integer[], %(closed)s::bigint[],
                    %(members)s::bigint[], %(pushes)s::bigint[])
             AS u(id, owner_id, city_tier, closed, members, pushes)
        ON CONFLICT (shards, group_id) DO UPDATE SET
            owner_id = COALESCE(EXCLUDED.owner_id, t.owner_id),
            city_tier = COALESCE(EXCLUDED.city_tier, t.city_tier),
            closed = t.closed + EXCLUDED.closed,
            members = t.members + EXCLUDED.members,
            pushes = t.pushes + EXCLUDED.pushes""",
    "snv_group_days": """
        INSERT INTO {s}.snv_group_days AS t
        SELECT %(shards)s, u.id, u.day, %(shard)s, u.orders, u.gross, u.refunded
        FROM unnest(%(id)s::text[], %(day)s::text[], %(orders)s::bigint[], %(gross)s::bigint[],
                    %(refunded)s::bigint[]) AS u(id, day, orders, gross, refunded)
        ON CONFLICT (shards, group_id, local_date) DO UPDATE SET
            orders = t.orders + EXCLUDED.orders,
            gross_fen = t.gross_fen + EXCLUDED.gross_fen,
            refunded_fen = t.refunded_fen + EXCLUDED.refunded_fen""",
    "snv_buyers": """
        INSERT INTO {s}.snv_buyers
        SELECT %(shards)s, u.id, u.customer, u.day, %(shard)s
        FROM unnest(%(id)s::text[], %(customer)s::text[], %(day)s::text[]) AS u(id, customer, day)
        ON CONFLICT DO NOTHING""",
    "snv_rank_days": """
        INSERT INTO {s}.snv_rank_days AS t
        SELECT %(shards)s, u.id, u.day, %(shard)s, u.orders, u.net
        FROM unnest(%(id)s::text[], %(day)s::text[], %(orders)s::bigint[], %(net)s::bigint[])
             AS u(id, day, orders, net)
        ON CONFLICT (shards, promoter_id, local_date) DO UPDATE SET
            orders = t.orders + EXCLUDED.orders,
            net_gmv_fen = t.net_gmv_fen + EXCLUDED.net_gmv_fen""",
}


def _statement(template: str, schema: str) -> sql.Composed:
    return sql.SQL(template).format(s=sql.Identifier(schema))


class ScaleRecorder(PostgresTrackingRecorder):
    """eventsourcing's tracking recorder, plus the decisions table and the view tables.

    Tables live in the ledger's schema (the URL's ``schema=``), beside the log."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        super().__init__(datastore, tracking_table_name=TRACKING_TABLE)
        self.schema = datastore.schema
        for template in _TABLES:
            self.sql_create_statements.append(_statement(template, self.schema))
        self._lock_key = int.from_bytes(
            hashlib.sha256(f"supernova-ledger/scale:{self.schema}".encode()).digest()[:8], "big", signed=True
        )

    def create_table(self) -> None:
        """Create the tables once, serialised across processes (eventsourcing's own check is not)."""
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (self._lock_key,))
            try:
                super().create_table()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self._lock_key,))

    # -- the decider's writes -------------------------------------------------------------

    def record_decisions(self, decisions: Sequence[Decision], tracking: Tracking) -> None:
        """Store a batch of decisions and the decider's position in one transaction (binary COPY)."""
        statement = _statement(
            "COPY {s}.snv_decisions (position, head, decision, key_hashes) FROM STDIN (FORMAT BINARY)", self.schema
        )
        with self.datastore.transaction(commit=True) as curs:
            with curs.copy(statement) as copy:
                copy.set_types(["int8", "text", "bytea", "int8[]"])
                for decision in decisions:
                    copy.write_row((decision.position, decision.head, encode_decision(decision),
                                    list(key_hashes(decision))))
            self._insert_tracking(curs, tracking)

    def read_shard_decisions(self, after: int, upto: int, shards: int, index: int) -> list[Decision]:
        """The decisions in ``(after, upto]`` with a fact shard ``index`` of ``shards`` owns.

        The server filters on the stored key hashes, so a worker reads and
        decodes only its share of the stream."""
        statement = _statement("""
            SELECT decision FROM {s}.snv_decisions
            WHERE position > %(after)s AND position <= %(upto)s
              AND EXISTS (SELECT 1 FROM unnest(key_hashes) AS h WHERE h %% %(shards)s = %(index)s)
            ORDER BY position""", self.schema)
        with self.datastore.get_connection() as conn:
            rows = conn.execute(statement, {"after": after, "upto": upto, "shards": shards, "index": index})
            return [decode_decision(bytes(row["decision"])) for row in rows.fetchall()]

    def read_decisions(self, after: int, limit: int) -> list[Decision]:
        statement = _statement(
            "SELECT decision FROM {s}.snv_decisions WHERE position > %s ORDER BY position LIMIT %s", self.schema
        )
        with self.datastore.get_connection() as conn:
            rows = conn.execute(statement, (after, limit)).fetchall()
        return [decode_decision(bytes(row["decision"])) for row in rows]

    # -- a shard's writes -------------------------------------------------------------------

    def merge_batch(self, shards: int, index: int, decisions: Sequence[Decision], tracking: Tracking, *,
                    hold_s: float = 0.0, crash_at: int | None = None) -> None:
        """Merge the facts shard ``index`` owns in ``decisions``, and track, in one transaction.

        ``hold_s`` keeps the transaction open that long before committing and
        ``crash_at`` raises :class:`InjectedFailure` inside it when the batch
        reaches that position: both only for tests of killed workers."""
        merged = Merge(lambda key: shard_of(key, shards) == index)
        for decision in decisions:
            merged.add(decision)
        with self.datastore.transaction(commit=True) as curs:
            for table, params in _shard_columns(merged, shards, index).items():
                if params["id"]:
                    curs.execute(_statement(_UPSERTS[table], self.schema), params)
            if hold_s:
                time.sleep(hold_s)
            if crash_at is not None and tracking.notification_id >= crash_at:
                raise InjectedFailure(f"injected failure at position {crash_at}, before tracking")
            self._insert_tracking(curs, tracking)


def _shard_columns(merged: Merge, shards: int, index: int) -> dict[str, dict[str, Any]]:
    """Column arrays per view table of a batch's merged facts, for the ``unnest`` upserts.

    A set-once value not in the batch is NULL and a flag not set in it is at
    position 0: the upserts keep what the table holds for those."""
    base = {"shards": shards, "shard": index}
    promoter_rows = list(merged.promoters.items())
    additive = [p.additive(pid) for pid, p in promoter_rows]
    promoters = {
        **base, "id": [pid for pid, _ in promoter_rows],
        "program": [p.program for _, p in promoter_rows], "inviter_id": [p.inviter_id for _, p in promoter_rows],
        "q": [p.qualified[1] for _, p in promoter_rows], "q_at": [p.qualified[0] for _, p in promoter_rows],
        "s": [p.suspended[1] for _, p in promoter_rows], "s_at": [p.suspended[0] for _, p in promoter_rows],
    }
    for offset in range(len(BALANCE_FIELDS)):
        promoters[f"b{offset}"] = [row[offset] for row in additive]
    group_rows = list(merged.groups.items())
    groups = {**base, "id": [gid for gid, _ in group_rows]}
    for name in ("owner_id", "city_tier", "closed", "members", "pushes"):
        groups[name] = [getattr(g, name) for _, g in group_rows]
    days = list(merged.group_days.items())
    buyers = sorted(merged.buyers)
    ranks = list(merged.rank_days.items())
    return {
        "snv_promoters": promoters,
        "snv_groups": groups,
        "snv_group_days": {
            **base, "id": [g for (g, _), _ in days], "day": [d for (_, d), _ in days],
            "orders": [v[0] for _, v in days], "gross": [v[1] for _, v in days],
            "refunded": [v[2] for _, v in days],
        },
        "snv_buyers": {
            **base, "id": [b[0] for b in buyers], "customer": [b[1] for b in buyers],
            "day": [b[2] for b in buyers],
        },
        "snv_rank_days": {
            **base, "id": [p for (p, _), _ in ranks], "day": [d for (_, d), _ in ranks],
            "orders": [v[0] for _, v in ranks], "net": [v[1] for _, v in ranks],
        },
    }


# -- the projections ---------------------------------------------------------------------


class DecisionProjection(Projection[ScaleRecorder]):
    """Log -> decisions: the single upstream pass that runs the fold."""

    name = DECIDER_NAME

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """``domain_event``: a batch (sequence) of decisions ending at ``tracking.notification_id``."""
        self.view.record_decisions(domain_event, tracking)


class ShardProjection(Projection[ScaleRecorder]):
    """Decisions -> one shard's view rows."""

    def __init__(self, view: ScaleRecorder, shards: int, index: int, *, hold_s: float = 0.0,
                 crash_at: int | None = None) -> None:
        super().__init__(view)
        _check_shards(shards, index)
        self.shards = shards
        self.index = index
        self.name = worker_name(shards, index)
        self.hold_s = hold_s
        self.crash_at = crash_at

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """``domain_event``: a batch (sequence) of decisions ending at ``tracking.notification_id``."""
        self.view.merge_batch(self.shards, self.index, domain_event, tracking, hold_s=self.hold_s,
                              crash_at=self.crash_at)


# -- wiring ------------------------------------------------------------------------------


def _datastore(url: str) -> PostgresDatastore:
    target = parse_postgres_url(url)
    datastore = PostgresDatastore(
        dbname=target.dbname, host=target.host, port=target.port or "", user=target.user,
        password=target.password, connect_timeout=float(target.connect_timeout_s), pool_size=1, max_overflow=2,
        schema=target.schema,
    )
    pool_kwargs = datastore.pool.kwargs
    if isinstance(pool_kwargs, dict):
        pool_kwargs["connect_timeout"] = target.connect_timeout_s
    return datastore


@contextmanager
def _recorder(url: str) -> Iterator[ScaleRecorder]:
    datastore = _datastore(url)
    try:
        recorder = ScaleRecorder(datastore)
        recorder.create_table()
        yield recorder
    finally:
        datastore.close()


def prepare(url: str) -> None:
    """Create the log (if new) and the scale tables in the store at ``url`` (a postgresql:// URL)."""
    if not url.startswith(("postgresql:", "postgres:")):
        raise UsageError(f"store: sharded views need a postgresql:// store, got {url!r}")
    open_store(url).close()
    with _recorder(url):
        pass


def run_decider(url: str, *, batch_size: int = DEFAULT_DECIDE_BATCH, stop_at: int | None = None,
                follow: bool = False, poll_s: float = 0.2) -> int:
    """Decide every log event after the decider's tracked position (up to ``stop_at``).

    Rebuilds the fold from the log up to the tracked position first (the
    book lives in memory). With ``follow``, keeps polling the log for new
    events (until ``stop_at``, or forever). Returns the position decided up to."""
    if batch_size < 1:
        raise UsageError(f"batch_size: must be at least 1, got {batch_size}")
    prepare(url)
    store = open_store(url)
    try:
        with _recorder(url) as recorder:
            projection = DecisionProjection(recorder)
            tracked = recorder.max_tracking_id(DECIDER_NAME) or 0
            decider = Decider()
            for record in store.read(1, tracked):
                decider.replay(record)
            while True:
                batch: list[Decision] = []
                for record in store.read(decider.position + 1, stop_at):
                    batch.append(decider.replay(record))
                    if len(batch) >= batch_size:
                        projection.process_event(batch, Tracking(DECIDER_NAME, batch[-1].position))
                        batch = []
                if batch:
                    projection.process_event(batch, Tracking(DECIDER_NAME, batch[-1].position))
                if not follow or (stop_at is not None and decider.position >= stop_at):
                    return decider.position
                time.sleep(poll_s)
    finally:
        store.close()


def run_worker(url: str, shards: int, index: int, *, batch_size: int = DEFAULT_WORK_BATCH,
               stop_at: int | None = None, follow: bool = False, poll_s: float = 0.2, wait_s: float = 60.0,
               hold_s: float = 0.0, crash_at: int | None = None) -> int:
    """Run shard ``index`` of ``shards`` from its tracked position, ``batch_size`` positions a transaction.

    Reads only what the decider has committed. Stops at ``stop_at`` (waiting
    at most ``wait_s`` for the decider to get there) or, when ``stop_at`` is
    None and not ``follow``, at the decider's position. Returns the position
    it reached."""
    _check_shards(shards, index)
    if batch_size < 1:
        raise UsageError(f"batch_size: must be at least 1, got {batch_size}")
    with _recorder(url) as recorder:
        projection = ShardProjection(recorder, shards, index, hold_s=hold_s, crash_at=crash_at)
        position = recorder.max_tracking_id(projection.name) or 0
        waited_since = time.monotonic()
        while stop_at is None or position < stop_at:
            decided = recorder.max_tracking_id(DECIDER_NAME) or 0
            target = decided if stop_at is None else min(decided, stop_at)
            if target <= position:
                if stop_at is None and not follow:
                    break
                if not follow and time.monotonic() - waited_since > wait_s:
                    raise SupernovaError(f"{projection.name}: the decider stayed at {decided} for {wait_s} s",
                                         code="decider_behind")
                time.sleep(poll_s)
                continue
            waited_since = time.monotonic()
            upto = min(position + batch_size, target)
            decisions = recorder.read_shard_decisions(position, upto, shards, index)
            projection.process_event(decisions, Tracking(projection.name, upto))
            position = upto
        return position


def _worker_main(url: str, shards: int, index: int, options: dict[str, Any]) -> None:
    run_worker(url, shards, index, **options)


def run_workers(url: str, shards: int, *, processes: bool = True, **options: Any) -> None:
    """Run all ``shards`` workers to the end (``options`` as for :func:`run_worker`).

    ``processes``: one spawned OS process per shard; else one after another here."""
    _check_shards(shards)
    prepare(url)
    if not processes:
        for index in range(shards):
            run_worker(url, shards, index, **options)
        return
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_worker_main, args=(url, shards, index, options), name=worker_name(shards, index))
                for index in range(shards)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    failed = [child.name for child in children if child.exitcode != 0]
    if failed:
        raise SupernovaError(f"workers failed: {', '.join(failed)}", code="worker_failed")


def project(url: str, shards: int, *, processes: bool = True, **options: Any) -> int:
    """Decide the whole log, then bring all ``shards`` views to its end. Returns the position."""
    position = run_decider(url)
    run_workers(url, shards, processes=processes, stop_at=position, **options)
    return position


# -- reading -----------------------------------------------------------------------------


def tracked_positions(url: str, shards: int) -> dict[str, int]:
    """Tracking position of the decider and of every shard of ``shards`` (0 when never run)."""
    _check_shards(shards)
    names = [DECIDER_NAME] + [worker_name(shards, index) for index in range(shards)]
    with _recorder(url) as recorder:
        return {name: recorder.max_tracking_id(name) or 0 for name in names}


def _period_pattern(period: str | None) -> str:
    if period is None:
        return "%"
    return period if len(period) == 10 else period + "-%"


def _shard_totals(conn: psycopg.Connection[Any], schema: str, shards: int, index: int, period: str | None,
                  top: int | None) -> ShardTotals:
    where = {"shards": shards, "shard": index, "pattern": _period_pattern(period), "top": top}
    promoters = {
        row["promoter_id"]: promoter_row(
            row["program"], row["inviter_id"], row["qualified"], row["suspended"],
            (row[name] for name in BALANCE_FIELDS),
        )
        for row in conn.execute(_statement(
            "SELECT * FROM {s}.snv_promoters WHERE shards = %(shards)s AND shard = %(shard)s", schema), where)
    }
    # Three plain aggregates joined here: no plan depends on the (often stale) statistics of fresh views.
    days = {
        row["group_id"]: (int(row["orders"]), int(row["gross_fen"]), int(row["refunded_fen"]))
        for row in conn.execute(_statement("""
            SELECT group_id, SUM(orders) AS orders, SUM(gross_fen) AS gross_fen, SUM(refunded_fen) AS refunded_fen
            FROM {s}.snv_group_days
            WHERE shards = %(shards)s AND shard = %(shard)s AND local_date LIKE %(pattern)s
            GROUP BY group_id""", schema), where)
    }
    buyers = {
        row["group_id"]: int(row["buyers"])
        for row in conn.execute(_statement("""
            SELECT group_id, COUNT(DISTINCT customer_id) AS buyers
            FROM {s}.snv_buyers
            WHERE shards = %(shards)s AND shard = %(shard)s AND local_date LIKE %(pattern)s
            GROUP BY group_id""", schema), where)
    }
    groups = {}
    for row in conn.execute(_statement(
            "SELECT * FROM {s}.snv_groups WHERE shards = %(shards)s AND shard = %(shard)s", schema), where):
        orders, gross_fen, refunded_fen = days.get(row["group_id"], (0, 0, 0))
        groups[row["group_id"]] = group_row(row["owner_id"], row["closed"], row["city_tier"], row["members"],
                                            row["pushes"], orders, buyers.get(row["group_id"], 0), gross_fen,
                                            refunded_fen)
    ranking: list[RankRow] = [
        (int(row["net"]), int(row["orders"]), row["promoter_id"])
        for row in conn.execute(_statement("""
            SELECT promoter_id, SUM(net_gmv_fen) AS net, SUM(orders) AS orders
            FROM {s}.snv_rank_days
            WHERE shards = %(shards)s AND shard = %(shard)s AND local_date LIKE %(pattern)s
            GROUP BY promoter_id HAVING SUM(net_gmv_fen) > 0
            ORDER BY net DESC, orders DESC, promoter_id COLLATE "C"
            LIMIT %(top)s""", schema), where)
    ]
    return ShardTotals(promoters, groups, ranking)


def query_report(url: str, shards: int, *, period: str | None = None, top: int | None = None) -> dict[str, Any]:
    """The §8 report from the ``shards`` views: the same dict (and digest) as ``Ledger.report()``.

    All shards are read in one ``REPEATABLE READ`` snapshot and must stand at
    the same position; else :class:`ShardsOutOfStep`."""
    _check_shards(shards)
    period = check_period(period)
    if top is not None and top < 0:
        raise UsageError(f"top: {top} must be at least 0")
    names = [worker_name(shards, index) for index in range(shards)]
    with _recorder(url) as recorder, recorder.datastore.get_connection() as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        schema = recorder.schema
        rows = conn.execute(_statement(
            "SELECT application_name, notification_id FROM {s}.snv_tracking WHERE application_name = ANY(%s)",
            schema), (names,)).fetchall()
        tracked = {row["application_name"]: row["notification_id"] for row in rows}
        positions = {name: tracked.get(name, 0) for name in names}
        if len(set(positions.values())) != 1:
            raise ShardsOutOfStep(f"shards of {shards} are at different positions: {positions}")
        position = positions[names[0]]
        head = _GENESIS_HEAD
        if position:
            found = conn.execute(_statement("SELECT head FROM {s}.snv_decisions WHERE position = %s", schema),
                                 (position,)).fetchone()
            if found is None:
                raise ShardsOutOfStep(f"no decision stored at position {position}")
            head = found["head"]
        totals = [_shard_totals(conn, schema, shards, index, period, top) for index in range(shards)]
    return merge_report(totals, events=position, log_head=head, period=period, top=top)


def verify_decisions(url: str, *, page: int = DEFAULT_WORK_BATCH) -> tuple[int, str | None]:
    """Recompute every stored decision from the log and compare them, byte for byte.

    Returns ``(decisions checked and equal, problem)``; ``problem`` is None
    when all agree, else names the first position that differs or is missing."""
    store = open_store(url)
    try:
        with _recorder(url) as recorder:
            decider = Decider()
            decided = recorder.max_tracking_id(DECIDER_NAME) or 0
            stored: list[Decision] = []
            for record in store.read(1, decided):
                expected = encode_decision(decider.replay(record))
                if not stored:
                    stored = recorder.read_decisions(record.position - 1, page)[::-1]
                found = stored.pop() if stored else None
                if found is None or found.position != record.position:
                    return record.position - 1, f"position {record.position}: no stored decision"
                if encode_decision(found) != expected:
                    return record.position - 1, f"position {record.position}: stored decision differs from the recomputed one"
            if decider.position != decided:
                return decider.position, f"position {decider.position + 1}: decided but missing from the log"
            if recorder.read_decisions(decided, 1):
                return decided, f"position {decided + 1}: a decision is stored beyond the decider's position"
            return decided, None
    finally:
        store.close()


def drop_views(url: str, shards: int) -> None:
    """Delete the views of ``shards`` and their tracking, in one transaction (the decisions stay)."""
    _check_shards(shards)
    with _recorder(url) as recorder, recorder.datastore.transaction(commit=True) as curs:
        for table in VIEW_TABLES:
            curs.execute(_statement(f"DELETE FROM {{s}}.{table} WHERE shards = %s", recorder.schema), (shards,))
        curs.execute(_statement(f"DELETE FROM {{s}}.{TRACKING_TABLE} WHERE application_name = ANY(%s)",
                                recorder.schema), ([worker_name(shards, i) for i in range(shards)],))
