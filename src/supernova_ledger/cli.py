"""``supernova-ledger``: the command line (SPEC §9), thin over :class:`Ledger`.

Exit codes: 0 ok; 1 verify found a problem; 2 unusable arguments, an
unreachable store or an unreadable file (one line on stderr, nothing
written); 3 ingest rejected something.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from typing import IO, Any, BinaryIO, Final, NoReturn

import msgspec

from .audit import export_lines, verify
from .errors import CorruptLog, SupernovaError
from .events import canonical_json
from .ledger import Ledger, resolve_store_url
from .store import open_store

__all__ = ["main"]

PROG: Final = "supernova-ledger"
INGEST_BATCH: Final = 5_000
#: Checkpoint during a long ingest every this many events, and at its end
#: when at least CHECKPOINT_AT_END events came since the last one.
CHECKPOINT_EVERY: Final = 1_000_000
CHECKPOINT_AT_END: Final = 50_000
EXIT_OK, EXIT_VERIFY_FAILED, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3


class _Usage(Exception):
    """An unusable argument, store or file: exit 2 with one line."""


def _fail(message: str) -> int:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_USAGE


def _nonnegative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 0")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but an unusable argument is one line and exit 2 from :func:`main`."""

    def error(self, message: str) -> NoReturn:
        raise _Usage(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="A deterministic, auditable commission ledger.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    store_help = "store URL: sqlite:///PATH, postgresql://…, memory: (default $SUPERNOVA_STORE or sqlite:///supernova.db)"

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--store", metavar="URL", help=store_help)
        return sub

    ingest = command("ingest", "append JSON Lines events from files (- = stdin)")
    ingest.add_argument("files", nargs="+", metavar="FILE")
    ingest.add_argument("--rejects", metavar="PATH", help="write one JSON line per rejection here")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar even on a terminal")

    report = command("report", "print the report (SPEC §8)")
    report.add_argument("--period", metavar="YYYY-MM[-DD]", help="scope order figures to a month or day")
    report.add_argument("--top", type=_nonnegative, metavar="K", help="keep the first K of the ranking")
    report.add_argument("--until", type=_nonnegative, metavar="N", help="the state after the first N events")
    report.add_argument("--format", choices=("json", "table"), default="json", help="json (default) or table")

    export = command("export", "print the log as canonical JSON Lines")
    # --format parquet: supernova_ledger.scale.parquet (the scale extra); see docs/scaling.md.
    export.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl",
                        help="jsonl (default: to stdout) or parquet (files under --out DIR; needs the scale extra)")
    export.add_argument("--out", metavar="DIR", help="for --format parquet: a new or empty directory")
    command("verify", "replay the store and check the log head")
    migrate = command("migrate", "copy the log into a new, empty store (current layout); verify both")
    migrate.add_argument("--to", metavar="URL", required=True, help="the empty store to write")

    explain = command("explain", "every posting of one promoter, with its balances (SPEC §8.2)")
    explain.add_argument("promoter", metavar="PROMOTER", help="the promoter's id")
    explain.add_argument("--period", metavar="YYYY-MM", help="only the postings booked in this month")
    explain.add_argument("--until", type=_nonnegative, metavar="N", help="the state after the first N events")
    explain.add_argument("--format", choices=("json", "table"), default="json", help="json (default) or table")

    statement = command("statement", "opening, movements and closing balances of a month (SPEC §8.3)")
    statement.add_argument("--period", metavar="YYYY-MM", required=True, help="the month (booking period)")
    statement.add_argument("--until", type=_nonnegative, metavar="N", help="the state after the first N events")
    statement.add_argument("--promoter", metavar="ID", help="only this promoter (totals too)")
    statement.add_argument("--format", choices=("json", "csv", "table"), default="json",
                           help="json (default), csv (one row per promoter) or table")

    rejections = command("rejections", "the rejection journal, oldest first (SPEC §2.1)")
    rejections.add_argument("--code", metavar="CODE", help="only this rejection code")
    rejections.add_argument("--promoter", metavar="ID", help="only rejections naming this promoter or owner")
    rejections.add_argument("--group", metavar="ID", help="only rejections naming this group")
    rejections.add_argument("--format", choices=("json", "csv", "table"), default="json",
                            help="json (default: JSON Lines), csv or table")

    simulate = commands.add_parser("simulate", help="write a seeded, realistic programme as JSON Lines")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--promoters", type=_nonnegative, default=300)
    simulate.add_argument("--days", type=_nonnegative, default=30)
    simulate.add_argument("--out", metavar="FILE", default="-", help="output file (default - = stdout)")
    simulate.add_argument("--format", choices=("jsonl", "jd-rows"), default="jsonl",
                          help="jsonl (default) or jd-rows: JD Union row pages and events, --out DIR (docs/jd_union.md)")

    from .adapters.jd_cli import add_ingest_jd

    add_ingest_jd(command)

    demo = command("demo", "simulate a programme into the store and show it")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--promoters", type=_nonnegative, default=None)
    demo.add_argument("--days", type=_nonnegative, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        return int(_COMMANDS[args.command](args))
    except _Usage as exc:
        return _fail(str(exc))
    except SupernovaError as exc:
        return _fail(exc.message)
    except BrokenPipeError:  # e.g. `export | head`
        return EXIT_OK


def _open(args: argparse.Namespace) -> Ledger:
    ledger = Ledger.open(resolve_store_url(args.store))
    # The state is restored only when a command needs it; warn then.
    ledger.on_checkpoint_problem = lambda problem: print(
        f"{PROG}: warning: {problem}; replayed the log instead", file=sys.stderr
    )
    return ledger


# -- ingest -------------------------------------------------------------------


_BOM: Final = b"\xef\xbb\xbf"
#: A line of only JSON white space is blank (a form feed is not JSON white space).
_JSON_SPACE: Final = b" \t\r\n"


def _physical_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Numbered non-blank lines; a UTF-8 byte order mark opening the file is dropped."""
    for number, line in enumerate(stream, start=1):
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM):]
        if line.strip(_JSON_SPACE):
            yield number, line.rstrip(b"\r\n")


def _open_inputs(stack: ExitStack, files: Sequence[str]) -> list[BinaryIO]:
    streams: list[BinaryIO] = []
    for name in files:
        if name == "-":
            streams.append(sys.stdin.buffer)
            continue
        try:
            streams.append(stack.enter_context(open(name, "rb")))
        except OSError as exc:
            raise _Usage(f"cannot read {name}: {exc.strerror}") from None
    return streams


def _check_writable(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.access(folder, os.W_OK) or (
        os.path.exists(path) and not os.access(path, os.W_OK)
    ):
        raise _Usage(f"cannot write {path}")


def _ingest(args: argparse.Namespace) -> int:
    counts = {"accepted": 0, "duplicates": 0, "rejected": 0}
    with ExitStack() as stack:
        streams = _open_inputs(stack, args.files)
        if args.rejects:
            _check_writable(args.rejects)
        ledger = stack.enter_context(_open(args))
        rejects: IO[bytes] | None = None
        if args.rejects:
            try:
                rejects = stack.enter_context(open(args.rejects, "wb"))
            except OSError as exc:
                raise _Usage(f"cannot write {args.rejects}: {exc.strerror}") from None
        progress = _progress(args, stack)
        for stream in streams:
            batch: list[tuple[int, bytes]] = []
            for item in _physical_lines(stream):
                batch.append(item)
                if len(batch) == INGEST_BATCH:
                    _ingest_batch(ledger, batch, counts, rejects, progress)
                    batch = []
            if batch:
                _ingest_batch(ledger, batch, counts, rejects, progress)
        if ledger.events_since_checkpoint >= CHECKPOINT_AT_END:
            ledger.checkpoint()
    sys.stdout.buffer.write(canonical_json(counts) + b"\n")
    sys.stdout.flush()
    return EXIT_REJECTED if counts["rejected"] else EXIT_OK


def _ingest_batch(
    ledger: Ledger, batch: list[tuple[int, bytes]], counts: dict[str, int], rejects: IO[bytes] | None, progress: Any
) -> None:
    outcomes = ledger.append_batch([raw for _, raw in batch])
    for (number, _raw), outcome in zip(batch, outcomes, strict=True):
        if outcome.status == "accepted":
            counts["accepted"] += 1
        elif outcome.status == "duplicate":
            counts["duplicates"] += 1
        else:
            counts["rejected"] += 1
            if rejects is not None:
                line = {"line": number, "id": outcome.id, "code": outcome.code, "message": outcome.message}
                rejects.write(canonical_json(line) + b"\n")
    if progress is not None:
        progress.advance(len(batch))
    if ledger.events_since_checkpoint >= CHECKPOINT_EVERY:
        ledger.checkpoint()


def _progress(args: argparse.Namespace, stack: ExitStack) -> Any:
    if getattr(args, "quiet", False) or not sys.stderr.isatty():
        return None
    try:
        from .progress import Progress
    except ImportError:  # pragma: no cover - progress is optional sugar
        return None
    bar = Progress(None, "ingest")
    stack.callback(bar.close)
    return bar


# -- report, export, verify -----------------------------------------------------


def _report(args: argparse.Namespace) -> int:
    with _open(args) as ledger:
        report = ledger.report(period=args.period, top=args.top, until=args.until)
        entries = [msgspec.to_builtins(entry) for entry in ledger.rejections()] if args.format == "table" else []
    if args.format == "table":
        from .tables import render_compliance, render_report

        sys.stdout.write(render_report(report) + "\n" + render_compliance(entries) + "\n")
    else:
        sys.stdout.buffer.write(canonical_json(report) + b"\n")
    sys.stdout.flush()
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    if args.format == "parquet" or args.out is not None:
        return _export_parquet(args)
    out = sys.stdout.buffer
    # Straight from the store: exporting needs no fold of the log.
    with open_store(resolve_store_url(args.store)) as store:
        for line in export_lines(store):
            out.write(line + b"\n")
    out.flush()
    return EXIT_OK


def _export_parquet(args: argparse.Namespace) -> int:
    """``export --format parquet --out DIR``: prints ``{"events": n, "out": DIR}``."""
    if args.format != "parquet" or not args.out:
        raise _Usage("export: --out DIR goes with --format parquet, and --format parquet needs --out DIR")
    try:
        from .scale.parquet import export_parquet
    except ImportError as exc:
        raise _Usage(f"export: --format parquet needs the scale extra: pip install 'supernova-ledger[scale]' ({exc})") from None
    events = export_parquet(resolve_store_url(args.store), args.out)
    sys.stdout.buffer.write(canonical_json({"events": events, "out": args.out}) + b"\n")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    # The store, not a Ledger: opening a Ledger folds the log, and a damaged
    # log must reach verify to be located, not stop the open.
    with open_store(resolve_store_url(args.store)) as store:
        result = verify(store)
    print(result.describe(), file=sys.stdout if result.ok else sys.stderr)
    return EXIT_OK if result.ok else EXIT_VERIFY_FAILED


def _migrate(args: argparse.Namespace) -> int:
    from .migrate import migrate

    source_url, target_url = resolve_store_url(args.store), args.to
    if source_url == target_url:
        raise _Usage("migrate: --to must name another store than --store")
    with open_store(source_url) as source, open_store(target_url) as target:
        try:
            result = migrate(source, target)
        except CorruptLog as exc:
            print(f"{PROG}: migrate FAILED: {exc.message}", file=sys.stderr)
            return EXIT_VERIFY_FAILED
    print(result.describe())
    return EXIT_OK


# -- explain, statement, rejections ------------------------------------------------


def _explain(args: argparse.Namespace) -> int:
    with _open(args) as ledger:
        explanation = ledger.explain(args.promoter, period=args.period, until=args.until)
    if args.format == "table":
        from .tables import render_explain

        sys.stdout.write(render_explain(explanation))
    else:
        sys.stdout.buffer.write(canonical_json(explanation) + b"\n")
    sys.stdout.flush()
    return EXIT_OK


def statement_csv_rows(statement: dict[str, Any]) -> list[list[Any]]:
    """A statement as CSV rows: a header, then one row per promoter (the JSON's columns flattened)."""
    from .domain.accounts import MOVEMENT_KEYS
    from .domain.state import BALANCE_FIELDS

    header = ["promoter_id", *(f"opening_{b}" for b in BALANCE_FIELDS), *MOVEMENT_KEYS,
              *(f"closing_{b}" for b in BALANCE_FIELDS)]
    rows: list[list[Any]] = [header]
    for promoter_id, account in sorted(statement["promoters"].items()):
        rows.append([promoter_id, *(account["opening"][b] for b in BALANCE_FIELDS),
                     *(account[k] for k in MOVEMENT_KEYS), *(account["closing"][b] for b in BALANCE_FIELDS)])
    return rows


def _write_csv(rows: Iterator[list[Any]] | list[list[Any]]) -> None:
    import csv
    import io

    text = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text, lineterminator="\r\n")
        for row in rows:
            writer.writerow(row)
        text.flush()
    finally:
        text.detach()


def _statement(args: argparse.Namespace) -> int:
    with _open(args) as ledger:
        statement = ledger.statement(args.period, until=args.until, promoter=args.promoter)
    if args.format == "table":
        from .tables import render_statement

        sys.stdout.write(render_statement(statement))
    elif args.format == "csv":
        _write_csv(statement_csv_rows(statement))
    else:
        sys.stdout.buffer.write(canonical_json(statement) + b"\n")
    sys.stdout.flush()
    return EXIT_OK


#: The columns of ``rejections --format csv``, in the order of SPEC §2.1.
JOURNAL_COLUMNS: Final = ("position", "id", "type", "code", "message", "promoter_id", "group_id", "order_id", "payout_id")


def _rejections(args: argparse.Namespace) -> int:
    with _open(args) as ledger:
        entries = ledger.rejections(code=args.code, promoter=args.promoter, group=args.group)
        if args.format == "table":
            from .tables import render_rejections

            sys.stdout.write(render_rejections([msgspec.to_builtins(entry) for entry in entries]))
        elif args.format == "csv":
            _write_csv(iter([list(JOURNAL_COLUMNS), *(
                [msgspec.to_builtins(entry)[column] for column in JOURNAL_COLUMNS] for entry in entries
            )]))
        else:
            out = sys.stdout.buffer
            for entry in entries:
                out.write(canonical_json(entry) + b"\n")
    sys.stdout.flush()
    return EXIT_OK


# -- simulate, demo --------------------------------------------------------------


def _simulate(args: argparse.Namespace) -> int:
    from .simulate import generate, write_jsonl

    if args.format == "jd-rows":
        from .adapters.jd_cli import write_jd_feed

        if args.out == "-":
            raise _Usage("simulate: --format jd-rows needs --out DIR")
        summary = write_jd_feed(args.seed, args.promoters, args.days, args.out)
        sys.stdout.buffer.write(canonical_json(summary) + b"\n")
        return EXIT_OK

    events = generate(args.seed, promoters=args.promoters, days=args.days)
    if args.out == "-":
        write_jsonl(events, sys.stdout)
    else:
        try:
            write_jsonl(events, args.out)
        except OSError as exc:
            raise _Usage(f"cannot write {args.out}: {exc.strerror}") from None
    return EXIT_OK


def _ingest_jd(args: argparse.Namespace) -> int:
    from .adapters.jd_cli import ingest_jd

    return ingest_jd(args, _open)


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    options: dict[str, Any] = {"seed": args.seed}
    if args.promoters is not None:
        options["promoters"] = args.promoters
    if args.days is not None:
        options["days"] = args.days
    exit_code: int = run_demo(resolve_store_url(args.store), **options)
    return exit_code


_COMMANDS: Final = {
    "ingest": _ingest,
    "report": _report,
    "export": _export,
    "verify": _verify,
    "migrate": _migrate,
    "explain": _explain,
    "statement": _statement,
    "rejections": _rejections,
    "simulate": _simulate,
    "ingest-jd": _ingest_jd,
    "demo": _demo,
}
