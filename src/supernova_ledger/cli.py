"""``supernova-ledger``: the command line (SPEC §9), thin over :class:`Ledger`.

Exit codes: 0 ok; 1 the stored log failed a check (verify, or any command
that met a damaged log); 2 unusable arguments, an unreachable store, no ledger
at the URL, or an unreadable file (one line on stderr; nothing written, except
that an ingest stopping midway keeps the batches it stored and says how many);
3 ingest rejected something; 4 output could not be written (full disk, closed
pipe); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import errno
import io
import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, suppress
from typing import IO, Any, BinaryIO, Final, NoReturn

import msgspec

from .audit import ExpectedHead, export_lines, parse_expected_head, verify
from .csvout import csv_text, explain_csv_rows, journal_csv_rows, report_csv_rows, statement_csv_rows, write_csv
from .errors import CorruptLog, SupernovaError
from .events import MAX_LINE_BYTES, canonical_json
from .ledger import Ledger, checkpoint_key_from_env, resolve_store_url
from .progress import Progress, is_terminal
from .store import LogStore, open_store
from .tables import printable

__all__ = ["main", "statement_csv_rows"]

PROG: Final = "supernova-ledger"
INGEST_BATCH: Final = 5_000
#: Checkpoint during a long ingest every this many events, and at its end
#: when at least CHECKPOINT_AT_END events came since the last one.
CHECKPOINT_EVERY: Final = 1_000_000
CHECKPOINT_AT_END: Final = 50_000
#: An ingest batch holds at most this many bytes of lines too (over-long lines count as 1 MiB + 1).
INGEST_BATCH_BYTES: Final = 16 << 20
EXIT_OK, EXIT_VERIFY_FAILED, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3
#: Output could not be written (full disk, closed pipe): distinct from verify's 1.
EXIT_OUTPUT: Final = 4
EXIT_INTERRUPTED: Final = 130
#: Count records read on a progress bar this many at a time.
_PROGRESS_EVERY: Final = 1_024


class _Usage(Exception):
    """An unusable argument, store or file: exit 2 with one line."""


def _fail(message: str, code: int = EXIT_USAGE, *, label: str = "error") -> int:
    """One line on stderr (control characters escaped: messages may quote event data)."""
    try:
        print(f"{PROG}: {label}: {printable(' '.join(message.split()))}", file=sys.stderr)
    except OSError:
        pass  # stderr itself is gone: the exit code is all that is left
    return code


def _output_failed(exc: OSError) -> int:
    """Output (stdout or a file being written) failed: one line, exit 4."""
    _silence_stdout()
    if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
        return _fail("output closed before everything was written (broken pipe)", EXIT_OUTPUT)
    where = f" {exc.filename}" if exc.filename else ""
    return _fail(f"cannot write output{where}: {exc.strerror or exc}", EXIT_OUTPUT)


def _silence_stdout() -> None:
    """Point a failed real stdout at /dev/null, so the interpreter's last flush does not fail again."""
    if sys.stdout is not sys.__stdout__ or sys.stdout is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


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
    ingest.add_argument("--rejects", metavar="PATH",
                        help="write one JSON line per rejection here (- = stdout); never the store, an input, "
                             "or a non-empty file that is not a rejects file (default: nowhere)")
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
    verify_cmd.add_argument("--expect", action="append", default=[], metavar="HEAD[@POSITION]",
                            help="a log head published earlier: fail when the log no longer holds it "
                                 "(repeatable; default: none)")
    verify_cmd.add_argument("--format", choices=("table", "json"), default="table",
                            help='table: one line for people; json: {"ok","events","log_head","problem"}')
    quiet(verify_cmd)
    migrate = command("migrate", "copy the log into a new, empty store (current layout); verify both")
    migrate.add_argument("--to", metavar="URL", required=True, help="the empty store to write (required)")
    migrate.add_argument("--batch", type=_positive_batch, default=None, metavar="N",
                         help="records per stored row in the new store (default: 5000)")

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
    except _Stopped as exc:
        return _fail(exc.message, exc.code, label=exc.label)
    except CorruptLog as exc:
        return _fail(f"{exc.message} (the stored log is damaged)", EXIT_VERIFY_FAILED)
    except SupernovaError as exc:
        return _fail(exc.message)
    except KeyboardInterrupt:
        return _fail("nothing more was done", EXIT_INTERRUPTED, label="interrupted")
    except OSError as exc:  # writing stdout or a file failed (full disk, closed pipe)
        return _output_failed(exc)


def _open(args: argparse.Namespace, *, create: bool = False) -> Ledger:
    """The ledger at ``--store``; only commands that write pass ``create=True``."""
    ledger = Ledger.open(resolve_store_url(args.store), create=create)
    # The state is restored only when a command needs it; warn then.
    ledger.on_checkpoint_problem = lambda problem: print(
        f"{PROG}: warning: {printable(problem)}; replayed the log instead", file=sys.stderr
    )
    return ledger


# -- ingest -------------------------------------------------------------------


_BOM: Final = b"\xef\xbb\xbf"
#: A line of only JSON white space is blank (a form feed is not JSON white space).
_JSON_SPACE: Final = b" \t\r\n"
#: An over-long line is read past in pieces of this size: memory stays flat.
_SKIP_CHUNK: Final = 1 << 16
#: The keys of a line of a rejects file (how an existing rejects file is recognised).
_REJECT_KEYS: Final = frozenset({"line", "id", "code", "message"})


class _Stopped(Exception):
    """A command that stopped midway: one line with what was done, and its exit code."""

    def __init__(self, message: str, code: int, label: str = "error") -> None:
        super().__init__(message)
        self.message, self.code, self.label = message, code, label


def _physical_lines(stream: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes]]:
    """Numbered non-blank lines; a UTF-8 byte order mark opening the file is dropped.

    Reads at most ``limit`` + 2 bytes of a line: a longer one is read past in
    pieces and given as its first ``limit`` + 1 bytes (which no event can be),
    so one endless line (``/dev/zero``) does not fill memory."""
    number = 0
    while True:
        line = stream.readline(limit + 2)
        if not line:
            return
        number += 1
        if not line.endswith(b"\n") and len(line) == limit + 2:
            while True:  # read past the rest of the line
                piece = stream.readline(_SKIP_CHUNK)
                if not piece or piece.endswith(b"\n"):
                    break
            yield number, line[: limit + 1]
            continue
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


def _same_file(a: str, b: str) -> bool:
    """Whether two names reach one file, whatever the spelling or link (also before ``a`` exists)."""
    try:
        if os.path.samefile(a, b):
            return True
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def _store_files(url: str) -> list[str]:
    if not url.startswith("sqlite:///"):
        return []
    path = url[len("sqlite:///"):]
    return [path + suffix for suffix in ("", "-wal", "-shm", "-journal")]


def _is_rejects_file(path: str) -> bool:
    """An existing rejects file: its first line is a rejects line (read at most 64 KiB)."""
    with open(path, "rb") as file:
        first = file.readline(_SKIP_CHUNK)
    try:
        row = json.loads(first)
    except ValueError:
        return False
    # ingest's rows, or ingest-jd's (which name their source and line too)
    return isinstance(row, dict) and (set(row) == _REJECT_KEYS or {"source", "line"} <= set(row))


def _check_rejects_target(path: str, files: Sequence[str], store_url: str) -> None:
    """Refuse a ``--rejects`` target that would destroy data: the store, an input, a foreign file."""
    for store_file in _store_files(store_url):
        if _same_file(path, store_file):
            raise _Usage(f"--rejects {path}: is the store's own file {store_file}; choose another path")
    for name in files:
        if name == "-":
            if os.path.exists(path) and _same_file(path, "/dev/stdin"):
                raise _Usage(f"--rejects {path}: is the standard input being ingested")
            continue
        if _same_file(path, name):
            raise _Usage(f"--rejects {path}: is the input file {name}; choose another path")
    _check_writable(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _Usage(f"cannot write {path}: {exc.strerror}") from None
    if stat.S_ISREG(info.st_mode) and info.st_size > 0 and not _is_rejects_file(path):
        raise _Usage(f"--rejects {path}: exists, is not empty and is not a rejects file; choose another path")


class _Rejects:
    """Where rejections go: stdout, a device or pipe as is, or a regular file
    written under a temporary name beside it and renamed at the end (so a run
    that fails leaves no half file)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._temp: str | None = None
        if path == "-":
            self.stream: IO[bytes] = sys.stdout.buffer
            return
        try:
            if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
                self.stream = open(path, "wb")  # /dev/stdout, a pipe: write in place
                return
            folder = os.path.dirname(os.path.abspath(path))
            fd, self._temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
            self.stream = os.fdopen(fd, "wb")
        except OSError as exc:
            raise _Usage(f"cannot write {path}: {exc.strerror}") from None

    def write(self, row: dict[str, Any]) -> None:
        try:
            data = canonical_json(row)
        except UnicodeEncodeError:  # a lone surrogate: written escaped, never a failed ingest
            data = canonical_json({k: v.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(v, str) else v
                                   for k, v in row.items()})
        try:
            self.stream.write(data + b"\n")
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, self.path) from None

    def finish(self) -> None:
        """Flush; a temporary file takes the target's name (durably) only now."""
        try:
            self.stream.flush()
            if self._temp is not None:
                os.fsync(self.stream.fileno())
                self.stream.close()
                os.replace(self._temp, self.path)
                self._temp = None
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, self.path) from None

    def discard(self) -> None:
        if self.path == "-":
            return
        try:
            self.stream.close()
        except OSError:
            pass
        if self._temp is not None:
            try:
                os.remove(self._temp)
            except OSError:
                pass
            self._temp = None


def _ingest(args: argparse.Namespace) -> int:
    counts = {"accepted": 0, "duplicates": 0, "rejected": 0}
    store_url = resolve_store_url(args.store)
    with ExitStack() as stack:
        streams = _open_inputs(stack, args.files)
        if args.rejects and args.rejects != "-":
            _check_rejects_target(args.rejects, args.files, store_url)
        ledger = stack.enter_context(_open(args, create=True))
        start = ledger.position
        rejects = _Rejects(args.rejects) if args.rejects else None
        try:
            progress = _progress(args, stack)
            for stream in streams:
                _ingest_stream(ledger, stream, counts, rejects, progress)
            if ledger.events_since_checkpoint >= CHECKPOINT_AT_END:
                ledger.checkpoint()
            if rejects is not None:
                rejects.finish()
        except BaseException as exc:
            if rejects is not None:
                rejects.discard()
            stopped = _stopped(exc, ledger, start, counts)
            if stopped is exc:
                raise
            raise stopped from exc
    sys.stdout.buffer.write(canonical_json(counts) + b"\n")
    sys.stdout.flush()
    return EXIT_REJECTED if counts["rejected"] else EXIT_OK


def _ingest_stream(
    ledger: Ledger, stream: BinaryIO, counts: dict[str, int], rejects: _Rejects | None, progress: Any
) -> None:
    batch: list[tuple[int, bytes]] = []
    size = 0
    for item in _physical_lines(stream):
        batch.append(item)
        size += len(item[1])
        if len(batch) == INGEST_BATCH or size >= INGEST_BATCH_BYTES:
            _ingest_batch(ledger, batch, counts, rejects, progress)
            batch, size = [], 0
    if batch:
        _ingest_batch(ledger, batch, counts, rejects, progress)


def _stopped(exc: BaseException, ledger: Ledger, start: int, counts: dict[str, int]) -> BaseException:
    """The one line for an ingest that stopped midway: why, and what it had stored by then."""
    if isinstance(exc, _Usage):
        return exc
    try:  # what the store holds now is the truth (an interrupted batch may have committed)
        stored = ledger.store.head()[0] - start
        done = f"{stored} events stored by this ingest before it stopped"
    except BaseException:
        done = f"{counts['accepted']} events stored by this ingest before it stopped"
    done += f" ({counts['duplicates']} duplicates, {counts['rejected']} rejected among the lines decided)"
    again = "ingesting the same files again completes it (stored events count as duplicates)"
    if isinstance(exc, KeyboardInterrupt):
        return _Stopped(f"{done}; {again}", EXIT_INTERRUPTED, "interrupted")
    if isinstance(exc, CorruptLog):
        return _Stopped(f"{exc.message} (the stored log is damaged); {done}", EXIT_VERIFY_FAILED)
    if isinstance(exc, SupernovaError):
        return _Stopped(f"{exc.message}; {done}; {again}", EXIT_USAGE)
    if isinstance(exc, OSError):
        _silence_stdout()
        what = "output closed (broken pipe)" if exc.errno == errno.EPIPE else (
            f"cannot write {exc.filename or 'output'}: {exc.strerror or exc}")
        return _Stopped(f"{what}; {done}; {again}", EXIT_OUTPUT)
    return exc


def _ingest_batch(
    ledger: Ledger, batch: list[tuple[int, bytes]], counts: dict[str, int], rejects: _Rejects | None, progress: Any
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
                rejects.write({"line": number, "id": outcome.id, "code": outcome.code, "message": outcome.message})
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


def _counting_reads(store: LogStore, bar: Progress | None, method: str = "read") -> LogStore:
    """``store``, its ``method`` (``read``: records; ``balance_items``: promoters' rows)
    counting what it yields on ``bar`` (``None``: unchanged)."""
    if bar is None:
        return store
    original = getattr(store, method)

    def counting(*args: Any) -> Iterator[Any]:
        return _counted(original(*args), bar)

    setattr(store, method, counting)  # an instance attribute over the method
    return store


def _open_reading(args: argparse.Namespace, stack: ExitStack, label: str, *, by_promoter: bool = False) -> Ledger:
    """The ledger at ``--store`` for a command that reads: a bar counts, on a terminal, the
    events folded (opening, ``--until``, explain and statement replays) or, ``by_promoter``,
    the promoters read from the per-promoter tables (a full statement)."""
    bar = _bar(args, stack, label, unit="promoters" if by_promoter else "events")
    method = "balance_items" if by_promoter else "read"
    store = _counting_reads(open_store(resolve_store_url(args.store), create=False), bar, method)
    try:
        ledger = Ledger(store)
    except BaseException:
        store.close()
        raise
    stack.enter_context(ledger)
    # The state is restored only when the command needs it; warn then.
    ledger.on_checkpoint_problem = lambda problem: print(
        f"{PROG}: warning: {printable(problem)}; replayed the log instead", file=sys.stderr
    )
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
        store = stack.enter_context(open_store(resolve_store_url(args.store), create=False))
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
    expect: list[ExpectedHead] = [parse_expected_head(text) for text in args.expect]
    key = checkpoint_key_from_env()
    with ExitStack() as stack:
        store = stack.enter_context(open_store(resolve_store_url(args.store), create=False))
        bar = _bar(args, stack, "verify", total=store.head()[0])
        result = verify(_counting_reads(store, bar), expect=expect, key=key)
    if args.format == "json":
        problem = None if result.ok else (
            result.problem if result.position is None else f"position {result.position}: {result.problem}")
        sys.stdout.buffer.write(canonical_json(
            {"ok": result.ok, "events": result.events, "log_head": result.log_head, "problem": problem}) + b"\n")
        sys.stdout.flush()
    else:
        out = sys.stdout if result.ok else sys.stderr
        out.write(printable(result.describe()) + "\n")
        out.flush()
    return EXIT_OK if result.ok else EXIT_VERIFY_FAILED


def _positive_batch(text: str) -> int:
    from .store.base import MAX_APPEND_BATCH

    if not text.isdigit() or not 1 <= int(text) <= MAX_APPEND_BATCH:
        raise argparse.ArgumentTypeError(f"must be 1–{MAX_APPEND_BATCH}, got {text!r}")
    return int(text)


def _migrate(args: argparse.Namespace) -> int:
    from .migrate import migrate

    source_url, target_url = resolve_store_url(args.store), args.to
    if source_url == target_url:
        raise _Usage("migrate: --to must name another store than --store")
    with open_store(source_url) as source, open_store(target_url) as target:
        try:
            result = migrate(source, target) if args.batch is None else migrate(source, target, batch=args.batch)
        except CorruptLog as exc:
            print(f"{PROG}: migrate FAILED: {exc.message}", file=sys.stderr)
            return EXIT_VERIFY_FAILED
    print(result.describe())
    return EXIT_OK


# -- explain, statement, rejections ------------------------------------------------


def _print_result(result: Any, output: str, table: str, csv_rows: Callable[[Any], Any]) -> int:
    """Print a typed result as JSON (its SPEC form), CSV rows, or the ``tables`` function named ``table``."""
    if output == "table":
        from . import tables

        sys.stdout.write(getattr(tables, table)(result))
    elif output == "csv":
        sys.stdout.buffer.write(_csv_bytes(csv_rows(result)))
    else:
        sys.stdout.buffer.write(result.to_json() + b"\n")
    sys.stdout.flush()
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        ledger = _open_reading(args, stack, "explain")
        explanation = ledger.explain(args.promoter, period=args.period, until=args.until)
    return _print_result(explanation, args.format, "render_explain", explain_csv_rows)


def _statement(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        every = args.until is None and args.promoter is None  # read from the tables, promoter by promoter
        ledger = _open_reading(args, stack, "statement", by_promoter=every)
        statement = ledger.statement(args.period, until=args.until, promoter=args.promoter)
    return _print_result(statement, args.format, "render_statement", statement_csv_rows)


def _rejections(args: argparse.Namespace) -> int:
    # The store, not a Ledger: the journal is read as stored, no fold of the log is needed.
    with open_store(resolve_store_url(args.store), create=False) as store:
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

    if args.rejects and args.rejects != "-":  # never the store, an input or a mapping file
        inputs = [*args.files, args.positions, *([args.categories] if args.categories else [])]
        _check_rejects_target(args.rejects, inputs, resolve_store_url(args.store))
    return ingest_jd(args, lambda namespace: _open(namespace, create=True))  # a writing command creates


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
