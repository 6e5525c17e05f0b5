"""``supernova-ledger ingest-jd`` and ``simulate --format jd-rows``, end to end on SQLite files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jd_helpers import POSITIONS, STRUCTURE, row

from supernova_ledger import Ledger
from supernova_ledger.cli import _COMMANDS, main
from supernova_ledger.domain.state import BALANCE_FIELDS


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'books.db'}"


def test_from_a_saved_api_response_to_a_statement(tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "programme.jsonl"
    events.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in STRUCTURE), encoding="utf-8")
    positions = tmp_path / "positions.csv"
    positions.write_text(POSITIONS, encoding="utf-8")
    bad = row("r-bad", estimateCosPrice="9.999")
    response = {"code": 200, "message": "success", "hasMore": False, "data": [
        row("r1"), row("r2", orderId=3002, positionId=555), bad,
        row("r3", orderId=3003, validCode=17, finishTime="2026-11-04 10:00:00", modifyTime="2026-11-04 10:00:00",
            actualCosPrice="99.90", estimateCosPrice=99.90),
    ]}
    saved = tmp_path / "response.json"
    saved.write_text(json.dumps(response, ensure_ascii=False, indent=2), encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"

    assert run(["ingest", str(events), "--store", store], capsys)[0] == 0
    code, out, _ = run(["ingest-jd", str(saved), "--positions", str(positions), "--store", store,
                        "--rejects", str(rejects)], capsys)
    summary = json.loads(out)
    assert code == 3
    assert {k: summary[k] for k in ("rows", "malformed", "unmapped", "applied", "accepted", "rejected")} == {
        "rows": 3, "malformed": 1, "unmapped": 1, "applied": 2, "accepted": 3, "rejected": 0}
    assert summary["unmapped_positions"] == {"positionId=555": 1}
    problems = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert sorted((p["row_id"], p["code"]) for p in problems) == [("r-bad", "jd_invalid_row"),
                                                                  ("r2", "jd_unmapped_position")]
    # the same response again: nothing new, still exit 3 for the rows it cannot apply
    code, out, _ = run(["ingest-jd", str(saved), "--positions", str(positions), "--store", store], capsys)
    assert (code, json.loads(out)["accepted"], json.loads(out)["redelivered"]) == (3, 0, 2)

    code, out, _ = run(["report", "--store", store], capsys)
    report = json.loads(out)
    assert report["promoters"]["B"]["level1_fen"] == 999 * 2 and report["groups"]["g1"]["orders"] == 2
    if "statement" in _COMMANDS:
        code, out, _ = run(["statement", "--period", "2026-11", "--store", store], capsys)
        assert code == 0 and json.loads(out)["promoters"]["B"]["earned_l1_fen"] == 1998


@pytest.mark.parametrize(("args", "says"), [
    (["ingest-jd", "rows.json"], "--positions"),
    (["ingest-jd", "missing.json", "--positions", "positions.csv"], "cannot read missing.json"),
    (["ingest-jd", "rows.json", "--positions", "bad.csv"], "promoter_id"),
    (["ingest-jd", "rows.json", "--positions", "nothere.csv"], "cannot read"),
    (["simulate", "--format", "jd-rows"], "--out DIR"),
])
def test_usage_errors_exit_2_and_write_nothing(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    args: list[str], says: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rows.json").write_text(json.dumps({"data": [row("r1")], "hasMore": False}), encoding="utf-8")
    (tmp_path / "positions.csv").write_text(POSITIONS, encoding="utf-8")
    (tmp_path / "bad.csv").write_text("position_id\n1\n", encoding="utf-8")
    code, out, err = run([*args, "--store", store] if args[0] != "simulate" else args, capsys)
    assert (code, out) == (2, "")
    assert says in err
    assert not (tmp_path / "books.db").exists()


def test_simulate_jd_rows_fed_step_by_step_gives_the_simulators_balances(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "feed"
    code, printed, _ = run(["simulate", "--format", "jd-rows", "--seed", "5", "--promoters", "8", "--days", "8",
                            "--out", str(out)], capsys)
    assert code == 0 and json.loads(printed)["steps"] > 10
    jd, reference = f"sqlite:///{tmp_path / 'jd.db'}", f"sqlite:///{tmp_path / 'ref.db'}"
    for step in sorted((out / "feed").iterdir()):
        if step.name.endswith("-events.jsonl"):
            # exit 3 where the simulator sends deliberate bad input (a payout under the minimum, …)
            assert run(["ingest", "--quiet", str(step), "--store", jd], capsys)[0] in (0, 3)
        else:
            assert run(["ingest-jd", str(step), "--positions", str(out / "positions.csv"),
                        "--categories", str(out / "categories.csv"), "--store", jd], capsys)[0] == 0, step
    run(["ingest", "--quiet", str(out / "reference.jsonl"), "--store", reference], capsys)
    with Ledger.open(jd) as a, Ledger.open(reference) as b:
        got, want = a.report(), b.report()
    assert {p: {f: v[f] for f in BALANCE_FIELDS} for p, v in got["promoters"].items()} == {
        p: {f: v[f] for f in BALANCE_FIELDS} for p, v in want["promoters"].items()}
    assert got["tiers"] == want["tiers"]
    code, _, err = run(["simulate", "--format", "jd-rows", "--out", str(out)], capsys)
    assert code == 2 and "new or empty directory" in err
