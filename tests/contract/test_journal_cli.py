"""The version-2 commands on every store: explain, statement and rejections print the
SPEC §10.1 vectors from a store the CLI ingested into, and reopen to the same answers."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest

from supernova_ledger.cli import main

V2 = Path(__file__).parents[1] / "golden" / "spec_example_v2.jsonl"
VECTORS = {
    ("explain", "B"): "2cc65ca0c17eb8b7e6e090bbd7d68e9529024b9d10247fa9c0756cfbf8a8c798",
    ("statement", "--period", "2026-11"): "a4f0f260710d17dc59e8f467cbf7cb8ff33fba627e6c45581df2a061905c0c07",
    ("statement", "--period", "2026-12"): "5b215ef3f075ea63f5ae3a57bd039a764fbc2dd32f5c993547bef87ac2b11b82",
    ("report",): "d2d96cd9ae0ca7c8e3e59d8c12c8159932b78acd9ceb1bb76eb6e4fd947910d4",
}


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ingested(store_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    code, out, _ = run(["ingest", "--store", store_url, str(V2)], capsys)
    assert (code, json.loads(out)) == (3, {"accepted": 14, "duplicates": 0, "rejected": 3})
    return store_url


def test_vectors_through_the_cli(ingested: str, capsys: pytest.CaptureFixture[str]) -> None:
    for args, digest in VECTORS.items():
        code, out, err = run([*args, "--store", ingested], capsys)
        assert (code, err) == (0, ""), args
        body = json.loads(out)
        assert body["digest"] == digest, args
        # the printed line is canonical JSON, and the digest covers it without the digest key
        assert hashlib.sha256(
            json.dumps({k: v for k, v in body.items() if k != "digest"}, sort_keys=True, separators=(",", ":"),
                       ensure_ascii=False).encode()
        ).hexdigest() == digest


def test_rejections_lines_and_filters(ingested: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["rejections", "--store", ingested], capsys)
    entries = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(e["position"], e["id"], e["type"], e["code"], e["promoter_id"], e["payout_id"]) for e in entries] == [
        (12, "e12", "PayoutRequested", "below_minimum_payout", "A", "po2"),
        (14, "e15", "PeriodClosed", "period_already_closed", None, None),
        (14, "e16", "PeriodClosed", "period_not_ended", None, None),
    ]
    assert all(set(e) == {"position", "id", "type", "code", "message", "promoter_id", "group_id", "order_id",
                          "payout_id"} for e in entries)
    _, out, _ = run(["rejections", "--store", ingested, "--promoter", "A"], capsys)
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["e12"]
    _, out, _ = run(["rejections", "--store", ingested, "--code", "period_not_ended"], capsys)
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["e16"]
    _, out, _ = run(["rejections", "--store", ingested, "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(int(r["position"]), r["id"], r["code"], r["message"]) for r in rows] == [
        (e["position"], e["id"], e["code"], e["message"]) for e in entries
    ]
    assert rows[1]["promoter_id"] == ""  # null is an empty field


def test_statement_csv_matches_the_json(ingested: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["statement", "--store", ingested, "--period", "2026-12"], capsys)
    statement = json.loads(out)
    _, out, _ = run(["statement", "--store", ingested, "--period", "2026-12", "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["promoter_id"] for r in rows] == sorted(statement["promoters"])
    for row in rows:
        account = statement["promoters"][row["promoter_id"]]
        for key, value in row.items():
            if key.startswith(("opening_", "closing_")):
                part, name = key.split("_", 1)
                assert int(value) == account[part][name], key
            elif key != "promoter_id":
                assert int(value) == account[key], key


def test_usage_errors_exit_2(ingested: str, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["explain", "Z"], ["explain", "B", "--period", "2026-11-01"], ["statement", "--period", "2026-13"],
                 ["statement", "--period", "2026-11-01"], ["explain", "B", "--until", "1"]):
        code, out, err = run([*args, "--store", ingested], capsys)
        assert (code, out) == (2, ""), args
        assert err.startswith("supernova-ledger: error: ") and err.count("\n") == 1, err
