"""The examples in the docs are real: every example line decodes."""

from __future__ import annotations

import re
from pathlib import Path

from supernova_ledger.events import EVENT_TYPES, decode_event

DOCS = Path(__file__).parents[2] / "docs"


def _json_lines(name: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith("{")]


def test_every_event_type_has_a_decoding_example() -> None:
    lines = _json_lines("events.md")
    types = {type(decode_event(line)).__name__ for line in lines}
    assert types == {cls.__name__ for cls in EVENT_TYPES}


def test_rules_example_decodes() -> None:
    (line,) = _json_lines("rules.md")
    assert decode_event(line).rules["binding_days"] == 7
