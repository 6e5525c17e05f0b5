"""The seeded benchmark workload: simulated programme traffic at 100k, 1M and 10M events.

``prepare(size)`` writes, once, under ``benchmarks/out/``:

``workload-SIZE.jsonl``
    every line the simulator sends, in order: what the ledger ingests
    (including its few deliberate rejections and exact re-deliveries);
``accepted-SIZE.jsonl``
    the same lines without the deliberate rejections and re-deliveries: the
    events the eventsourcing baseline records (the ledger stores exactly
    these, so both sides persist the same events);
``workload-SIZE.json``
    counts: lines, accepted events, orders, customers, promoters, groups,
    and the generator parameters.

The files are cached; the cache key is the generator parameters and a
fingerprint of the simulator's output on a small programme, so a change to
what the simulator generates regenerates them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec

from supernova_ledger import simulate

__all__ = ["SIZES", "OUT_DIR", "Workload", "prepare", "parse_size", "iter_batches"]

OUT_DIR: Final = Path(__file__).resolve().parent / "out"
SEED: Final = 20261111
DAYS: Final = 30
#: size label -> promoters (at 30 days, from 2026-11-01: 11-11 is a promotion day).
#: Events grow about linearly with promoters: ~270 events per promoter over 30 days.
SIZES: Final[dict[str, int]] = {"100k": 350, "1M": 3700, "10M": 37000}


@dataclass(frozen=True, slots=True)
class Workload:
    size: str
    lines_path: Path
    accepted_path: Path
    meta: dict[str, Any]

    @property
    def lines(self) -> int:
        return int(self.meta["lines"])

    @property
    def accepted(self) -> int:
        return int(self.meta["accepted"])


def parse_size(text: str) -> str:
    for label in SIZES:
        if label.lower() == text.strip().lower():
            return label
    raise ValueError(f"size: {text!r} is not one of {', '.join(SIZES)}")


def _generator_key(size: str) -> str:
    """Parameters plus a fingerprint of what the simulator generates now (a small programme, hashed).

    A change to the simulator that changes its output changes the fingerprint
    (and regenerates the cache); a refactor that does not, does not."""
    encode = msgspec.json.Encoder().encode
    sample = hashlib.sha256()
    for event in simulate.generate(SEED, promoters=40, days=8):
        sample.update(encode(event))
    params = f"seed={SEED} promoters={SIZES[size]} days={DAYS}"
    return params + " simulate=" + sample.hexdigest()[:16]


def prepare(size: str, *, log: Any = print) -> Workload:
    """The cached workload of ``size``, generating it first if needed."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    lines_path = OUT_DIR / f"workload-{size}.jsonl"
    accepted_path = OUT_DIR / f"accepted-{size}.jsonl"
    meta_path = OUT_DIR / f"workload-{size}.json"
    key = _generator_key(size)
    if meta_path.exists() and lines_path.exists() and accepted_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("key") == key:
            return Workload(size, lines_path, accepted_path, meta)
    log(f"workload {size}: generating ({key.split(' simulate=')[0]}) …")
    started = time.perf_counter()
    meta = _generate(size, lines_path, accepted_path)
    meta["key"] = key
    meta["generate_s"] = round(time.perf_counter() - started, 1)
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    log(f"workload {size}: {meta['lines']:,} lines, {meta['accepted']:,} accepted, in {meta['generate_s']} s")
    return Workload(size, lines_path, accepted_path, meta)


def _generate(size: str, lines_path: Path, accepted_path: Path) -> dict[str, Any]:
    sim = simulate.Simulation(SEED, promoters=SIZES[size], days=DAYS)
    encode = msgspec.json.Encoder().encode
    seen: set[str] = set()
    customers: set[str] = set()
    counts = {"lines": 0, "accepted": 0, "orders": 0, "groups": 0, "promoters": 0}
    tmp_lines = lines_path.with_suffix(".tmp")
    tmp_accepted = accepted_path.with_suffix(".tmp")
    with open(tmp_lines, "wb") as all_file, open(tmp_accepted, "wb") as ok_file:
        out_all: list[bytes] = []
        out_ok: list[bytes] = []
        for event in sim.events():
            line = encode(event)
            out_all.append(line)
            counts["lines"] += 1
            event_id = event["id"]
            # rejected_ids is filled when the event is emitted, before it is yielded.
            if event_id in seen or event_id in sim.rejected_ids:
                continue
            seen.add(event_id)
            out_ok.append(line)
            counts["accepted"] += 1
            kind = event["type"]
            if kind == "OrderPlaced":
                counts["orders"] += 1
                customers.add(event["customer_id"])
            elif kind == "MemberJoined":
                customers.add(event["customer_id"])
            elif kind == "GroupOpened":
                counts["groups"] += 1
            elif kind == "PromoterJoined":
                counts["promoters"] += 1
            if len(out_all) >= 8192:
                all_file.write(b"\n".join(out_all) + b"\n")
                out_all.clear()
            if len(out_ok) >= 8192:
                ok_file.write(b"\n".join(out_ok) + b"\n")
                out_ok.clear()
        if out_all:
            all_file.write(b"\n".join(out_all) + b"\n")
        if out_ok:
            ok_file.write(b"\n".join(out_ok) + b"\n")
    os.replace(tmp_lines, lines_path)
    os.replace(tmp_accepted, accepted_path)
    counts["customers"] = len(customers)
    counts["rejected_expected"] = len(sim.rejected_ids)
    counts["redelivered"] = sim.redelivered
    counts.update({"seed": SEED, "promoters_param": SIZES[size], "days": DAYS})
    return counts


def iter_batches(path: Path, batch: int) -> Iterator[list[bytes]]:
    """Lines of a JSONL file (without newlines, blank lines skipped) in lists of ``batch``."""
    chunk: list[bytes] = []
    with open(path, "rb") as file:
        for raw in file:
            line = raw.rstrip(b"\n")
            if not line:
                continue
            chunk.append(line)
            if len(chunk) >= batch:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


if __name__ == "__main__":  # python benchmarks/workload.py 100k 1M
    import sys

    for arg in sys.argv[1:] or ["100k"]:
        w = prepare(parse_size(arg))
        print(json.dumps(w.meta))
