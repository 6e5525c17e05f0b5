"""CSV for finance: the report's tables, statements, explanations, the rejection journal.

RFC 4180: comma-separated, fields quoted when they hold a comma, quote or
line break, CRLF line ends, UTF-8 (no byte order mark), one header row.
Amounts are integer fen in columns named ``*_fen`` (never yuan, never
floats); booleans are ``true``/``false`` and a JSON ``null`` an empty field.
Each function returns the rows (header first) of one JSON result, so a
test can read the CSV back and compare it with the JSON, cell by cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from .domain.accounts import MOVEMENT_KEYS
from .domain.postings import POSTING_KEYS
from .domain.state import BALANCE_FIELDS
from .results import Result

__all__ = [
    "REPORT_TABLES",
    "JOURNAL_COLUMNS",
    "report_csv_rows",
    "statement_csv_rows",
    "explain_csv_rows",
    "journal_csv_rows",
    "cell",
    "write_csv",
    "csv_text",
]

#: The report's tables, each with its key column and the JSON keys after it.
REPORT_TABLES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "promoters": ("promoter_id", ("program", "inviter_id", "qualified", "suspended", "invitees", *BALANCE_FIELDS)),
    "groups": ("group_id", ("owner_id", "open", "city_tier", "members", "pushes", "orders", "buyers",
                            "gross_fen", "refunded_fen", "net_fen")),
    "tiers": ("tier", ("groups", "net_fen")),
    "ranking": ("rank", ("promoter_id", "net_gmv_fen", "orders")),
}
#: The columns of ``rejections --format csv``, in the order of SPEC §2.1.
JOURNAL_COLUMNS: Final = ("position", "id", "type", "code", "message", "promoter_id", "group_id", "order_id",
                          "payout_id")

Row = list[str | int]
#: A typed result or its JSON as a dict.
Data = Mapping[str, Any] | Result


def cell(value: Any) -> str | int:
    """One JSON scalar as a CSV field: ints stay ints, booleans ``true``/``false``, null empty."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return value
    return str(value)


def report_csv_rows(report: Data, table: str) -> list[Row]:
    """One table of a SPEC §8 report (``promoters``, ``groups``, ``tiers`` or ``ranking``)."""
    key, columns = REPORT_TABLES[table]
    rows: list[Row] = [[key, *columns]]
    if table == "ranking":
        rows += [[cell(entry[key]), *(cell(entry[c]) for c in columns)] for entry in report["ranking"]]
    else:
        items = report[table].items()
        ordered = sorted(items, key=lambda item: int(item[0])) if table == "tiers" else sorted(items)
        rows += [[cell(name), *(cell(figures[c]) for c in columns)] for name, figures in ordered]
    return rows


def statement_csv_rows(statement: Data) -> list[Row]:
    """A statement (SPEC §8.3): one row per promoter, the JSON's columns flattened; no totals row
    (sum the columns, or read ``totals`` from the JSON)."""
    header: Row = ["promoter_id", *(f"opening_{b}" for b in BALANCE_FIELDS), *MOVEMENT_KEYS,
                   *(f"closing_{b}" for b in BALANCE_FIELDS)]
    rows: list[Row] = [header]
    for promoter_id, account in sorted(statement["promoters"].items()):
        rows.append([promoter_id, *(account["opening"][b] for b in BALANCE_FIELDS),
                     *(account[k] for k in MOVEMENT_KEYS), *(account["closing"][b] for b in BALANCE_FIELDS)])
    return rows


def explain_csv_rows(explanation: Data) -> list[Row]:
    """An explanation (SPEC §8.2): one row per posting, the §6.1 keys as columns, in log order."""
    rows: list[Row] = [list(POSTING_KEYS)]
    rows += [[cell(posting[k]) for k in POSTING_KEYS] for posting in explanation["postings"]]
    return rows


def journal_csv_rows(entries: Iterable[Mapping[str, Any]]) -> Iterable[Row]:
    """Rejection-journal entries (SPEC §2.1 JSON objects), oldest first: a header, then a row each."""
    yield list(JOURNAL_COLUMNS)
    for entry in entries:
        yield [cell(entry[c]) for c in JOURNAL_COLUMNS]


def write_csv(rows: Iterable[Sequence[str | int]], stream: io.TextIOBase | Any) -> None:
    """Write ``rows`` to a text stream opened with ``newline=""`` (RFC 4180: CRLF, minimal quoting)."""
    writer = csv.writer(stream, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)


def csv_text(rows: Iterable[Sequence[str | int]]) -> str:
    """``rows`` as RFC 4180 text."""
    out = io.StringIO(newline="")
    write_csv(rows, out)
    return out.getvalue()
