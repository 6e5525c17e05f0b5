"""The command-line side of the JD Union adapter: ``ingest-jd`` and ``simulate --format jd-rows``.

Kept here so :mod:`supernova_ledger.cli` only registers the commands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any

from ..errors import UsageError
from ..events import canonical_json
from ..ledger import Ledger
from .jd_union import JdRow, RowRejection, ingest_rows, load_categories, load_positions, read_document

__all__ = ["add_ingest_jd", "ingest_jd", "write_jd_feed"]


def add_ingest_jd(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    sub = command("ingest-jd", "append the orders of JD Union order rows (saved API responses or JSON Lines)")
    sub.add_argument("files", nargs="+", metavar="FILE", help="saved responses / rows (- = stdin); all read as one poll")
    sub.add_argument("--positions", required=True, metavar="MAP.csv",
                     help="CSV: position_id or sub_union_id, promoter_id, optional group_id")
    sub.add_argument("--categories", metavar="MAP.csv", help="CSV: cid3 or cid1, category (default: the category is jd:<cid3>)")
    sub.add_argument("--rejects", metavar="PATH", help="write one JSON line per row not applied here (default: nowhere)")


def _read_text(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what}: cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _read_bytes(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def ingest_jd(args: argparse.Namespace, open_ledger: Callable[[argparse.Namespace], Ledger]) -> int:
    """Exit 0 when every row was applied or needed nothing; 3 when a row was refused or unreadable."""
    positions = load_positions(_read_text(args.positions, "--positions"), args.positions)
    categories = load_categories(_read_text(args.categories, "--categories"), args.categories) if args.categories else {}
    documents = [(name, _read_bytes(name)) for name in args.files]
    rejects: IO[bytes] | None = None
    if args.rejects:
        folder = os.path.dirname(os.path.abspath(args.rejects))
        if os.path.isdir(args.rejects) or not os.access(folder, os.W_OK):
            raise UsageError(f"cannot write {args.rejects}")

    def items() -> Iterator[JdRow | RowRejection]:
        for name, data in documents:
            yield from read_document(data, name)

    with open_ledger(args) as ledger:
        report = ingest_rows(ledger, items(), positions, categories)
    if args.rejects:
        try:
            rejects = open(args.rejects, "wb")
        except OSError as exc:
            raise UsageError(f"cannot write {args.rejects}: {exc.strerror}") from None
        with rejects:
            for bad in report.malformed:
                rejects.write(canonical_json(bad.to_dict()) + b"\n")
            for problem in report.problems:
                line = {"source": None, "line": None, **problem}
                rejects.write(canonical_json(line) + b"\n")
    sys.stdout.buffer.write(canonical_json(report.summary()) + b"\n")
    sys.stdout.flush()
    return 0 if report.ok else 3


def write_jd_feed(seed: int, promoters: int, days: int, out: str) -> dict[str, Any]:
    """``simulate --format jd-rows --out DIR``: the feed as numbered step files, mappings, reference log."""
    from ..simulate import write_jsonl
    from .jd_rows import jd_programme

    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise UsageError(f"--out: {out} must be a new or empty directory")
    programme = jd_programme(seed, promoters=promoters, days=days)
    feed = os.path.join(out, "feed")
    try:
        os.makedirs(feed, exist_ok=True)
        with open(os.path.join(out, "positions.csv"), "w", encoding="utf-8") as file:
            file.write(programme.positions_csv)
        with open(os.path.join(out, "categories.csv"), "w", encoding="utf-8") as file:
            file.write(programme.categories_csv)
        write_jsonl(programme.reference_events, os.path.join(out, "reference.jsonl"))
        for number, (kind, items) in enumerate(programme.steps, start=1):
            path = os.path.join(feed, f"{number:06d}-{kind}.jsonl")
            if kind == "events":
                write_jsonl(items, path)
            else:
                with open(path, "wb") as file:
                    for page in items:
                        file.write(page + b"\n")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    return {"out": out, "steps": len(programme.steps), "row_versions": programme.row_versions,
            "skipped_orders": len(programme.skipped_orders)}
