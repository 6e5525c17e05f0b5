"""``export --format parquet``: the log and its decisions as Parquet files (needs pyarrow).

:func:`export_parquet` folds the log once (:class:`~.decisions.Decider`) and
writes, under ``out_dir``, one directory per table of ``part-NNNNN.parquet``
files (at most :data:`ROWS_PER_FILE` rows each) and ``manifest.json``:

=================  ===================================================================
``events``         position, id, type, at, event (canonical JSON, SPEC §7), head
``decisions``      position, type, decision (the :class:`~.decisions.Decision` as JSON)
``promoters``      position, promoter_id, program, inviter_id
``flags``          position, promoter_id, flag, value
``balances``       position, promoter_id, invitees and the six balances (moves)
``groups``         position, group_id, owner_id, city_tier
``group_deltas``   position, group_id, closed, members, pushes (moves)
``group_days``     position, group_id, local_date, orders, gross_fen, refunded_fen (moves)
``buyers``         position, group_id, local_date, customer_id
``ranks``          position, promoter_id, local_date, orders, net_gmv_fen (moves)
=================  ===================================================================

Every fact row carries the position of its event, so a reader can stop at
any prefix (``--until``). Money columns are int64; the manifest records,
exactly, the sum of absolute values of every summed column, so a reader knows
whether int64 sums can overflow (``int64_safe``) before it sums anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UsageError
from ..store import open_store
from .decisions import Decider, Decision, encode_decision

__all__ = ["PARQUET_FORMAT", "ROWS_PER_FILE", "TABLES", "SUMMED_COLUMNS", "export_parquet", "read_manifest"]

PARQUET_FORMAT: Final = "supernova-ledger/parquet@1"
ROWS_PER_FILE: Final = 250_000
MANIFEST: Final = "manifest.json"
_INT64_MAX: Final = 2**63 - 1

_i64, _str, _bool = pa.int64(), pa.string(), pa.bool_()

#: Table name -> Arrow schema.
TABLES: Final[dict[str, pa.Schema]] = {
    "events": pa.schema([("position", _i64), ("id", _str), ("type", _str), ("at", _str), ("event", _str),
                         ("head", _str)]),
    "decisions": pa.schema([("position", _i64), ("type", _str), ("decision", _str)]),
    "promoters": pa.schema([("position", _i64), ("promoter_id", _str), ("program", _str), ("inviter_id", _str)]),
    "flags": pa.schema([("position", _i64), ("promoter_id", _str), ("flag", _str), ("value", _bool)]),
    "balances": pa.schema([("position", _i64), ("promoter_id", _str), ("invitees", _i64), ("pending_fen", _i64),
                           ("available_fen", _i64), ("in_payout_fen", _i64), ("paid_out_fen", _i64),
                           ("level1_fen", _i64), ("level2_fen", _i64)]),
    "groups": pa.schema([("position", _i64), ("group_id", _str), ("owner_id", _str), ("city_tier", _i64)]),
    "group_deltas": pa.schema([("position", _i64), ("group_id", _str), ("closed", _i64), ("members", _i64),
                               ("pushes", _i64)]),
    "group_days": pa.schema([("position", _i64), ("group_id", _str), ("local_date", _str), ("orders", _i64),
                             ("gross_fen", _i64), ("refunded_fen", _i64)]),
    "buyers": pa.schema([("position", _i64), ("group_id", _str), ("local_date", _str), ("customer_id", _str)]),
    "ranks": pa.schema([("position", _i64), ("promoter_id", _str), ("local_date", _str), ("orders", _i64),
                        ("net_gmv_fen", _i64)]),
}

#: Columns a reader sums (the rest are keys, positions or set-once values).
SUMMED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "balances": ("invitees", "pending_fen", "available_fen", "in_payout_fen", "paid_out_fen", "level1_fen",
                 "level2_fen"),
    "group_deltas": ("closed", "members", "pushes"),
    "group_days": ("orders", "gross_fen", "refunded_fen"),
    "ranks": ("orders", "net_gmv_fen"),
}


class _Envelope(msgspec.Struct, frozen=True):
    id: str
    type: str
    at: str


_envelope: Final = msgspec.json.Decoder(_Envelope)


class _TableWriter:
    """Rows of one table, buffered as columns and written as numbered part files."""

    def __init__(self, directory: Path, schema: pa.Schema, rows_per_file: int) -> None:
        self.directory = directory
        self.schema = schema
        self.rows_per_file = rows_per_file
        self.columns: list[list[Any]] = [[] for _ in schema.names]
        self.files = 0
        self.rows = 0
        summed = SUMMED_COLUMNS.get(directory.name, ())
        self.abs_totals = {name: 0 for name in summed}
        self._summed = [(schema.names.index(name), name) for name in summed]

    def add(self, row: Iterable[Any]) -> None:
        for column, value in zip(self.columns, row, strict=True):
            column.append(value)
        for index, name in self._summed:
            self.abs_totals[name] += abs(self.columns[index][-1])
        if len(self.columns[0]) >= self.rows_per_file:
            self.flush()

    def flush(self, *, final: bool = False) -> None:
        if not self.columns[0] and not (final and self.files == 0):
            return
        table = pa.Table.from_arrays([pa.array(c, type=t) for c, t in zip(self.columns, self.schema.types)],
                                     schema=self.schema)
        pq.write_table(table, self.directory / f"part-{self.files:05d}.parquet")
        self.rows += table.num_rows
        self.files += 1
        self.columns = [[] for _ in self.schema.names]


def _fact_rows(decision: Decision) -> Iterable[tuple[str, tuple[Any, ...]]]:
    p = decision.position
    for f in decision.promoters:
        yield "promoters", (p, f.promoter_id, f.program, f.inviter_id)
    for g in decision.flags:
        yield "flags", (p, g.promoter_id, g.flag, g.value)
    for b in decision.balances:
        yield "balances", (p, b.promoter_id, b.invitees, b.pending_fen, b.available_fen, b.in_payout_fen,
                           b.paid_out_fen, b.level1_fen, b.level2_fen)
    for o in decision.groups:
        yield "groups", (p, o.group_id, o.owner_id, o.city_tier)
    for d in decision.group_deltas:
        yield "group_deltas", (p, d.group_id, d.closed, d.members, d.pushes)
    for day in decision.group_days:
        yield "group_days", (p, day.group_id, day.local_date, day.orders, day.gross_fen, day.refunded_fen)
    for buyer in decision.buyers:
        yield "buyers", (p, buyer.group_id, buyer.local_date, buyer.customer_id)
    for r in decision.ranks:
        yield "ranks", (p, r.promoter_id, r.local_date, r.orders, r.net_gmv_fen)


def export_parquet(store_url: str, out_dir: str, *, rows_per_file: int = ROWS_PER_FILE,
                   progress: Callable[[int], None] | None = None) -> int:
    """Write the log at ``store_url`` and its decisions to Parquet under ``out_dir``; return the events written.

    ``out_dir`` is created if missing and must be empty (an export is never
    merged into another). Any store kind works: the decisions are recomputed
    from the log, not read from the sharded views' table."""
    if rows_per_file < 1:
        raise UsageError(f"rows_per_file: must be at least 1, got {rows_per_file}")
    root = Path(out_dir)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UsageError(f"out: {out_dir!r} exists and is not an empty directory")
    store = open_store(store_url, create=False)  # reading: never creates a store
    try:
        root.mkdir(parents=True, exist_ok=True)
        writers = {}
        for name, schema in TABLES.items():
            (root / name).mkdir()
            writers[name] = _TableWriter(root / name, schema, rows_per_file)
        decider = Decider()
        head = "0" * 64
        for record in store.read():
            decision = decider.replay(record)
            head = record.head
            envelope = _envelope.decode(record.event)
            writers["events"].add((record.position, envelope.id, envelope.type, envelope.at,
                                   record.event.decode("utf-8"), record.head))
            writers["decisions"].add((record.position, decision.type, encode_decision(decision).decode("utf-8")))
            for table, row in _fact_rows(decision):
                writers[table].add(row)
            if progress is not None and record.position % 10_000 == 0:
                progress(record.position)
        for writer in writers.values():
            writer.flush(final=True)
        abs_totals = {f"{name}.{column}": total for name, writer in writers.items()
                      for column, total in writer.abs_totals.items()}
        manifest = {
            "format": PARQUET_FORMAT,
            "events": decider.position,
            "log_head": head,
            "tables": {name: {"files": w.files, "rows": w.rows} for name, w in writers.items()},
            "abs_totals": abs_totals,
            "int64_safe": all(total <= _INT64_MAX for total in abs_totals.values()),
        }
        temporary = root / (MANIFEST + ".tmp")
        temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, root / MANIFEST)  # the manifest last: its presence means complete
        return decider.position
    finally:
        store.close()


def read_manifest(out_dir: str) -> dict[str, Any]:
    """The manifest of a complete export; :class:`UsageError` when there is none or it is another format."""
    path = Path(out_dir) / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"parquet: {out_dir!r} holds no readable {MANIFEST} ({error})") from None
    if manifest.get("format") != PARQUET_FORMAT:
        raise UsageError(f"parquet: {out_dir!r} is format {manifest.get('format')!r}, expected {PARQUET_FORMAT}")
    return manifest
