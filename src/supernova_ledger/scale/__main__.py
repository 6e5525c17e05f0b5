"""``python -m supernova_ledger.scale``: run the decider, the shard workers, queries, exports.

    python -m supernova_ledger.scale decide  --store postgresql://… [--follow]
    python -m supernova_ledger.scale work    --store … --shards 4 --index 0 [--follow]
    python -m supernova_ledger.scale project --store … --shards 4          # decide, then all workers
    python -m supernova_ledger.scale report  --store … --shards 4 [--period P] [--top K]
    python -m supernova_ledger.scale verify-decisions --store …
    python -m supernova_ledger.scale export-parquet   --store … --out DIR
    python -m supernova_ledger.scale dask-report DIR [--period P] [--top K] [--until N] [--workers W]

``--store`` defaults like the main command line's (``$SUPERNOVA_STORE``).
Reports print as canonical JSON, as ``supernova-ledger report`` does.
Exit 0 on success, 1 when verification finds a problem, 2 for unusable
arguments or an unreachable store.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import StoreUnavailable, UsageError
from ..events import canonical_json
from ..ledger import resolve_store_url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m supernova_ledger.scale", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, *, store: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        if store:
            sub.add_argument("--store", default=None, help="store URL (default $SUPERNOVA_STORE)")
        return sub

    decide = command("decide", "decide the log into stored decisions (resumes where it stopped)")
    decide.add_argument("--follow", action="store_true", help="keep polling the log for new events")
    work = command("work", "run one shard worker")
    work.add_argument("--follow", action="store_true", help="keep polling for new decisions")
    project = command("project", "decide, then bring every shard's view to the end")
    report = command("report", "the SPEC §8 report from the shard views")
    for sub in (work, project, report):
        sub.add_argument("--shards", type=int, required=True)
    work.add_argument("--index", type=int, required=True)
    command("verify-decisions", "recompute stored decisions from the log and compare")
    export = command("export-parquet", "write the log and its decisions as Parquet")
    export.add_argument("--out", required=True)
    dask_report = command("dask-report", "the report recomputed by Dask from a Parquet export", store=False)
    dask_report.add_argument("directory")
    dask_report.add_argument("--until", type=int, default=None)
    dask_report.add_argument("--workers", type=int, default=0, help="local Dask worker processes (0: threads here)")
    for sub in (report, dask_report):
        sub.add_argument("--period", default=None)
        sub.add_argument("--top", type=int, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (UsageError, StoreUnavailable) as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from . import projection

    url = resolve_store_url(getattr(args, "store", None))
    if args.command == "decide":
        print(projection.run_decider(url, follow=args.follow))
    elif args.command == "work":
        print(projection.run_worker(url, args.shards, args.index, follow=args.follow))
    elif args.command == "project":
        print(projection.project(url, args.shards))
    elif args.command == "report":
        report = projection.query_report(url, args.shards, period=args.period, top=args.top)
        sys.stdout.buffer.write(canonical_json(report) + b"\n")
    elif args.command == "verify-decisions":
        checked, problem = projection.verify_decisions(url)
        print(f"ok: {checked} decisions" if problem is None else f"FAILED: {problem}")
        return 0 if problem is None else 1
    elif args.command == "export-parquet":
        from .parquet import export_parquet

        print(export_parquet(url, args.out))
    else:
        sys.stdout.buffer.write(canonical_json(_dask_report(args)) + b"\n")
    return 0


def _dask_report(args: argparse.Namespace) -> dict[str, object]:
    from .dask_replay import replay_report

    if args.workers <= 0:
        return replay_report(args.directory, period=args.period, top=args.top, until=args.until)
    import distributed

    untyped: Any = distributed  # distributed's constructors carry no annotations
    with untyped.LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None) as cluster:
        with untyped.Client(cluster):
            return replay_report(args.directory, period=args.period, top=args.top, until=args.until)


if __name__ == "__main__":
    sys.exit(main())
