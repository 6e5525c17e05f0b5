"""``supernova-ledger``: the command line (SPEC §9), thin over :class:`Ledger`.

Exit codes: 0 ok; 1 verify found a problem; 2 unusable arguments, an
unreachable store or an unreadable file (one line on stderr, nothing
written); 3 ingest rejected something.
"""

from __future__ import annotations

import argparse
import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, suppress
from typing import IO, Any, BinaryIO, Final, NoReturn

import msgspec

from .audit import export_lines, verify
from .errors import SupernovaError
from .events import canonical_json
from .csvout import explain_csv_rows, journal_csv_rows, report_csv_rows, statement_csv_rows, write_csv
from .csvout import csv_text
from .ledger import Ledger, resolve_store_url
from .progress import Progress, is_terminal
from .store import LogRecord, LogStore, open_store

__all__ = ["main", "statement_csv_rows"]

PROG: Final = "supernova-ledger"
INGEST_BATCH: Final = 5_000
#: Checkpoint during a long ingest every this many events, and at its end
#: when at least CHECKPOINT_AT_END events came since the last one.
CHECKPOINT_EVERY: Final = 1_000_000
CHECKPOINT_AT_END: Final = 50_000
EXIT_OK, EXIT_VERIFY_FAILED, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3
#: Count records read on a progress bar this many at a time.
_PROGRESS_EVERY: Final = 1_024


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


class _HelpFormatter(argparse.HelpFormatter):
    """Help that shows every option's default (unless its text already says it)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("supernova-ledger")
    except Exception:  # noqa: BLE001 - not installed as a distribution: the source's own number
        from . import __version__

        return __version__


#: What ``--format`` offers, per command; the first is the default.
REPORT_FORMATS: Final = ("json", "table", "csv", "html")
REPORT_TABLES: Final = ("promoters", "groups", "tiers", "ranking")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="A deterministic, auditable commission ledger.",
                     formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}",
                        help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    store_help = "store URL: sqlite:///PATH, postgresql://…, memory: (default $SUPERNOVA_STORE or sqlite:///supernova.db)"
    until_help = "the state after the first N events (default: all events)"

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, formatter_class=_HelpFormatter)
        sub.add_argument("--store", metavar="URL", help=store_help)
        return sub

    def quiet(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--quiet", action="store_true",
                         help="no progress bar even on a terminal (default: a bar on a terminal, never on a pipe)")

    ingest = command("ingest", "append JSON Lines events from files (- = stdin)")
    ingest.add_argument("files", nargs="+", metavar="FILE", help="JSON Lines files, - for standard input")
    ingest.add_argument("--rejects", metavar="PATH", help="write one JSON line per rejection here (default: nowhere)")
    quiet(ingest)

    report = command("report", "print the report (SPEC §8), or write it as HTML with charts")
    report.add_argument("--period", metavar="YYYY-MM[-DD]",
                        help="scope order figures to a month or day (default: all periods)")
    report.add_argument("--top", type=_nonnegative, metavar="K", help="keep the first K of the ranking (default: all)")
    report.add_argument("--until", type=_nonnegative, metavar="N", help=until_help)
    report.add_argument("--format", choices=REPORT_FORMATS, default="json",
                        help="json (canonical), table (for people), csv (one --table) or html (charts; see --out)")
    report.add_argument("--table", choices=REPORT_TABLES, default="promoters",
                        help="with --format csv: which table of the report")
    report.add_argument("--out", metavar="FILE", default="-", help="write here instead of standard output (- = stdout)")
    quiet(report)

    export = command("export", "print the log as canonical JSON Lines")
    # --format parquet: supernova_ledger.scale.parquet (the scale extra); see docs/scaling.md.
    export.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl",
                        help="jsonl (to stdout) or parquet (files under --out DIR; needs the scale extra)")
    export.add_argument("--out", metavar="DIR", help="for --format parquet: a new or empty directory (default: none)")
    quiet(export)
    verify_cmd = command("verify", "replay the store and check the log head")
    verify_cmd.add_argument("--format", choices=("table", "json"), default="table",
                            help='table: one line for people; json: {"ok","events","log_head","problem"}')
    quiet(verify_cmd)

    explain = command("explain", "every posting of one promoter, with its balances (SPEC §8.2)")
    explain.add_argument("promoter", metavar="PROMOTER", help="the promoter's id")
    explain.add_argument("--period", metavar="YYYY-MM", help="only the postings booked in this month (default: all)")
    explain.add_argument("--until", type=_nonnegative, metavar="N", help=until_help)
    explain.add_argument("--format", choices=("json", "table", "csv"), default="json",
                         help="json (canonical), table or csv (one row per posting)")
    quiet(explain)

    statement = command("statement", "opening, movements and closing balances of a month (SPEC §8.3)")
    statement.add_argument("--period", metavar="YYYY-MM", required=True, help="the month (booking period; required)")
    statement.add_argument("--until", type=_nonnegative, metavar="N", help=until_help)
    statement.add_argument("--promoter", metavar="ID", help="only this promoter, totals too (default: all)")
    statement.add_argument("--format", choices=("json", "csv", "table"), default="json",
                           help="json (canonical), csv (one row per promoter) or table")
    quiet(statement)

    rejections = command("rejections", "the rejection journal, oldest first (SPEC §2.1)")
    rejections.add_argument("--code", metavar="CODE", help="only this rejection code (default: all)")
    rejections.add_argument("--promoter", metavar="ID", help="only rejections naming this promoter or owner (default: all)")
    rejections.add_argument("--group", metavar="ID", help="only rejections naming this group (default: all)")
    rejections.add_argument("--format", choices=("json", "csv", "table"), default="json",
                            help="json (JSON Lines), csv or table")

    simulate = commands.add_parser("simulate", help="write a seeded, realistic programme as JSON Lines",
                                   description="write a seeded, realistic programme as JSON Lines",
                                   formatter_class=_HelpFormatter)
    simulate.add_argument("--seed", type=int, default=7, help="the random seed: same seed, same events")
    simulate.add_argument("--promoters", type=_nonnegative, default=300, help="promoters to simulate")
    simulate.add_argument("--days", type=_nonnegative, default=30, help="days to simulate")
    simulate.add_argument("--out", metavar="FILE", default="-", help="output file (- = stdout)")
    simulate.add_argument("--format", choices=("jsonl", "jd-rows"), default="jsonl",
                          help="jsonl or jd-rows: JD Union row pages and events, --out DIR (docs/jd_union.md)")
    quiet(simulate)

    from .adapters.jd_cli import add_ingest_jd

    add_ingest_jd(command)

    demo = command("demo", "simulate a programme into the store and show it")
    demo.add_argument("--seed", type=int, default=7, help="the random seed: same seed, same programme")
    demo.add_argument("--promoters", type=_nonnegative, default=None, help="promoters to simulate (default: 300)")
    demo.add_argument("--days", type=_nonnegative, default=None, help="days to simulate (default: 30)")
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
    if ledger.checkpoint_problem:
        print(f"{PROG}: warning: {ledger.checkpoint_problem}; replayed the log instead", file=sys.stderr)
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
        progress.advance(sum(len(raw) + 1 for _, raw in batch))  # bytes read, about (blank lines are skipped)
    if ledger.events_since_checkpoint >= CHECKPOINT_EVERY:
        ledger.checkpoint()


def _input_bytes(files: Sequence[str]) -> int | None:
    """The inputs' total size when every one is a regular file (stdin too, when redirected from one)."""
    total = 0
    for name in files:
        try:
            info = os.fstat(sys.stdin.fileno()) if name == "-" else os.stat(name)
        except (OSError, ValueError, AttributeError):
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        total += info.st_size
    return total


def _progress(args: argparse.Namespace, stack: ExitStack) -> Progress | None:
    """Ingest's bar: bytes read of the inputs' total (with the time left) when their size is known."""
    return _bar(args, stack, "ingest", total=_input_bytes(args.files), unit="bytes")


def _bar(
    args: argparse.Namespace, stack: ExitStack, label: str, *, total: int | None = None, unit: str = "events"
) -> Progress | None:
    """A progress bar on stderr when it is a terminal (never on a pipe) and ``--quiet`` is not given."""
    if getattr(args, "quiet", False) or not is_terminal(sys.stderr):
        return None
    bar = Progress(total, label, sys.stderr, unit=unit)
    stack.callback(bar.close)
    return bar


def _counting_reads(store: LogStore, bar: Progress | None) -> LogStore:
    """``store``, its ``read`` counting the records it yields on ``bar`` (``None``: unchanged)."""
    if bar is None:
        return store
    original = store.read

    def read(start: int = 1, stop: int | None = None) -> Iterator[LogRecord]:
        pending = 0
        for record in original(start, stop):
            pending += 1
            if pending == _PROGRESS_EVERY:
                bar.advance(pending)
                pending = 0
            yield record
        bar.advance(pending)

    setattr(store, "read", read)  # noqa: B010 - an instance attribute over the method
    return store


def _open_reading(args: argparse.Namespace, stack: ExitStack, label: str) -> Ledger:
    """The ledger at ``--store`` for a command that reads: a bar counts the events folded
    (opening, ``--until``, explain and statement replays) on a terminal."""
    bar = _bar(args, stack, label)
    store = _counting_reads(open_store(resolve_store_url(args.store)), bar)
    try:
        ledger = Ledger(store)
    except BaseException:
        store.close()
        raise
    stack.enter_context(ledger)
    if ledger.checkpoint_problem:
        print(f"{PROG}: warning: {ledger.checkpoint_problem}; replayed the log instead", file=sys.stderr)
    return ledger


def _write_out(path: str, data: bytes) -> None:
    """``data`` to standard output (``-``) or to ``path``, replaced whole (a temporary file renamed)."""
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    _check_writable(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.remove(temp)
        raise


def _csv_bytes(rows: Iterable[Sequence[str | int]]) -> bytes:
    return csv_text(rows).encode("utf-8")


# -- report, export, verify -----------------------------------------------------


def _report(args: argparse.Namespace) -> int:
    if args.table != "promoters" and args.format != "csv":
        raise _Usage("report: --table goes with --format csv")
    with ExitStack() as stack:
        ledger = _open_reading(args, stack, "report")
        report = ledger.report(period=args.period, top=args.top, until=args.until)
        if args.format == "html":
            from .html_report import gather, render_html

            data = render_html(gather(ledger, report, until=args.until)).encode("utf-8")
        elif args.format == "table":
            from .tables import render_compliance, render_report

            entries = [msgspec.to_builtins(entry) for entry in ledger.rejections()]
            data = (render_report(report) + "\n" + render_compliance(entries) + "\n").encode("utf-8")
        elif args.format == "csv":
            data = _csv_bytes(report_csv_rows(report, args.table))
        else:
            data = report.to_json() + b"\n"
    _write_out(args.out, data)
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    if args.format == "parquet" or args.out is not None:
        return _export_parquet(args)
    out = sys.stdout.buffer
    # Straight from the store: exporting needs no fold of the log.
    with ExitStack() as stack:
        store = stack.enter_context(open_store(resolve_store_url(args.store)))
        bar = _bar(args, stack, "export", total=store.head()[0])
        for line in export_lines(_counting_reads(store, bar)):
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
    with ExitStack() as stack:
        store = stack.enter_context(open_store(resolve_store_url(args.store)))
        bar = _bar(args, stack, "verify", total=store.head()[0])
        result = verify(_counting_reads(store, bar))
    if args.format == "json":
        problem = None if result.ok else (
            result.problem if result.position is None else f"position {result.position}: {result.problem}")
        sys.stdout.buffer.write(canonical_json(
            {"ok": result.ok, "events": result.events, "log_head": result.log_head, "problem": problem}) + b"\n")
        sys.stdout.flush()
    else:
        print(result.describe(), file=sys.stdout if result.ok else sys.stderr)
    return EXIT_OK if result.ok else EXIT_VERIFY_FAILED


# -- explain, statement, rejections ------------------------------------------------


def _explain(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        ledger = _open_reading(args, stack, "explain")
        explanation = ledger.explain(args.promoter, period=args.period, until=args.until)
    if args.format == "table":
        from .tables import render_explain

        sys.stdout.write(render_explain(explanation))
    elif args.format == "csv":
        sys.stdout.buffer.write(_csv_bytes(explain_csv_rows(explanation)))
    else:
        sys.stdout.buffer.write(explanation.to_json() + b"\n")
    sys.stdout.flush()
    return EXIT_OK


def _statement(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        ledger = _open_reading(args, stack, "statement")
        statement = ledger.statement(args.period, until=args.until, promoter=args.promoter)
    if args.format == "table":
        from .tables import render_statement

        sys.stdout.write(render_statement(statement))
    elif args.format == "csv":
        sys.stdout.buffer.write(_csv_bytes(statement_csv_rows(statement)))
    else:
        sys.stdout.buffer.write(statement.to_json() + b"\n")
    sys.stdout.flush()
    return EXIT_OK


def _rejections(args: argparse.Namespace) -> int:
    # The store, not a Ledger: the journal is read as stored, no fold of the log is needed.
    with open_store(resolve_store_url(args.store)) as store:
        entries = (msgspec.to_builtins(entry) for _seq, entry in
                   store.journal(code=args.code, promoter_id=args.promoter, group_id=args.group))
        if args.format == "table":
            from .tables import render_rejections

            sys.stdout.write(render_rejections(list(entries)))
        elif args.format == "csv":
            text = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=True)
            try:
                write_csv(journal_csv_rows(entries), text)
                text.flush()
            finally:
                text.detach()
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
    with ExitStack() as stack:
        bar = _bar(args, stack, "simulate")
        if bar is not None:
            events = _counted(events, bar)
        return _write_simulation(args, events)


def _counted(items: Iterator[Any], bar: Progress) -> Iterator[Any]:
    pending = 0
    for item in items:
        pending += 1
        if pending == _PROGRESS_EVERY:
            bar.advance(pending)
            pending = 0
        yield item
    bar.advance(pending)


def _write_simulation(args: argparse.Namespace, events: Iterator[Any]) -> int:
    from .simulate import write_jsonl

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
    "explain": _explain,
    "statement": _statement,
    "rejections": _rejections,
    "simulate": _simulate,
    "ingest-jd": _ingest_jd,
    "demo": _demo,
}
