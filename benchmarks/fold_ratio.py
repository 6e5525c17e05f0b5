"""The fold of this tree against the fold of another tree, in one run (issue 9's "not slower by
more than 10%", issue 11's lean path and resident state).

    python benchmarks/fold_ratio.py --baseline /tmp/old/src --size 100k --runs 5

(``--this DIR`` measures another copy of ``src`` instead of this checkout's: copy it first if
you keep editing while it runs.)

``--baseline`` is the ``src`` directory of another checkout (e.g. ``git worktree add /tmp/old
43b862b``). Each phase runs in its own process, once per tree per run, and the two trees
alternate which goes first, so the shared machine's noise falls on both. Printed: medians of
each tree and the ratio this tree / baseline (median of the per-run ratios; > 1 is faster for
rates, < 1 is smaller for bytes).

Phases (all in memory: the store layer is another branch's business):

``ingest``
    ``Ledger.open("memory:").append_batch`` of every workload line in batches of 5,000:
    strict decode and validation, the decision, the hash chain, the memory store.
    Accepted events ÷ seconds inside ``append_batch`` (wall and CPU).
``replay``
    the canonical events and heads of an untimed ingest (as ``LogRecord``s) folded into a new
    ``Book`` by ``ledger._fold``, exactly as ``Ledger`` replays a store (``decode_stored`` +
    ``Book.replay``, GC paused), minus reading the store; events ÷ s.
    The report digest after it is printed, and both trees must agree.
``memory``
    after the replay: Python object bytes of the state (``sys.getsizeof`` over the graph, as
    ``measure.state_bytes``: per event, per customer, per order, rest) and the bytes the
    replay left allocated (``tracemalloc``: interned strings and container slack included).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BATCH = 5_000


def _lines(path: str) -> list[bytes]:
    with open(path, "rb") as file:
        return [line.rstrip(b"\n") for line in file if line.strip()]


def phase_ingest(path: str) -> dict[str, Any]:
    from supernova_ledger import Ledger

    lines = _lines(path)
    ledger = Ledger.open("memory:")
    wall = cpu = 0.0
    gc.collect()
    for start in range(0, len(lines), BATCH):
        batch = lines[start : start + BATCH]
        w0, c0 = time.perf_counter(), time.process_time()
        ledger.append_batch(batch)
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
    accepted = ledger.position
    return {"events": accepted, "wall_s": wall, "cpu_s": cpu, "rate": accepted / wall, "cpu_rate": accepted / cpu,
            "head": ledger.log_head}


def _records(path: str) -> list[tuple[bytes, str]]:
    from supernova_ledger.domain.book import Book
    from supernova_ledger.events import DecodeFailure, decode_event

    book = Book()
    records: list[tuple[bytes, str]] = []
    for line in _lines(path):
        try:
            event = decode_event(line)
        except DecodeFailure:
            continue
        outcome, data = book.submit(event)
        if data is not None:
            records.append((data, book.head))
    return records


def _log_records(records: list[tuple[bytes, str]]) -> list[Any]:
    from supernova_ledger.store import LogRecord

    return [LogRecord(position, data, head) for position, (data, head) in enumerate(records, start=1)]


def _replay(log: list[Any]) -> Any:
    """What ``Ledger`` does to replay a store, minus the store: ``ledger._fold`` (GC paused)."""
    from supernova_ledger.domain.book import Book
    from supernova_ledger.ledger import _fold

    book = Book()
    try:
        _fold(book, iter(log), freeze=True)  # a ledger's book lives on (trees with gc.freeze opt-in)
    except TypeError:
        _fold(book, iter(log))
    return book


def phase_replay(path: str) -> dict[str, Any]:
    from supernova_ledger.domain.report import build_report, with_digest

    log = _log_records(_records(path))
    records = log
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    book = _replay(log)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    digest = with_digest(build_report(book, None, None))["digest"]
    return {"events": len(records), "wall_s": wall, "cpu_s": cpu, "rate": len(records) / wall,
            "cpu_rate": len(records) / cpu, "digest": digest}


def phase_memory(path: str) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from measure import state_bytes

    import tracemalloc

    log = _log_records(_records(path))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    book = _replay(log)
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()

    class Holder:
        _store = None
        _book = book
        position = book.position

    found = state_bytes(Holder())
    parts, counts = found["parts_bytes"], found["counts"]
    return {
        "per_order_B": parts["per_order"] / counts["orders"],
        "per_customer_B": parts["per_customer"] / counts["customers"],
        "per_event_B": parts["per_event"] / counts["events"],
        "rest_B": parts["rest"],
        "total_B": found["total_bytes"],
        "traced_growth_B": traced,
        "counts": counts,
    }


PHASES = {"ingest": phase_ingest, "replay": phase_replay, "memory": phase_memory}


def _run_phase(src: str, phase: str, path: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=src, PYTHONHASHSEED="0")
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--lines", path],
        env=env, check=True, capture_output=True, text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _markdown(summary: dict[str, Any]) -> str:
    """The summary as a Markdown table (what benchmarks/README.md shows)."""
    rows = ["| figure | this tree | baseline | this / baseline |", "|---|---|---|---|"]
    for key, value in summary.items():
        if isinstance(value, dict) and "ratio" in value:
            this, base = value["this"], value["baseline"]
            shown = (f"{this:,.0f}", f"{base:,.0f}") if abs(this) >= 100 else (f"{this:.1f}", f"{base:.1f}")
            rows.append(f"| {key} | {shown[0]} | {shown[1]} | {value['ratio']:.2f}× |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="src directory of the tree to compare against")
    parser.add_argument("--this", help="src directory of the tree measured (default: this checkout's src)")
    parser.add_argument("--size", default="100k")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--phases", default="ingest,replay,memory")
    parser.add_argument("--out", help="write every run as JSON here")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--lines", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        result = PHASES[args.phase](args.lines)
        import supernova_ledger

        result["module"] = supernova_ledger.__file__
        print(json.dumps(result))
        return 0
    if not args.baseline:
        parser.error("--baseline is required")
    sys.path.insert(0, str(HERE))
    from workload import parse_size, prepare

    workload = prepare(parse_size(args.size), log=lambda text: print(text, file=sys.stderr))
    path = str(workload.lines_path)
    trees = {"this": str(Path(args.this or HERE.parent / "src").resolve()), "baseline": str(Path(args.baseline).resolve())}
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {p: {"this": [], "baseline": []} for p in phases}
    for run in range(args.runs):
        for phase in phases:
            order = ["this", "baseline"] if run % 2 == 0 else ["baseline", "this"]
            for tree in order:
                result = _run_phase(trees[tree], phase, path)
                runs[phase][tree].append(result)
                print(f"run {run + 1} {phase:7s} {tree:8s} "
                      + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()
                                 if k not in ("module", "counts", "head")), file=sys.stderr)
    summary: dict[str, Any] = {"size": args.size, "lines": workload.lines, "runs": args.runs, "trees": trees}
    for phase, by_tree in runs.items():
        keys = ["rate", "cpu_rate"] if phase != "memory" else ["per_order_B", "per_customer_B", "per_event_B",
                                                               "traced_growth_B"]
        for key in keys:
            this = [r[key] for r in by_tree["this"]]
            base = [r[key] for r in by_tree["baseline"]]
            summary[f"{phase}.{key}"] = {
                "this": statistics.median(this), "baseline": statistics.median(base),
                "ratio": statistics.median(t / b for t, b in zip(this, base)),
            }
        for key in ("digest", "head"):
            values = {r[key] for tree in by_tree.values() for r in tree if key in r}
            if values:
                summary[f"{phase}.{key}s_agree"] = len(values) == 1
    print(json.dumps(summary, indent=1))
    print(_markdown(summary))
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "runs": runs}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
