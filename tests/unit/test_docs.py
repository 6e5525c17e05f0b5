"""The docs are real: example lines decode and ingest, every code is documented,
links resolve inside the repository, and the worked examples of docs/spec.md
reproduce their published hashes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from supernova_ledger import Ledger
from supernova_ledger.domain.codes import Code
from supernova_ledger.events import EVENT_TYPES, canonical_json, decode_event

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
SPEC = DOCS / "spec.md"
KNOWN_TYPES = {cls.__name__ for cls in EVENT_TYPES}


def _json_lines(name: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith("{")]


def _type(line: str) -> str:
    value = json.loads(line)["type"]
    assert isinstance(value, str)
    return value


def test_every_event_type_has_a_decoding_example() -> None:
    lines = _json_lines("events.md")
    assert len(KNOWN_TYPES) == 18
    assert {_type(line) for line in lines} == KNOWN_TYPES
    assert {type(decode_event(line)).__name__ for line in lines} == KNOWN_TYPES


def test_events_md_examples_are_one_log_that_ingests_without_rejection() -> None:
    lines = _json_lines("events.md")
    ids = [json.loads(line)["id"] for line in lines]
    assert len(ids) == len(set(ids)), "example ids must be unique"
    with Ledger.open("memory:") as ledger:
        outcomes = ledger.append_batch(lines)
        assert [(o.id, o.status, o.code) for o in outcomes] == [
            (json.loads(line)["id"], "accepted", None) for line in lines
        ]
        assert list(ledger.rejections()) == []
        assert ledger.statement("2026-11")["closed"] is True
        assert ledger.balance("B") == {
            "pending_fen": 0, "available_fen": -404, "in_payout_fen": 0,
            "paid_out_fen": 1500, "level1_fen": 1096, "level2_fen": 0,
        }


def test_rules_example_decodes() -> None:
    (line,) = _json_lines("rules.md")
    assert decode_event(line).rules["binding_days"] == 7


# -- docs/spec.md is complete ---------------------------------------------------


def test_every_rejection_code_is_in_the_spec() -> None:
    spec = SPEC.read_text(encoding="utf-8")
    missing = [code.value for code in Code if f"`{code.value}`" not in spec]
    assert missing == []
    # The table of spec §3.19 lists exactly the codes of the enum.
    table = spec[spec.index('<a id="codes"></a>'):spec.index('<a id="s4"></a>')]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.M))
    assert documented == {code.value for code in Code}
    assert {"period_already_closed", "period_not_ended"} <= documented


def test_every_event_type_and_rule_is_in_the_spec() -> None:
    from supernova_ledger.rules import Rules

    spec = SPEC.read_text(encoding="utf-8")
    for name in KNOWN_TYPES:
        assert f'<a id="e-{name.lower()}"></a>' in spec, name
    for rule in Rules.model_fields:
        assert f"| `{rule}` |" in spec, rule


# -- links ---------------------------------------------------------------------

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _without_code(text: str) -> str:
    """Markdown without fenced blocks and inline code (``[.f](Z)`` there is not a link)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def _anchors(path: Path) -> set[str]:
    """Explicit ``<a id>`` anchors and GitHub-style heading slugs of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', text))
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.name)
def test_relative_links_resolve_inside_the_repository(path: Path) -> None:
    text = _without_code(path.read_text(encoding="utf-8"))
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        assert resolved.is_relative_to(ROOT), f"{path.name}: {target} points outside the repository"
        assert resolved.exists(), f"{path.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{path.name}: {target}: no such anchor"


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.name)
def test_docs_do_not_refer_outside_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for outside in ("../shared", "/work/shared", "SPEC.md"):
        assert outside not in text, f"{path.name} mentions {outside}"


# -- the worked examples of spec §10 reproduce their test vectors ---------------


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start):text.index(end)]


def _text_block_lines(section: str) -> list[str]:
    (block,) = re.findall(r"```text\n(.*?)```", section, flags=re.S)[:1]
    return [line.strip() for line in block.splitlines() if line.strip().startswith("{")]


def _vector(section: str, what: str) -> str:
    match = re.search(rf"^\| {re.escape(what)} \| `([^`]+)` \|$", section, flags=re.M)
    assert match, what
    return match.group(1)


def test_spec_worked_example_v1_gives_its_test_vectors() -> None:
    spec = SPEC.read_text(encoding="utf-8")
    section = _section(spec, '<a id="s10"></a>', '<a id="s10-1"></a>')
    lines = _text_block_lines(section)
    assert len(lines) == 13
    assert lines == (ROOT / "tests" / "golden" / "spec_example.jsonl").read_text(encoding="utf-8").splitlines()
    assert _canonical(lines[6]).decode() == _vector(section, "canonical form of line 7")
    with Ledger.open("memory:") as ledger:
        outcomes = ledger.append_batch(lines)
        assert [o.code for o in outcomes if o.status == "rejected"] == ["below_minimum_payout"]
        assert ledger.report(until=2)["log_head"] == _vector(section, "head after the first 2 events")
        report = ledger.report()
    assert report["log_head"] == _vector(section, "final `log_head` (12 events)")
    assert report["digest"] == _vector(section, "report `digest`")


def _canonical(line: str) -> bytes:
    from supernova_ledger.events import canonical

    return canonical(decode_event(line))


def test_spec_worked_example_v2_gives_its_outputs_byte_for_byte() -> None:
    spec = SPEC.read_text(encoding="utf-8")
    v1_lines = _text_block_lines(_section(spec, '<a id="s10"></a>', '<a id="s10-1"></a>'))
    section = _section(spec, '<a id="s10-1"></a>', '<a id="appendix"></a>')
    lines = v1_lines + _text_block_lines(section)
    assert lines == (ROOT / "tests" / "golden" / "spec_example_v2.jsonl").read_text(encoding="utf-8").splitlines()
    assert _canonical(lines[13]).decode() == _vector(section, "canonical form of line 14")
    appendix = spec[spec.index('<a id="appendix"></a>'):]
    printed = [line for line in re.findall(r"```text\n(.*?)\n```", appendix, flags=re.S)]
    assert len(printed) == 4
    with Ledger.open("memory:") as ledger:
        outcomes = ledger.append_batch(lines)
        assert [o.code for o in outcomes if o.status == "rejected"] == [
            "below_minimum_payout", "period_already_closed", "period_not_ended",
        ]
        outputs = [ledger.report(), ledger.explain("B"), ledger.statement("2026-11"), ledger.statement("2026-12")]
    as_json = [canonical_json(o.to_dict() if hasattr(o, "to_dict") else o).decode() for o in outputs]
    assert as_json == printed
    assert json.loads(printed[0])["log_head"] == _vector(section, "`log_head` (14 events)")
    for text, what in zip(
        printed,
        ("report `digest`", "`explain B` digest", "`statement --period 2026-11` digest",
         "`statement --period 2026-12` digest"),
        strict=True,
    ):
        assert json.loads(text)["digest"] == _vector(section, what)


def test_spec_journal_and_rejects_examples_are_what_the_ledger_records() -> None:
    from supernova_ledger.store.base import encode_journal_entry

    spec = SPEC.read_text(encoding="utf-8")
    (journal_line,) = _text_block_lines(_section(spec, '<a id="s2-1"></a>', '<a id="s3"></a>'))
    (rejects_line,) = _text_block_lines(_section(spec, '<a id="s9-1"></a>', '<a id="s9-2"></a>'))
    lines = (ROOT / "tests" / "golden" / "spec_example.jsonl").read_text(encoding="utf-8").splitlines()
    with Ledger.open("memory:") as ledger:
        (refused,) = [o for o in ledger.append_batch(lines) if o.status == "rejected"]
        (entry,) = list(ledger.rejections())
    assert encode_journal_entry(entry).decode() == journal_line
    assert canonical_json(
        {"line": 13, "id": refused.id, "code": refused.code, "message": refused.message}
    ).decode() == rejects_line
