"""Fuzzing ``ingest`` and ``Ledger.append`` on every store (issue 10).

Random bytes, random JSON and mutated valid events go in; whatever comes, no
exception escapes, every line (every item) gets exactly one outcome, every
rejection is journalled once, and the store verifies afterwards.
"""

from __future__ import annotations

import datetime
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supernova_ledger import Ledger
from supernova_ledger.audit import verify
from supernova_ledger.cli import main
from supernova_ledger.events import EVENT_TYPES
from supernova_ledger.store import open_store

EXAMPLE = Path(__file__).parents[1] / "golden" / "spec_example.jsonl"
VALID = [json.loads(line) for line in EXAMPLE.read_bytes().splitlines()]
TYPES = [cls.__name__ for cls in EVENT_TYPES]
FIELDS = sorted({key for event in VALID for key in event} | {"promoter_id", "owner_id", "period", "reason"})

fuzz_settings = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                         deadline=None)

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    st.sampled_from(["A", "B", "g1", "o1", "s1", "po1", "2026-11-01T09:00:00+08:00", "2026-13-01", "e1", "daily",
                     "\ud800", "\x1b]0;x\x07", "e" * 129]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def random_event(draw: st.DrawFn) -> dict[str, Any]:
    """An object that looks like an event: a real type, fields from real events, random values."""
    event = {"type": draw(st.sampled_from(TYPES)), "id": draw(st.text(min_size=1, max_size=8))}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=6)):
        event[name] = draw(json_values)
    return event


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with one field dropped, replaced, or added, or its type swapped."""
    event = dict(draw(st.sampled_from(VALID)))
    how = draw(st.sampled_from(["drop", "replace", "add", "type", "id", "none"]))
    key = draw(st.sampled_from(sorted(event)))
    if how == "drop":
        del event[key]
    elif how == "replace":
        event[key] = draw(json_values)
    elif how == "add":
        event[draw(st.sampled_from(FIELDS))] = draw(json_values)
    elif how == "type":
        event["type"] = draw(st.sampled_from(TYPES))
    elif how == "id":
        event["id"] = draw(st.text(min_size=1, max_size=6))
    return event


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


@st.composite
def flipped(draw: st.DrawFn) -> bytes:
    """A valid line with one byte changed (never to a newline)."""
    line = bytearray(_dumps(draw(st.sampled_from(VALID))))
    index = draw(st.integers(0, len(line) - 1))
    line[index] = draw(st.integers(0, 255).filter(lambda b: b != 0x0A))
    return bytes(line)


lines = st.one_of(
    st.binary(max_size=120).map(lambda b: b.replace(b"\n", b" ")),
    json_values.map(_dumps),
    random_event().map(_dumps),
    mutated().map(_dumps),
    flipped(),
    st.sampled_from(VALID).map(_dumps),
)

#: What an embedding application might hand ``Ledger.append``: also non-JSON Python values.
python_values = st.one_of(
    st.binary(max_size=4), st.uuids(), st.dates(), st.just(datetime.datetime(2026, 11, 1)), st.sets(st.integers(), max_size=2),
)


@st.composite
def api_items(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["line", "text", "dict", "python", "valid"]))
    if kind == "line":
        return draw(lines)
    if kind == "text":
        return draw(st.one_of(st.text(max_size=80), json_values.map(lambda v: json.dumps(v, ensure_ascii=True))))
    if kind == "dict":
        return draw(st.one_of(random_event(), mutated()))
    if kind == "python":
        event = dict(draw(st.sampled_from(VALID)))
        event[draw(st.sampled_from(sorted(event)))] = draw(python_values)
        return event
    return dict(draw(st.sampled_from(VALID)))


def _journal_size(url: str) -> int:
    with open_store(url) as store:
        return sum(1 for _ in store.journal())


def _assert_verifies(url: str, events: int) -> None:
    with open_store(url) as store:
        result = verify(store)
        assert result.ok, result.describe()
        assert result.events == events == store.head()[0]


@fuzz_settings
@given(batch=st.lists(api_items(), min_size=1, max_size=25))
def test_append_gives_one_outcome_per_item_and_the_store_verifies(store_url: str, batch: list[Any]) -> None:
    journalled = _journal_size(store_url)
    with Ledger.open(store_url) as ledger:
        before = ledger.position
        outcomes = ledger.append_batch(batch)
        one = ledger.append(batch[0])
        after = ledger.position
    assert len(outcomes) == len(batch)
    assert all(o.status in ("accepted", "duplicate", "rejected") for o in [*outcomes, one])
    accepted = sum(o.status == "accepted" for o in outcomes)
    assert after - before == accepted + (one.status == "accepted")
    rejected = sum(o.status == "rejected" for o in [*outcomes, one])
    assert all(o.code for o in [*outcomes, one] if o.status == "rejected")
    assert _journal_size(store_url) - journalled == rejected
    _assert_verifies(store_url, after)


@fuzz_settings
@given(body=st.lists(lines, min_size=1, max_size=25))
def test_ingest_gives_one_outcome_per_line_and_the_store_verifies(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], body: list[bytes]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(body) + b"\n")
    rejects = tmp_path / f"r-{uuid.uuid4().hex}.jsonl"
    journalled = _journal_size(store_url)
    with open_store(store_url) as store:
        before = store.head()[0]
    code = main(["ingest", str(source), "--store", store_url, "--rejects", str(rejects), "--quiet"])
    out, err = capsys.readouterr()
    assert code in (0, 3), err
    counts = json.loads(out)
    numbered = [n for n, line in enumerate(body, start=1)
                if (line[3:] if n == 1 and line.startswith(b"\xef\xbb\xbf") else line).strip(b" \t\r\n")]
    assert counts["accepted"] + counts["duplicates"] + counts["rejected"] == len(numbered)
    rows = [json.loads(row) for row in rejects.read_bytes().splitlines()]
    assert len(rows) == counts["rejected"] == len({row["line"] for row in rows})
    assert {row["line"] for row in rows} <= set(numbered)
    assert (code == 3) == (counts["rejected"] > 0)
    assert _journal_size(store_url) - journalled == counts["rejected"]
    _assert_verifies(store_url, before + counts["accepted"])
