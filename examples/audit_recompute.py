"""Recompute a supernova ledger's log_head and report digest, standard library only.

An auditor needs nothing from the ledger's authors to check these two
figures: this file is the whole method (SPEC §7, §8).

    supernova-ledger export --store URL > log.jsonl
    supernova-ledger report --store URL > report.json
    python audit_recompute.py log.jsonl report.json

For each line of the exported log (canonical JSON, one event a line):

1. it must be in canonical form: keys sorted by code point, no whitespace,
   non-ASCII unescaped, integers as integers (re-encoding it gives the same
   bytes);
2. the hash chain: h0 = "0" * 64; h_i = sha256_hex(h_{i-1} + "\\n" + line_i).

The head after the report's ``events`` lines must equal its ``log_head``
(a report made with ``--until N`` covers the first N events); the report's
``digest`` must equal sha256_hex of the canonical JSON of the report without
its ``digest`` key.

Exit 0 when everything matches, 1 when something does not (saying what),
2 when a file cannot be read.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

GENESIS = "0" * 64


def canonical(value: Any) -> bytes:
    """Canonical JSON (SPEC §7): sorted keys, no whitespace, UTF-8, non-ASCII unescaped."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _reject_floats(text: str) -> Any:
    raise ValueError(f"{text} is not an integer: money and counts are integers")


def parse(line: bytes) -> Any:
    return json.loads(line, parse_float=_reject_floats, parse_constant=_reject_floats)


def chain(lines: list[bytes], count: int) -> str:
    """The log head after the first ``count`` lines."""
    head = GENESIS
    for line in lines[:count]:
        head = hashlib.sha256(head.encode("ascii") + b"\n" + line).hexdigest()
    return head


def report_digest(report: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in report.items() if k != "digest"})).hexdigest()


def audit(log_bytes: bytes, report: dict[str, Any]) -> list[str]:
    """Problems found (none when the log and the report agree)."""
    lines = [line for line in log_bytes.split(b"\n") if line]
    problems = []
    for number, line in enumerate(lines, 1):
        try:
            event = parse(line)
        except ValueError as exc:
            problems.append(f"log line {number}: not valid JSON ({exc})")
            continue
        if canonical(event) != line:
            problems.append(f"log line {number}: not in canonical form")
    count = report.get("events")
    if not isinstance(count, int) or not 0 <= count <= len(lines):
        problems.append(f"report covers {count!r} events but the log has {len(lines)}")
        return problems
    head = chain(lines, count)
    if head != report.get("log_head"):
        problems.append(f"log_head: recomputed {head}, report says {report.get('log_head')}")
    digest = report_digest(report)
    if digest != report.get("digest"):
        problems.append(f"digest: recomputed {digest}, report says {report.get('digest')}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: audit_recompute.py LOG.jsonl REPORT.json", file=sys.stderr)
        return 2
    try:
        with open(argv[0], "rb") as log_file:
            log_bytes = log_file.read()
        with open(argv[1], "rb") as report_file:
            report = parse(report_file.read())
    except (OSError, ValueError) as exc:
        print(f"audit_recompute: cannot read: {exc}", file=sys.stderr)
        return 2
    problems = audit(log_bytes, report)
    lines = [line for line in log_bytes.split(b"\n") if line]
    count = report.get("events")
    print(f"log lines  {len(lines)}")
    print(f"events     {count}")
    if isinstance(count, int) and 0 <= count <= len(lines):
        print(f"log_head   {chain(lines, count)}")
    print(f"digest     {report_digest(report)}")
    for problem in problems:
        print(f"MISMATCH   {problem}")
    print("OK: the log and the report agree" if not problems else "FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
