"""Conformance: the real CLI against the independent oracle (reference.py).

Size: SUPERNOVA_CONFORMANCE_EVENTS = "N" (events per seed) or "SxN" (S seeds
of N events).  Default 3x400; under CI=true 5x3000.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import reference as R
from .generator import generate

EXAMPLE = Path(__file__).parents[3] / "shared" / "example.jsonl"


def _size() -> tuple[int, int]:
    default = "5x3000" if os.environ.get("CI", "").lower() == "true" else "3x400"
    text = os.environ.get("SUPERNOVA_CONFORMANCE_EVENTS", default).lower()
    seeds, _, events = text.rpartition("x")
    return int(seeds or (5 if default.startswith("5") else 3)), int(events)


N_SEEDS, N_EVENTS = _size()
SEEDS = [1000 + i for i in range(N_SEEDS)]


# --------------------------------------------------------------------------
# 1. the oracle reproduces SPEC §10
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def example_lines() -> list[str]:
    if not EXAMPLE.exists():
        pytest.skip(f"SPEC worked example not found at {EXAMPLE} (shared/ must sit beside the repo)")
    return EXAMPLE.read_text(encoding="utf-8").split("\n")


def test_oracle_reproduces_worked_example(example_lines):
    accepted, rejections = R.run(example_lines)
    texts = [R.canonical_json(e).decode("utf-8") for e in accepted]
    assert len(texts) == 12
    assert rejections == [{"line": 13, "id": "e12", "code": "below_minimum_payout"}]
    assert texts[6] == (
        '{"at":"2026-11-01T12:15:00Z","customer_id":"c1","group_id":"g1","id":"e6",'
        '"lines":[{"category":"daily","paid_fen":9990,"quantity":2,"sku":"s1"},'
        '{"category":"appliance","paid_fen":19900,"quantity":1,"sku":"s2"}],'
        '"order_id":"o1","promoter_id":null,"type":"OrderPlaced"}')
    assert R.report(texts, until=2)["log_head"] == \
        "b57ceb62c751f7d17677ce337f4db7e40c1973f8ed6e640759b38e054b8327fd"
    rep = R.report(texts)
    assert rep["events"] == 12
    assert rep["log_head"] == "533004cce5c2746a24ca195f00b10f94b1ea568fc7699cd51ebeaadc2394c948"
    assert rep["digest"] == "363493d66ddbf3e8886947d20da52f84d8451c2bc2cf622193c6cbeb42b615de"
    b, a = rep["promoters"]["B"], rep["promoters"]["A"]
    assert (b["pending_fen"], b["available_fen"], b["in_payout_fen"], b["paid_out_fen"],
            b["level1_fen"], b["level2_fen"]) == (0, -404, 0, 1500, 1096, 0)
    assert (a["available_fen"], a["level2_fen"]) == (198, 198)
    g1 = rep["groups"]["g1"]
    assert (g1["gross_fen"], g1["refunded_fen"], g1["net_fen"], g1["orders"], g1["buyers"],
            g1["members"]) == (29890, 4995, 24895, 1, 1, 1)
    assert rep["tiers"]["4"]["net_fen"] == 24895
    assert rep["ranking"] == [{"rank": 1, "promoter_id": "B", "net_gmv_fen": 24895, "orders": 1}]


def test_generator_is_deterministic_and_covers_every_code():
    lines = generate(7, 3000)
    assert lines == generate(7, 3000)
    _, rejections, counts = R.run_detailed(lines)
    codes = {r["code"] for r in rejections}
    expected = {
        "invalid_event", "invalid_rules", "duplicate_event_id", "duplicate_promoter",
        "unknown_promoter", "promoter_suspended", "promoter_not_qualified",
        "group_limit_exceeded", "duplicate_group", "unknown_group", "group_closed",
        "already_member", "not_invited", "group_full", "not_member", "push_quota_exceeded",
        "duplicate_order", "unknown_order", "order_already_completed", "unknown_line",
        "refund_exceeds_paid", "below_minimum_payout", "insufficient_balance",
        "duplicate_payout", "unknown_payout", "payout_already_finished"}
    assert expected <= codes, sorted(expected - codes)
    assert counts["duplicates"] > 0
    assert 0.3 < counts["accepted"] / len(lines) < 0.75


# --------------------------------------------------------------------------
# 2. the real CLI against the oracle
# --------------------------------------------------------------------------

def _cli(store: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, SUPERNOVA_STORE=store)
    return subprocess.run([sys.executable, "-m", "supernova_ledger", *args, "--store", store],
                          capture_output=True, env=env, timeout=timeout)


def _first_difference(expected, got, path="$"):
    """Path and values of the first place where two JSON values differ."""
    if type(expected) is not type(got):
        return path, expected, got
    if isinstance(expected, dict):
        for key in sorted(set(expected) | set(got)):
            if key not in got:
                return f"{path}.{key}", expected[key], "<missing>"
            if key not in expected:
                return f"{path}.{key}", "<absent in oracle>", got[key]
            found = _first_difference(expected[key], got[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list):
        for i, (e, g) in enumerate(zip(expected, got)):
            found = _first_difference(e, g, f"{path}[{i}]")
            if found:
                return found
        if len(expected) != len(got):
            return f"{path} (length)", len(expected), len(got)
        return None
    return None if expected == got else (path, expected, got)


def _short(value, limit=600) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def _compare_report(problems, seed, label, expected: dict, proc, oracle_log) -> None:
    want = R.canonical_json(expected) + b"\n"
    if proc.returncode != 0:
        problems.append(f"seed {seed} report {label}: exit {proc.returncode}: "
                        f"{_short(proc.stderr.decode('utf-8', 'replace'))}")
        return
    if proc.stdout == want:
        return
    try:
        got = json.loads(proc.stdout)
    except ValueError:
        problems.append(f"seed {seed} report {label}: not JSON: {_short(proc.stdout.decode('utf-8', 'replace'))}")
        return
    diff = _first_difference(expected, got)
    if diff is None:
        at = next((i for i, (a, b) in enumerate(zip(want, proc.stdout)) if a != b),
                  min(len(want), len(proc.stdout)))
        problems.append(f"seed {seed} report {label}: same JSON value, different bytes at offset "
                        f"{at}: expected {want[max(0, at - 40):at + 40]!r} got "
                        f"{proc.stdout[max(0, at - 40):at + 40]!r}")
        return
    path, e, g = diff
    problems.append(f"seed {seed} report {label}: first difference at {path}: "
                    f"expected {_short(e)} got {_short(g)}")


def _describe_line(lines, number) -> str:
    return _short(lines[number - 1]) if number and 1 <= number <= len(lines) else "?"


@pytest.mark.parametrize("seed", SEEDS)
def test_cli_matches_oracle(seed, tmp_path):
    lines = generate(seed, N_EVENTS)
    log_file = tmp_path / "log.jsonl"
    log_file.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    store = f"sqlite:///{tmp_path / 'x.db'}"
    rejects_file = tmp_path / "r.jsonl"

    ledger, want_rejections, want_counts = R.run_detailed(lines)
    oracle_log = list(ledger.log)
    problems: list[str] = []

    # -- ingest --------------------------------------------------------------
    proc = _cli(store, "ingest", str(log_file), "--rejects", str(rejects_file))
    want_exit = 3 if want_rejections else 0
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode not in (0, 3):
        pytest.fail(f"seed {seed}: ingest exited {proc.returncode}: {_short(stderr, 2000)}")
    if proc.returncode != want_exit:
        problems.append(f"seed {seed} ingest: exit {proc.returncode}, expected {want_exit}")
    try:
        got_counts = json.loads(proc.stdout)
    except ValueError:
        got_counts = {"unparseable stdout": proc.stdout.decode("utf-8", "replace")}
    if got_counts != want_counts:
        problems.append(f"seed {seed} ingest counts: expected {want_counts} got {got_counts}")

    got_rejections = []
    if rejects_file.exists():
        for raw in rejects_file.read_text(encoding="utf-8").splitlines():
            if raw.strip():
                r = json.loads(raw)
                got_rejections.append({"line": r.get("line"), "id": r.get("id"),
                                       "code": r.get("code")})
    mismatches = []
    got_by_line = {r["line"]: r for r in got_rejections}
    want_by_line = {r["line"]: r for r in want_rejections}
    for number in sorted(set(got_by_line) | set(want_by_line)):
        if got_by_line.get(number) != want_by_line.get(number):
            mismatches.append(number)
    if mismatches or [r["line"] for r in got_rejections] != [r["line"] for r in want_rejections]:
        head = [f"seed {seed} rejections: {len(mismatches)} line(s) differ "
                f"(oracle {len(want_rejections)} rejections, CLI {len(got_rejections)})"]
        for number in mismatches[:8]:
            head.append(f"  line {number}: {_describe_line(lines, number)}\n"
                        f"    expected {want_by_line.get(number, 'accepted/duplicate')}\n"
                        f"    got      {got_by_line.get(number, 'accepted/duplicate')}")
        problems.append("\n".join(head))

    # -- export ----------------------------------------------------------------
    proc = _cli(store, "export")
    got_export = proc.stdout.decode("utf-8", "replace").split("\n")
    if got_export and got_export[-1] == "":
        got_export.pop()
    if proc.returncode != 0 or got_export != oracle_log:
        first = next((i for i, (a, b) in enumerate(zip(oracle_log, got_export)) if a != b),
                     min(len(oracle_log), len(got_export)))
        problems.append(
            f"seed {seed} export (exit {proc.returncode}): {len(got_export)} lines vs oracle "
            f"{len(oracle_log)}; first difference at position {first + 1}:\n"
            f"    expected {_short(oracle_log[first] if first < len(oracle_log) else '<end>')}\n"
            f"    got      {_short(got_export[first] if first < len(got_export) else '<end>')}")

    # -- reports -----------------------------------------------------------------
    variants: list[tuple[str, list[str], dict]] = [("(no options)", [], {}), ("--top 3", ["--top", "3"], {"top": 3})]
    dates = sorted({o["local_date"].isoformat() for o in ledger.orders.values()})
    if dates:
        months = sorted({d[:7] for d in dates})
        for month in months[:2]:
            variants.append((f"--period {month}", ["--period", month], {"period": month}))
        for day in sorted({dates[0], dates[len(dates) // 2], dates[-1]}):
            variants.append((f"--period {day}", ["--period", day], {"period": day}))
        variants.append((f"--period {months[-1]} --top 3", ["--period", months[-1], "--top", "3"],
                         {"period": months[-1], "top": 3}))
    total = len(oracle_log)
    for n in sorted({1, 2, total // 3, total // 2 + 1, total - 1} - {0}):
        if 1 <= n <= total:
            variants.append((f"--until {n}", ["--until", str(n)], {"until": n}))
    for label, args, kwargs in variants:
        expected = R.report(oracle_log, **kwargs)
        _compare_report(problems, seed, label, expected, _cli(store, "report", *args), oracle_log)

    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
