"""``export --format parquet``: the log, its postings and its facts as Parquet files (needs pyarrow).

:func:`export_parquet` folds the log once (:class:`~.decisions.Decider`) and
writes, under ``out_dir``, one directory per table of ``part-NNNNN.parquet``
files (at most :data:`ROWS_PER_FILE` rows each) and ``manifest.json``:

=================  ===================================================================
``events``         position, id, type, at, event (canonical JSON, SPEC §7), head
``postings``       every SPEC §6.1 field of each posting (``position`` first, then
                   ``promoter_id``, then the rest in §6.1 order; null where it does
                   not apply), in log order: a promoter's balances are their sum
``promoters``      position, promoter_id, program, inviter_id
``invites``        position, promoter_id (the inviter: one row per invitee)
``flags``          position, promoter_id, flag, value
``groups``         position, group_id, owner_id, city_tier
``group_deltas``   position, group_id, closed, members, pushes (moves)
``group_days``     position, group_id, local_date, orders, gross_fen, refunded_fen (moves)
``buyers``         position, group_id, local_date, customer_id
``ranks``          position, promoter_id, local_date, orders, net_gmv_fen (moves)
=================  ===================================================================

Every posting and fact row carries the position of its event, so a reader
can stop at any prefix (``--until``). (Format ``@1`` also held each decision
as JSON; in ``@2`` the postings and fact tables hold all of it, once.) Money columns are int64; the manifest records,
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
from msgspec.structs import astuple
import pyarrow as pa
import pyarrow.parquet as pq

from ..store import open_store
from ..domain.postings import POSTING_KEYS, Posting
from ..errors import UsageError, invariant
from .decisions import Decider, Decision

__all__ = ["PARQUET_FORMAT", "ROWS_PER_FILE", "TABLES", "SUMMED_COLUMNS", "POSTING_COLUMNS", "export_parquet",
           "read_manifest"]

#: ``@2``: postings and invites replace v1's ``balances`` table of balance moves.
PARQUET_FORMAT: Final = "supernova-ledger/parquet@2"
ROWS_PER_FILE: Final = 250_000
MANIFEST: Final = "manifest.json"
_INT64_MAX: Final = 2**63 - 1

_i64, _str, _bool = pa.int64(), pa.string(), pa.bool_()

#: The integer fields of a posting (SPEC §6.1); the others are strings.
_POSTING_INTS: Final = frozenset({"position", "level", "rate_bps", "base_fen", "amount_fen"})
#: Columns of ``postings``: position, promoter_id, then the rest of SPEC §6.1 in its order.
POSTING_COLUMNS: Final = ("position", "promoter_id", *(key for key in POSTING_KEYS if key != "position"))
# A posting's row is its fields with the first two swapped (see ``_fact_rows``).
invariant(
    tuple(f.encode_name for f in msgspec.structs.fields(Posting)) == ("promoter_id", "position", *POSTING_COLUMNS[2:]),
    "Posting's fields are not promoter_id, then SPEC §6.1 order",
)

#: Table name -> Arrow schema.
TABLES: Final[dict[str, pa.Schema]] = {
    "events": pa.schema([("position", _i64), ("id", _str), ("type", _str), ("at", _str), ("event", _str),
                         ("head", _str)]),
    "promoters": pa.schema([("position", _i64), ("promoter_id", _str), ("program", _str), ("inviter_id", _str)]),
    "flags": pa.schema([("position", _i64), ("promoter_id", _str), ("flag", _str), ("value", _bool)]),
    "postings": pa.schema([(name, _i64 if name in _POSTING_INTS else _str) for name in POSTING_COLUMNS]),
    "invites": pa.schema([("position", _i64), ("promoter_id", _str)]),
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
    "postings": ("amount_fen",),
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
    """Rows of one table, buffered and written as numbered part files (columns built per file)."""

    def __init__(self, directory: Path, schema: pa.Schema, rows_per_file: int) -> None:
        self.directory = directory
        self.schema = schema
        self.rows_per_file = rows_per_file
        self.buffered: list[tuple[Any, ...]] = []
        self.files = 0
        self.rows = 0
        summed = SUMMED_COLUMNS.get(directory.name, ())
        self.abs_totals = {name: 0 for name in summed}
        self._summed = [(schema.names.index(name), name) for name in summed]

    def add(self, row: tuple[Any, ...]) -> None:
        self.buffered.append(row)
        if len(self.buffered) >= self.rows_per_file:
            self.flush()

    def flush(self, *, final: bool = False) -> None:
        if not self.buffered and not (final and self.files == 0):
            return
        width = len(self.schema.names)
        columns = list(zip(*self.buffered, strict=True)) if self.buffered else [()] * width
        invariant(len(columns) == width, f"parquet {self.directory.name}: rows are not {width} wide")
        for index, name in self._summed:
            self.abs_totals[name] += sum(map(abs, columns[index]))
        table = pa.Table.from_arrays([pa.array(c, type=t) for c, t in zip(columns, self.schema.types)],
                                     schema=self.schema)
        pq.write_table(table, self.directory / f"part-{self.files:05d}.parquet")
        self.rows += table.num_rows
        self.files += 1
        self.buffered = []


def _fact_rows(decision: Decision) -> Iterable[tuple[str, tuple[Any, ...]]]:
    p = decision.position
    for posting in decision.postings:
        promoter_id, position, *rest = astuple(posting)
        yield "postings", (position, promoter_id, *rest)
    for f in decision.promoters:
        yield "promoters", (p, f.promoter_id, f.program, f.inviter_id)
    for i in decision.invites:
        yield "invites", (p, i.promoter_id)
    for g in decision.flags:
        yield "flags", (p, g.promoter_id, g.flag, g.value)
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
    """Write the log at ``store_url``, its postings and facts to Parquet under ``out_dir``; return the events written.

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
