"""The audit replay on Dask: the §8 report recomputed from a Parquet export (needs dask, pyarrow).

The fold that *decides* (attribution, suspensions, settlement) is sequential
and ran once, when the export wrote each event's decision. What is left is
order-independent, so Dask does it in parallel over the Parquet parts:

- promoter balances as sums of the exported postings: amounts summed per
  (promoter, kind, level, from, to), each sum then applied as one posting by
  the domain's own rule (:func:`~.views.balances_of`, as the views do),
- sums by key (invitees, group moves, group-days, rank-days),
- the latest flag per promoter (``max(position * 2 + value)``),
- distinct buyers per group (``drop_duplicates`` on group and customer),
- and, beside them, the hash chain over the ``events`` parts in order
  (one task per part, each continuing the previous head), which proves the
  exported log is the log whose head the report names.

The results go through the same pure functions as the sharded views
(:func:`~.views.promoter_row`, :func:`~.views.group_row`,
:func:`~.query.merge_report`), so the digest is byte-identical to
``Ledger.report()`` on the same log.

Use it with any Dask scheduler; with a ``distributed.Client`` active,
``dask.compute`` runs on its cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import dask.base
import dask.dataframe as dd
from dask.delayed import delayed

from ..domain.book import GENESIS_HEAD, chain
from ..domain.report import check_period
from ..errors import CorruptLog, UsageError
from .parquet import read_manifest
from .query import merge_report
from .views import PostingShape, PromoterFigures, RankRow, ShardTotals, group_row, promoter_row, rank_key

__all__ = ["replay_report"]

_GROUP_MOVES: Final = ("closed", "members", "pushes")
#: What a posting's effect on the balances depends on, besides its promoter and amount.
_POSTING_SHAPE: Final = ("kind", "level", "from", "to")
_DAY_SUMS: Final = ("orders", "gross_fen", "refunded_fen")
_compute: Final[Callable[..., tuple[Any, ...]]] = dask.base.compute

#: A pandas or Dask DataFrame (neither library is typed for mypy).
Frame = Any


def _chain_part(previous: tuple[int, str], part: Frame, stop: int) -> tuple[int, str]:
    """Continue the hash chain ``(position, head)`` over one part of ``events``, up to ``stop``."""
    position, head = previous
    for at, event, stored_head in zip(part["position"].tolist(), part["event"].tolist(), part["head"].tolist()):
        if at > stop:
            break
        if at != position + 1:
            raise CorruptLog(f"parquet events: position {position + 1} is missing (found {at})")
        head = chain(head, event.encode("utf-8"))
        if head != stored_head:
            raise CorruptLog(f"parquet events: position {at}: stored head differs from the recomputed chain")
        position = at
    return position, head


def _columns(frame: Frame, names: Sequence[str]) -> list[list[Any]]:
    """Columns as Python lists (Python ints and strs, never numpy scalars)."""
    return [frame[name].tolist() for name in names]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def replay_report(parquet_dir: str, *, period: str | None = None, top: int | None = None,
                  until: int | None = None, verify_chain: bool = True, scheduler: Any = None) -> dict[str, Any]:
    """The §8 report (with digest) of the export in ``parquet_dir``, computed by Dask.

    ``until``: the state after the first N events. ``verify_chain``: recompute
    the log head from the exported events (else take it as exported).
    ``scheduler``: passed to ``dask.compute`` (default: the active client, or
    Dask's default)."""
    period = check_period(period)
    if top is not None and top < 0:
        raise UsageError(f"top: {top} must be at least 0")
    if until is not None and until < 0:
        raise UsageError(f"until: {until} must be at least 0")
    manifest = read_manifest(parquet_dir)
    if not manifest["int64_safe"]:
        raise UsageError("parquet: some summed column's absolute total exceeds int64; replay would overflow")
    events = manifest["events"] if until is None else min(until, manifest["events"])
    root = Path(parquet_dir)

    def table(name: str) -> Frame:
        frame = dd.read_parquet(str(root / name))
        return frame if until is None else frame[frame["position"] <= events]

    def scoped(frame: Frame) -> Frame:
        if period is None:
            return frame
        if len(period) == 10:
            return frame[frame["local_date"] == period]
        return frame[frame["local_date"].str.startswith(period + "-")]

    flags = table("flags")
    flags = flags.assign(code=flags["position"] * 2 + flags["value"].astype("int64"))
    plan = {
        "promoters": table("promoters")[["promoter_id", "program", "inviter_id"]],
        "flags": flags.groupby(["promoter_id", "flag"])["code"].max().reset_index(),
        "postings": _posting_sums(table("postings")),
        "invites": table("invites").groupby("promoter_id").size().rename("invitees").reset_index(),
        "groups": table("groups")[["group_id", "owner_id", "city_tier"]],
        "group_moves": table("group_deltas").groupby("group_id")[list(_GROUP_MOVES)].sum().reset_index(),
        "group_days": scoped(table("group_days")).groupby("group_id")[list(_DAY_SUMS)].sum().reset_index(),
        # Distinct buyers shuffle by (group, customer), task-based: any scheduler runs it.
        "buyers": scoped(table("buyers"))[["group_id", "customer_id"]].drop_duplicates(shuffle_method="tasks")
                  .groupby("group_id").size().rename("buyers").reset_index(),
        "ranks": scoped(table("ranks")).groupby("promoter_id")[["net_gmv_fen", "orders"]].sum().reset_index(),
    }
    if verify_chain:
        head_task: Any = delayed((0, GENESIS_HEAD))
        for part in dd.read_parquet(str(root / "events"), columns=["position", "event", "head"]).to_delayed():
            head_task = delayed(_chain_part)(head_task, part, events)
    else:
        heads = dd.read_parquet(str(root / "events"), columns=["position", "head"])
        head_task = heads[heads["position"] == events]
    frames: dict[str, Frame] = dict(zip(plan, _compute(*plan.values(), scheduler=scheduler)))
    # A separate compute: the chain is a chain of delayed tasks, the rest dataframe expressions.
    (head_result,) = _compute(head_task, scheduler=scheduler)
    if verify_chain:
        chained, log_head = head_result
        if chained != events:
            raise CorruptLog(f"parquet events: the chain ends at position {chained}, the export claims {events}")
        if until is None and log_head != manifest["log_head"]:
            raise CorruptLog("parquet events: recomputed log head differs from the manifest's")
    else:
        found = head_result["head"].tolist()
        log_head = found[0] if found else GENESIS_HEAD
    return merge_report([_totals(frames, top)], events=events, log_head=log_head, period=period, top=top)


def _posting_sums(postings: Frame) -> Frame:
    """``amount_fen`` summed per promoter and posting shape (nulls as 0 and "": group keys)."""
    shaped = postings.assign(level=postings["level"].fillna(0).astype("int64"),
                             **{"from": postings["from"].fillna(""), "to": postings["to"].fillna("")})
    return shaped.groupby(["promoter_id", *_POSTING_SHAPE])["amount_fen"].sum().reset_index()


def _posted(frame: Frame) -> dict[str, dict[PostingShape, int]]:
    """Each promoter's posted amounts per posting shape (nulls back from 0 and "")."""
    posted: dict[str, dict[PostingShape, int]] = {}
    columns = _columns(frame, ("promoter_id", *_POSTING_SHAPE, "amount_fen"))
    for pid, kind, level, source, destination, amount in zip(*columns, strict=True):
        posted.setdefault(pid, {})[(kind, level or None, source or None, destination or None)] = amount
    return posted


def _totals(frames: dict[str, Frame], top: int | None) -> ShardTotals:
    """The computed aggregates as one shard's answer."""
    flags: dict[tuple[str, str], bool] = {
        (pid, flag): code % 2 == 1 for pid, flag, code in zip(*_columns(frames["flags"], ("promoter_id", "flag", "code")))
    }
    posted = _posted(frames["postings"])
    invitees = dict(zip(*_columns(frames["invites"], ("promoter_id", "invitees"))))
    promoters = {}
    for pid, program, inviter in zip(*_columns(frames["promoters"], ("promoter_id", "program", "inviter_id"))):
        figures = PromoterFigures(invitees=invitees.get(pid, 0), posted=posted.get(pid, {}))
        promoters[pid] = promoter_row(program, _text(inviter), flags.get((pid, "qualified"), False),
                                      flags.get((pid, "suspended"), False), figures.additive(pid))
    moves = {row[0]: tuple(row[1:]) for row in zip(*_columns(frames["group_moves"], ("group_id", *_GROUP_MOVES)))}
    days = {row[0]: tuple(row[1:]) for row in zip(*_columns(frames["group_days"], ("group_id", *_DAY_SUMS)))}
    buyers = dict(zip(*_columns(frames["buyers"], ("group_id", "buyers"))))
    groups = {}
    for group_id, owner_id, city_tier in zip(*_columns(frames["groups"], ("group_id", "owner_id", "city_tier"))):
        closed, members, pushes = moves.get(group_id, (0, 0, 0))
        orders, gross_fen, refunded_fen = days.get(group_id, (0, 0, 0))
        groups[group_id] = group_row(owner_id, closed, city_tier, members, pushes, orders,
                                     buyers.get(group_id, 0), gross_fen, refunded_fen)
    ranking: list[RankRow] = sorted(
        ((net, orders, pid) for pid, net, orders in zip(*_columns(frames["ranks"], ("promoter_id", "net_gmv_fen", "orders")))
         if net > 0),
        key=rank_key,
    )
    return ShardTotals(promoters, groups, ranking if top is None else ranking[:top])
