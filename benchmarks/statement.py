"""A full statement (every promoter) from the per-promoter tables against one made by a replay.

``python benchmarks/statement.py --url sqlite:///benchmarks/out/ledger.db [--runs 3] [--period 2026-11]``

Each statement runs cold in its own process (``measure.py ledger-statement``);
the two paths alternate which goes first, run by run, so the shared machine's
noise falls on both. Prints one JSON line: the median seconds of each path,
their ratio, and whether every run's statement digest agreed. The store must
have been filled by an ingest (e.g. ``measure.py ledger-ingest``) so that its
tables are complete; nothing is written to it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def phase(url: str, period: str, how: str) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "measure.py"), "ledger-statement", "--url", url,
               "--period", period, "--how", how]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--period", default="2026-11")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    runs: dict[str, list[dict[str, Any]]] = {"tables": [], "replay": []}
    for run in range(args.runs):
        for how in ("tables", "replay") if run % 2 == 0 else ("replay", "tables"):
            runs[how].append(phase(args.url, args.period, how))
            print(json.dumps(runs[how][-1]), file=sys.stderr)
    digests = {r["digest"] for rs in runs.values() for r in rs}
    summary: dict[str, Any] = {"url": args.url, "period": args.period, "runs": args.runs,
                               "events": runs["tables"][0]["events"], "promoters": runs["tables"][0]["promoters"],
                               "digests_agree": len(digests) == 1,
                               "tables_replayed": any(r["replayed"] for r in runs["tables"])}
    for how, rs in runs.items():
        summary[f"{how}_s"] = statistics.median(r["statement_s"] for r in rs)
        summary[f"{how}_cpu_s"] = statistics.median(r["statement_cpu_s"] for r in rs)
        summary[f"{how}_peak_rss_mib"] = statistics.median(r["peak_rss_bytes"] for r in rs) / 2**20
    summary["tables_over_replay"] = summary["tables_s"] / summary["replay_s"]
    print(json.dumps(summary))
    return 0 if summary["digests_agree"] and not summary["tables_replayed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
