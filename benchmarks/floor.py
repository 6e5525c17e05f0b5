"""Where a replay's and an ingest's time per event goes, against the baseline's, in one process.

    python benchmarks/floor.py --size 100k [--repeats 5]

Every figure is CPU µs per accepted event (median of ``--repeats``), measured
in this one process on the workload's accepted events, in memory (no store,
no I/O): the steps the ledger takes for each event, one at a time, and
eventsourcing's ``mapper.to_domain_event`` of the same events (what the
benchmark's baseline "read + decode" spends per event, less its reading).
The last table sets the per-event budget that issue 11's ratios allow
against that baseline figure beside what the ledger's steps add up to.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import msgspec  # noqa: E402

from supernova_ledger.domain import book as book_module  # noqa: E402
from supernova_ledger.domain.book import GENESIS_HEAD, Book, chain  # noqa: E402
from supernova_ledger.events import canonical, decode_canonical, decode_event, decode_stored  # noqa: E402
from workload import parse_size, prepare  # noqa: E402


def _median_us(run: Callable[[], object], events: int, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.process_time()
        run()
        samples.append(time.process_time() - t0)
    return statistics.median(samples) * 1e6 / events


def measure(size: str, repeats: int) -> dict[str, float]:
    workload = prepare(size)
    lines = [line.rstrip(b"\n") for line in workload.accepted_path.open("rb")]
    book = Book()
    stored: list[tuple[bytes, str]] = []
    for line in lines:
        outcome, data = book.submit(decode_event(line))
        assert outcome.status == "accepted" and data is not None, outcome
        stored.append((data, book.head))
    n = len(stored)
    twins = [decode_stored(data) for data, _ in stored]
    strict = [decode_event(data) for data, _ in stored]

    def fold() -> None:
        replaying = Book()
        replaying.keep_postings = False
        for event, (data, head) in zip(twins, stored):
            replaying.replay(event, data, head)

    def fold_without_handlers() -> None:
        saved = dict(book_module._HANDLERS)
        book_module._HANDLERS.update({kind: (lambda _book, _event: None) for kind in saved})
        try:
            fold()
        finally:
            book_module._HANDLERS.update(saved)

    def chained() -> None:
        head = GENESIS_HEAD
        for data, _ in stored:
            head = chain(head, data)

    figures: dict[str, float] = {}
    gc.disable()
    try:
        figures["ledger: decode a stored event (trusted)"] = _median_us(lambda: [decode_stored(d) for d, _ in stored], n, repeats)
        figures["ledger: decode strictly (ingest's checks)"] = _median_us(lambda: [decode_event(d) for d, _ in stored], n, repeats)
        figures["ledger: decode strictly + prove canonical (verify)"] = _median_us(lambda: [decode_canonical(d) for d, _ in stored], n, repeats)
        figures["ledger: canonical encoding"] = _median_us(lambda: [canonical(e) for e in strict], n, repeats)
        figures["ledger: hash chain step (SHA-256)"] = _median_us(chained, n, repeats)
        figures["ledger: fold (decide + apply, no postings kept)"] = _median_us(fold, n, repeats)
        figures["ledger: fold with every handler a no-op (per-event bookkeeping)"] = _median_us(fold_without_handlers, n, repeats)
        figures["baseline: eventsourcing mapper.to_domain_event"] = _baseline_decode_us(lines, repeats)
    finally:
        gc.enable()
    return figures


def _baseline_decode_us(lines: list[bytes], repeats: int) -> float:
    from baseline import BaselineApp, EventLog, baseline_env

    app = BaselineApp(env=baseline_env("memory:"))
    log = EventLog()
    for line in lines:
        log.record(msgspec.json.decode(line))
    app.save(log)
    notifications = app.recorder.select_notifications(1, len(lines) + 1)
    to_domain_event = app.mapper.to_domain_event
    try:
        return _median_us(lambda: [to_domain_event(item) for item in notifications], len(notifications), repeats)
    finally:
        app.close()


def table(figures: dict[str, float]) -> str:
    rows = ["| step | CPU µs per event |", "|---|---|"]
    rows += [f"| {name} | {value:.2f} |" for name, value in figures.items()]
    base = figures["baseline: eventsourcing mapper.to_domain_event"]
    trusted = figures["ledger: decode a stored event (trusted)"]
    step = figures["ledger: hash chain step (SHA-256)"]
    fold = figures["ledger: fold (decide + apply, no postings kept)"]
    replay = trusted + step + fold
    verify = figures["ledger: decode strictly + prove canonical (verify)"] + step + fold
    rows += [
        "",
        "| path (reading from the store left out on both sides) | ledger µs per event | budget at the target | ratio now |",
        "|---|---|---|---|",
        f"| replay = trusted decode + chain + fold | {replay:.2f} | {base / 1.5:.2f} (1.5×) | {base / replay:.2f}× |",
        f"| verify = strict decode + canonical + chain + fold | {verify:.2f} | {base / 1.5:.2f} (1.5×) | {base / verify:.2f}× |",
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="100k", type=parse_size)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    figures = measure(args.size, args.repeats)
    print(table(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

