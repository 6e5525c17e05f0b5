"""docs/jd_union.md's walk-through is real: run it and compare with what the page shows."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from supernova_ledger.cli import main

DOCS = Path(__file__).parents[2] / "docs"
EXAMPLE = DOCS / "examples" / "jd_union"


def test_the_walk_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    page = (DOCS / "jd_union.md").read_text(encoding="utf-8")
    shown = [json.loads(line) for line in page.splitlines() if line.startswith('{"accepted"')]
    (digest,) = re.findall(r"^digest   ([0-9a-f]{64})$", page, flags=re.M)
    for name in ("programme.jsonl", "positions.csv", "categories.csv", "response-2026-11-02.json",
                 "response-2026-11-20.json", "settlement.jsonl"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SUPERNOVA_STORE", f"sqlite:///{tmp_path / 'books.db'}")
    mapping = ["--positions", "positions.csv", "--categories", "categories.csv"]
    outputs = []
    for args, code in [
        (["ingest", "programme.jsonl"], 0),
        (["ingest-jd", "response-2026-11-02.json", *mapping, "--rejects", "problems.jsonl"], 3),
        (["ingest-jd", "response-2026-11-20.json", "response-2026-11-02.json", *mapping], 3),
        (["ingest", "settlement.jsonl"], 0),
    ]:
        assert main(args) == code, args
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs == shown
    assert main(["statement", "--period", "2026-11"]) == 0
    assert json.loads(capsys.readouterr().out)["digest"] == digest
    problems = (tmp_path / "problems.jsonl").read_text(encoding="utf-8")
    assert problems in page
