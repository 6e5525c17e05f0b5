"""The pure domain: decide and apply events, project reports. No I/O."""

from .book import GENESIS_HEAD, Book, Outcome, chain
from .codes import Code
from .report import REPORT_FORMAT, build_report, check_period, with_digest

__all__ = [
    "GENESIS_HEAD",
    "Book",
    "Outcome",
    "chain",
    "Code",
    "REPORT_FORMAT",
    "build_report",
    "check_period",
    "with_digest",
]
