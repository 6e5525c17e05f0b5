"""Golden logs: small readable JSONL files whose figures were worked out by hand from SPEC.

Each ``NAME.jsonl`` has a ``NAME.expected.json`` holding the rejections
(line, id, code) and, for some report options, the figures expected — a
subset of the report, compared key by key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from supernova_ledger import Ledger

HERE = Path(__file__).parent
CASES = sorted(path.name.removesuffix(".jsonl") for path in HERE.glob("*.jsonl"))


def _ingest(ledger: Ledger, path: Path) -> list[dict[str, Any]]:
    numbered = [(n, line) for n, line in enumerate(path.read_bytes().split(b"\n"), start=1) if line.strip()]
    outcomes = ledger.append_batch([line for _, line in numbered])
    return [
        {"line": n, "id": o.id, "code": o.code}
        for (n, _), o in zip(numbered, outcomes, strict=True)
        if o.status == "rejected"
    ]


def _assert_subset(expected: Any, actual: Any, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}.{key}: missing"
            _assert_subset(value, actual[key], f"{where}.{key}")
    else:
        assert actual == expected, f"{where}: expected {expected!r}, got {actual!r}"


def test_cases_exist() -> None:
    assert len(CASES) >= 5


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    spec = json.loads((HERE / f"{name}.expected.json").read_text(encoding="utf-8"))
    with Ledger.open("memory:") as ledger:
        assert _ingest(ledger, HERE / f"{name}.jsonl") == spec["rejections"]
        for case in spec["reports"]:
            report = ledger.report(**case["options"]).to_dict()
            _assert_subset(case["expect"], report, f"report{case['options']}")
