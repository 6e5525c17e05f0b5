"""Conformance: the real CLI against the independent oracle (reference.py).

Size: SUPERNOVA_CONFORMANCE_EVENTS = "N" (events per seed) or "SxN" (S seeds
of N events).  Default 2x400; under CI=true 5x3000.  Seeds are
SUPERNOVA_CONFORMANCE_SEED_BASE (default 1000) onwards.

test_cli_decision_* runs one tiny hand-written log per SPEC ambiguity listed
at the top of reference.py; a failure there means the library decided
differently from the oracle, which the two must settle (SPEC requires
byte-identical reports from independent implementations).
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import reference as R
from .generator import generate

GOLDEN = Path(__file__).parents[1] / "golden"
EXAMPLE = GOLDEN / "spec_example.jsonl"          # SPEC §10, as published
EXAMPLE_V2 = GOLDEN / "spec_example_v2.jsonl"    # SPEC §10.1, as published


def _size() -> tuple[int, int]:
    default = "5x3000" if os.environ.get("CI", "").lower() == "true" else "2x400"
    text = os.environ.get("SUPERNOVA_CONFORMANCE_EVENTS", default).lower()
    seeds, _, events = text.rpartition("x")
    return int(seeds or default.partition("x")[0]), int(events)


N_SEEDS, N_EVENTS = _size()
SEED_BASE = int(os.environ.get("SUPERNOVA_CONFORMANCE_SEED_BASE", "1000"))
SEEDS = [SEED_BASE + i for i in range(N_SEEDS)]


# --------------------------------------------------------------------------
# 1. the oracle reproduces SPEC §10
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def example_lines() -> list[str]:
    return EXAMPLE.read_text(encoding="utf-8").split("\n")


@pytest.fixture(scope="module")
def example_v2_lines() -> list[str]:
    return EXAMPLE_V2.read_text(encoding="utf-8").split("\n")


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


def _six(balances: dict) -> tuple[int, ...]:
    return tuple(balances[k] for k in R.BALANCES)


def test_oracle_reproduces_worked_example_v2(example_v2_lines, example_lines):
    """Every test vector and figure of SPEC §10.1."""
    assert example_v2_lines[:13] == example_lines[:13]
    ledger, rejections, counts = R.run_detailed(example_v2_lines)
    assert counts == {"accepted": 14, "duplicates": 0, "rejected": 3}
    assert rejections == [{"line": 13, "id": "e12", "code": "below_minimum_payout"},
                          {"line": 16, "id": "e15", "code": "period_already_closed"},
                          {"line": 17, "id": "e16", "code": "period_not_ended"}]
    log = ledger.log
    assert json.loads(log[12]) == {"type": "PeriodClosed", "id": "e13",
                                   "at": "2026-11-30T17:00:00Z", "period": "2026-11"}
    # v1 output unchanged: the first 12 events are the v1 example
    assert R.report(log, until=12)["digest"] == \
        "363493d66ddbf3e8886947d20da52f84d8451c2bc2cf622193c6cbeb42b615de"

    rep = R.report(log)
    assert rep["events"] == 14
    assert rep["log_head"] == "cd0157f7cd4e8eee180d7653a1b015a9f2366eb936d247260c7510f4f9c8c6af"
    assert rep["digest"] == "d2d96cd9ae0ca7c8e3e59d8c12c8159932b78acd9ceb1bb76eb6e4fd947910d4"
    b, a = rep["promoters"]["B"], rep["promoters"]["A"]
    assert _six(b) == (0, -1001, 0, 1500, 499, 0)
    assert (a["available_fen"], a["level2_fen"]) == (99, 99)
    g1 = rep["groups"]["g1"]
    assert (g1["refunded_fen"], g1["net_fen"]) == (24895, 4995)
    assert rep["ranking"] == [{"rank": 1, "promoter_id": "B", "net_gmv_fen": 4995, "orders": 1}]

    # postings of B and A (position, kind, level, sku, amount, from, book)
    def summary(pid):
        return [(x["position"], x["kind"], x["level"], x["sku"], x["amount_fen"], x["from"],
                 x["to"], x["book"]) for x in ledger.postings if x["promoter_id"] == pid]
    assert summary("B") == [
        (7, "earn", 1, "s1", 999, None, "pending", "2026-11"),
        (7, "earn", 1, "s2", 597, None, "pending", "2026-11"),
        (9, "settle", 1, None, 1596, "pending", "available", "2026-11"),
        (10, "payout", None, None, 1500, "available", "in_payout", "2026-11"),
        (11, "clawback", 1, "s1", 500, "available", None, "2026-11"),
        (12, "paid", None, None, 1500, "in_payout", "paid_out", "2026-11"),
        (14, "clawback", 1, "s2", 597, "available", None, "2026-12")]
    assert summary("A") == [
        (7, "earn", 2, "s1", 199, None, "pending", "2026-11"),
        (7, "earn", 2, "s2", 99, None, "pending", "2026-11"),
        (9, "settle", 2, None, 298, "pending", "available", "2026-11"),
        (11, "clawback", 2, "s1", 100, "available", None, "2026-11"),
        (14, "clawback", 2, "s2", 99, "available", None, "2026-12")]
    bases = [(x["kind"], x["base_fen"], x["rate_bps"]) for x in ledger.postings
             if x["promoter_id"] == "B" and x["kind"] == "clawback"]
    assert bases == [("clawback", 4995, 1000), ("clawback", 19900, 300)]

    explain_b = R.explain(log, "B")
    assert explain_b["digest"] == "2cc65ca0c17eb8b7e6e090bbd7d68e9529024b9d10247fa9c0756cfbf8a8c798"
    assert explain_b["postings"][0] == {
        "position": 7, "event_id": "e6", "at": "2026-11-01T12:15:00Z", "book": "2026-11",
        "kind": "earn", "level": 1, "order_id": "o1", "sku": "s1", "rate_bps": 1000,
        "base_fen": 9990, "payout_id": None, "from": None, "to": "pending", "amount_fen": 999}
    assert _six(explain_b["balances"]) == (0, -1001, 0, 1500, 499, 0)

    nov, dec = R.statement(log, "2026-11"), R.statement(log, "2026-12")
    assert nov["digest"] == "a4f0f260710d17dc59e8f467cbf7cb8ff33fba627e6c45581df2a061905c0c07"
    assert dec["digest"] == "5b215ef3f075ea63f5ae3a57bd039a764fbc2dd32f5c993547bef87ac2b11b82"
    assert (nov["closed"], dec["closed"]) == (True, False)
    nb, na = nov["promoters"]["B"], nov["promoters"]["A"]
    assert (nb["earned_l1_fen"], nb["clawed_back_l1_fen"], nb["settled_fen"], nb["payout_fen"],
            nb["paid_fen"], nb["closing"]["available_fen"], nb["closing"]["level1_fen"]) == \
        (1596, 500, 1596, 1500, 1500, -404, 1096)
    assert (na["earned_l2_fen"], na["clawed_back_l2_fen"], na["settled_fen"],
            na["closing"]["available_fen"]) == (298, 100, 298, 198)
    # the November statement is the same before and after line 15 (position 14)
    before = R.statement(log, "2026-11", until=13)
    assert (before["promoters"], before["totals"]) == (nov["promoters"], nov["totals"])
    db = dec["promoters"]["B"]
    assert db["opening"] == nb["closing"]
    assert (db["clawed_back_l1_fen"], db["closing"]["available_fen"], db["closing"]["level1_fen"]) \
        == (597, -1001, 499)

    # the rejection journal (§2.1, V2_DECISIONS)
    assert ledger.journal == [
        {"position": 12, "id": "e12", "type": "PayoutRequested", "code": "below_minimum_payout",
         "promoter_id": "A", "group_id": None, "order_id": None, "payout_id": "po2"},
        {"position": 14, "id": "e15", "type": "PeriodClosed", "code": "period_already_closed",
         "promoter_id": None, "group_id": None, "order_id": None, "payout_id": None},
        {"position": 14, "id": "e16", "type": "PeriodClosed", "code": "period_not_ended",
         "promoter_id": None, "group_id": None, "order_id": None, "payout_id": None}]


def test_oracle_period_closed_decoding_and_checks():
    """B1/B2: the period's shape, and the two checks at month ends (local dates)."""
    base = [_ev("RulesAdopted", "r", "2026-11-01T00:00:00Z", rules={"timezone": "Asia/Shanghai"})]

    def outcome(period, at="2026-12-01T00:00:00+08:00", closed_first=None):
        lines = list(base)
        if closed_first:
            lines.append(_ev("PeriodClosed", "c0", "2026-12-01T00:00:00+08:00", period=closed_first))
        lines.append(json.dumps({"type": "PeriodClosed", "id": "c", "at": at, "period": period}))
        _, rejections = R.run(lines)
        return rejections[-1]["code"] if rejections and rejections[-1]["id"] == "c" else "ok"

    for bad in ("2026-13", "2026-1", "2026-11-01", "2026-00", "0000-01", "２０２６-11", "2026/11",
                " 2026-11", "2026-11 ", 202611, None, ""):
        assert outcome(bad) == "invalid_event", bad
    assert outcome("0001-01") == "ok"
    assert outcome("2026-11") == "ok"
    assert outcome("2026-11", at="2026-11-30T23:59:59.999999+08:00") == "period_not_ended"
    assert outcome("2026-11", at="2026-11-30T16:00:00Z") == "ok"           # 12-01 in Shanghai
    assert outcome("2026-12") == "period_not_ended"
    assert outcome("9999-12", at="9999-12-30T23:59:59Z") == "period_not_ended"
    assert outcome("2026-10", closed_first="2026-11") == "period_already_closed"
    assert outcome("2026-11", closed_first="2026-11") == "period_already_closed"
    assert outcome("2026-11", at="2026-11-01T00:00:00Z", closed_first="2026-11") \
        == "period_already_closed"                                          # that check first
    assert outcome("2026-12", at="2027-01-01T00:00:00+08:00", closed_first="2026-10") == "ok"


def test_oracle_postings_sum_to_balances_on_random_logs():
    """§6.1 on random v2 logs: each promoter's postings sum to its balances, at every
    position (checked inside the oracle per event), and statements chain."""
    for seed in (11, 12, 13):
        ledger, _, _ = R.run_detailed(generate(seed, 1500, v2=True))
        assert ledger.closed is not None, "the generator closes months"
        months = sorted({x["book"] for x in ledger.postings})
        assert len(months) >= 2
        previous = None
        for month in months:
            st = ledger.statement(month)
            if previous is not None and month == R.next_month(previous["period"]):
                for pid, en in st["promoters"].items():
                    prev = previous["promoters"].get(pid)
                    closing = prev["closing"] if prev else dict.fromkeys(R.BALANCES, 0)
                    assert en["opening"] == closing, (seed, month, pid)
            previous = st
        last = ledger.statement(months[-1])
        for pid, en in last["promoters"].items():
            assert en["closing"] == {k: ledger.promoters[pid][k] for k in R.BALANCES}


def test_generator_is_deterministic_and_covers_every_code():
    lines = generate(7, 3000, v2=True)
    assert lines == generate(7, 3000, v2=True)
    _, rejections, counts = R.run_detailed(lines)
    codes = {r["code"] for r in rejections}
    expected = {
        "invalid_event", "invalid_rules", "duplicate_event_id", "duplicate_promoter",
        "unknown_promoter", "promoter_suspended", "promoter_not_qualified",
        "group_limit_exceeded", "duplicate_group", "unknown_group", "group_closed",
        "already_member", "not_invited", "group_full", "not_member", "push_quota_exceeded",
        "duplicate_order", "unknown_order", "order_already_completed", "unknown_line",
        "refund_exceeds_paid", "below_minimum_payout", "insufficient_balance",
        "duplicate_payout", "unknown_payout", "payout_already_finished",
        "period_already_closed", "period_not_ended"}
    assert expected <= codes, sorted(expected - codes)
    assert counts["duplicates"] > 0
    assert 0.3 < counts["accepted"] / len(lines) < 0.75


# --------------------------------------------------------------------------
# 2. the real CLI against the oracle
# --------------------------------------------------------------------------

@functools.cache
def impl_has_v2() -> bool:
    """Whether the library under test has SPEC v2's commands (`explain --help` exits 0).
    Before it does, random logs stay version 1 (no PeriodClosed) and the v2
    comparisons skip; the oracle's own v2 checks above never skip."""
    proc = subprocess.run([sys.executable, "-m", "supernova_ledger", "explain", "--help"],
                          capture_output=True, timeout=120)
    return proc.returncode == 0


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
                        f"…{proc.stderr.decode('utf-8', 'replace')[-800:]}")
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


def _read_rejections(path: Path) -> list[dict]:
    out = []
    if path.exists():
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.strip():
                r = json.loads(raw)
                out.append({"line": r.get("line"), "id": r.get("id"), "code": r.get("code")})
    return out


def _describe_line(lines, number) -> str:
    return _short(lines[number - 1]) if number and 1 <= number <= len(lines) else "?"


@pytest.mark.parametrize("seed", SEEDS)
def test_cli_matches_oracle(seed, tmp_path):
    lines = generate(seed, N_EVENTS, dup_keys=True, v2=impl_has_v2())
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
    if proc.returncode != 0:
        problems.append(f"seed {seed} export: exit {proc.returncode}: "
                        f"…{proc.stderr.decode('utf-8', 'replace')[-800:]}")
    elif got_export != oracle_log:
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
    thorough = N_EVENTS >= 1000 or os.environ.get("CI", "").lower() == "true"
    if dates:
        months = sorted({d[:7] for d in dates})
        for month in months[:2] if thorough else months[:1]:
            variants.append((f"--period {month}", ["--period", month], {"period": month}))
        days = [dates[0], dates[len(dates) // 2], dates[-1]] if thorough else [dates[len(dates) // 2]]
        for day in sorted(set(days)):
            variants.append((f"--period {day}", ["--period", day], {"period": day}))
        variants.append((f"--period {months[-1]} --top 3", ["--period", months[-1], "--top", "3"],
                         {"period": months[-1], "top": 3}))
    total = len(oracle_log)
    cuts = {1, 2, total // 3, total // 2 + 1, total - 1} if thorough else {2, total // 2 + 1}
    for n in sorted(cuts - {0}):
        if 1 <= n <= total:
            variants.append((f"--until {n}", ["--until", str(n)], {"until": n}))
    for label, args, kwargs in variants:
        expected = R.report(oracle_log, **kwargs)
        _compare_report(problems, seed, label, expected, _cli(store, "report", *args), oracle_log)

    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# --------------------------------------------------------------------------
# 3. one small log per SPEC ambiguity (decisions A1..A22 in reference.py),
#    and a few edge cases SPEC does settle (X1..)
# --------------------------------------------------------------------------

def _ev(etype, eid, at, **fields) -> str:
    return json.dumps({"type": etype, "id": eid, "at": at, **fields}, ensure_ascii=False)


BASE = [
    _ev("RulesAdopted", "r0", "2026-11-01T00:00:00+08:00",
        rules={"settle_after_days": 0, "min_payout_fen": 1}),
    _ev("PromoterJoined", "j1", "2026-11-01T08:00:00+08:00", promoter_id="A", program="fenxiang",
        inviter_id=None, city="北京", city_tier=1),
    _ev("PromoterJoined", "j2", "2026-11-01T08:01:00+08:00", promoter_id="B", program="fenxiang",
        inviter_id="A", city="临沂", city_tier=4),
    _ev("PromoterJoined", "j3", "2026-11-01T08:02:00+08:00", promoter_id="C", program="cloud_store",
        inviter_id=None, city="上海", city_tier=1),
    _ev("PromoterQualified", "q1", "2026-11-01T08:03:00+08:00", promoter_id="B"),
    _ev("GroupOpened", "g1", "2026-11-01T08:04:00+08:00", group_id="g1", owner_id="B",
        city="临沂", city_tier=4),
]
T = "2026-11-01T12:00:00+08:00"
LINE = {"sku": "s1", "category": "daily", "quantity": 1, "paid_fen": 10000}


def _order(eid, at, order_id, customer, promoter=None, group=None, lines=(LINE,)):
    return _ev("OrderPlaced", eid, at, order_id=order_id, customer_id=customer,
               promoter_id=promoter, group_id=group, lines=list(lines))


DECISIONS: dict[str, list[str]] = {
    "A1 duplicate member names": BASE + [
        '{"type":"PromoterQualified","id":"x1","at":"%s","promoter_id":"A","promoter_id":"C"}' % T,
        '{"type":"PromoterQualified","id":"x2","at":"%s","promoter_id":"C","id":"x3"}' % T],
    "A2 NaN/Infinity literals": BASE + [
        '{"type":"SettlementRun","id":"n1","at":NaN,"as_of":"2026-11-01T00:00:00Z"}',
        '{"type":"PayoutRequested","id":"n2","at":"%s","payout_id":"p","promoter_id":"A",'
        '"amount_fen":Infinity}' % T],
    "A3 integral floats and -0": BASE + [
        '{"type":"PromoterJoined","id":"f1","at":"%s","promoter_id":"D","program":"fenxiang",'
        '"inviter_id":null,"city":"x","city_tier":1.0}' % T,
        '{"type":"OrderPlaced","id":"f2","at":"%s","order_id":"o1","customer_id":"c1",'
        '"promoter_id":null,"group_id":null,"lines":[{"sku":"s","category":"c","quantity":1,'
        '"paid_fen":1e3}]}' % T,
        '{"type":"OrderPlaced","id":"f3","at":"%s","order_id":"o2","customer_id":"c1",'
        '"promoter_id":null,"group_id":null,"lines":[{"sku":"s","category":"c","quantity":1,'
        '"paid_fen":-0}]}' % T,
        _ev("RulesAdopted", "f4", T, rules={"level1_bps": 1000.0})],
    "A4 rules missing / null / not an object / null rule / envelope error first": BASE + [
        '{"type":"RulesAdopted","id":"m1","at":"%s"}' % T,
        _ev("RulesAdopted", "m2", T, rules=None),
        _ev("RulesAdopted", "m3", T, rules="defaults"),
        _ev("RulesAdopted", "m4", T, rules={"timezone": None}),
        _ev("RulesAdopted", "m5", "2026-11-01T00:00:00", rules={"timezone": "Mars/Olympus"}),
        _ev("RulesAdopted", "m6", T, rules={"level1_bps": 1}, extra=1)],
    "A5 category_rates keys and entries": BASE + [
        _ev("RulesAdopted", "k1", T, rules={"category_rates": {"": {"level1_bps": 1, "level2_bps": 1}}}),
        _ev("RulesAdopted", "k2", T, rules={"category_rates": {"d": {"level1_bps": 9000, "level2_bps": 1001}}}),
        _ev("RulesAdopted", "k3", T, rules={"category_rates": {"d": {"level1_bps": 1, "level2_bps": 1, "x": 1}}}),
        _ev("RulesAdopted", "k4", T, rules={"category_rates": {"x" * 129: {"level1_bps": 1, "level2_bps": 1}}}),
        _ev("RulesAdopted", "k5", T, rules={"category_rates": {"d": {"level2_bps": 1, "level1_bps": 10000}}})],
    "A6 time-zone names": BASE + [
        _ev("RulesAdopted", "z1", T, rules={"timezone": "asia/shanghai"}),
        _ev("RulesAdopted", "z2", T, rules={"timezone": "US/Pacific"}),
        _ev("RulesAdopted", "z3", T, rules={"timezone": "Etc/GMT-14"}),
        _ev("RulesAdopted", "z4", T, rules={"timezone": "Asia/Shanghai "}),
        _ev("RulesAdopted", "z5", T, rules={"timezone": "UTC"})],
    "A7 owner_id length, empty and missing reason": BASE + [
        _ev("GroupOpened", "o1", T, group_id="g9", owner_id="B" * 129, city="x", city_tier=1),
        _ev("PromoterSuspended", "o2", T, promoter_id="C", reason=""),
        _ev("PromoterSuspended", "o3", T, promoter_id="A")],
    "A8 timestamp edge cases": BASE + [
        _ev("PromoterQualified", "t1", "2026-11-01T00:00:00-00:00", promoter_id="A"),
        _ev("PromoterQualified", "t2", "2026-12-31T23:59:60Z", promoter_id="A"),
        _ev("PromoterQualified", "t3", "2026-11-01T00:00:00+24:00", promoter_id="A"),
        _ev("PromoterQualified", "t4", "0001-01-01T00:30:00+01:00", promoter_id="A"),
        _ev("PromoterQualified", "t5", "2026-11-01T00:00:00.000000Z", promoter_id="A"),
        _ev("PromoterQualified", "t6", "2026-11-01T00:00:00.5+08:00", promoter_id="A"),
        _ev("PromoterQualified", "t8", "2026-02-29T00:00:00Z", promoter_id="A"),
        _ev("PromoterQualified", "t9", "2028-02-29T00:00:00+23:59", promoter_id="A"),
        _ev("PromoterQualified", "t10", "0001-01-01T12:00:00Z", promoter_id="A"),
        _ev("PromoterQualified", "t11", "0001-01-02T00:00:00Z", promoter_id="A"),
        _ev("PromoterQualified", "t12", "9999-12-30T23:59:59.999999Z", promoter_id="A"),
        _ev("PromoterQualified", "t13", "9999-12-31T00:00:00Z", promoter_id="A"),
        _ev("PromoterQualified", "t14", "9999-12-30T23:00:00-01:00", promoter_id="A")],
    "A23 a byte order mark at the start of the file": ["\ufeff" + BASE[0]] + BASE[1:] + [
        "\ufeff" + _ev("PromoterQualified", "bom2", T, promoter_id="A")],
    "A9 blank-looking lines and in-string line separators": BASE + [
        "\u3000", " \t", "\r",
        _ev("PromoterSuspended", "b1", T, promoter_id="C", reason="a\u2028b\u0085c\u2029d"),
        _ev("PromoterReinstated", "b2", T, promoter_id="C") + "\r"],
    "A10 ids reported for rejections": BASE + [
        "[" + _ev("PromoterQualified", "i1", T, promoter_id="A") + "]",
        _ev("PromoterQualified", "", T, promoter_id="A"),
        _ev("PromoterQualified", "i" * 129, T, promoter_id="A"),
        '{"type":"PromoterQualified","id":7,"at":"%s","promoter_id":"A"}' % T,
        '{"type":"Nope","id":"i2"}',
        '{"id":"i3","type":"PromoterQualified","at":"%s","promoter_id":"A"' % T],
    "A11 push quota across a time-zone change": BASE + [
        _ev("RulesAdopted", "p0", "2026-11-01T00:00:00+08:00",
            rules={"settle_after_days": 0, "min_payout_fen": 1, "max_daily_pushes": 1}),
        _ev("ProductPushed", "p1", "2026-11-02T07:00:00+08:00", group_id="g1", sku="s1"),
        _ev("RulesAdopted", "p2", "2026-11-02T07:01:00+08:00",
            rules={"max_daily_pushes": 1, "timezone": "America/Los_Angeles"}),
        _ev("ProductPushed", "p3", "2026-11-01T20:00:00-08:00", group_id="g1", sku="s2"),
        _ev("ProductPushed", "p4", "2026-11-01T21:00:00-08:00", group_id="g1", sku="s3")],
    "A12 a late touch can shorten a binding": BASE + [
        _ev("RulesAdopted", "a0", "2026-10-01T00:00:00+08:00",
            rules={"attribution": "protected_binding", "binding_days": 10}),
        _ev("PromoterQualified", "a1", T, promoter_id="C"),
        _ev("MemberJoined", "a2", "2026-11-01T10:00:00+08:00", group_id="g1", customer_id="c1",
            invited_by="B"),
        _order("a3", "2026-10-20T10:00:00+08:00", "o1", "c1", promoter="B"),
        _order("a4", "2026-11-05T10:00:00+08:00", "o2", "c1", promoter="C")],
    "A13 settle_after_days in force at the run": BASE + [
        _order("s1", T, "o1", "c1", group="g1"),
        _ev("OrderCompleted", "s2", "2026-11-02T00:00:00+08:00", order_id="o1"),
        _ev("RulesAdopted", "s3", "2026-11-02T01:00:00+08:00", rules={"settle_after_days": 30}),
        _ev("SettlementRun", "s4", "2026-11-05T00:00:00+08:00", as_of="2026-11-05T00:00:00+08:00")],
    "A14 refund checks run check by check": BASE + [
        _order("r1", T, "o1", "c1", group="g1"),
        _ev("OrderRefunded", "r2", T, order_id="o1",
            lines=[{"sku": "s1", "amount_fen": 10001}, {"sku": "s9", "amount_fen": 1}])],
    "A15 customer is L2; suspended beneficiaries; self purchase": BASE + [
        _order("c1", T, "o1", "A", group="g1"),
        _ev("RulesAdopted", "c2", T, rules={"settle_after_days": 0, "min_payout_fen": 1,
                                            "self_purchase_commission": False}),
        _order("c3", T, "o2", "B", group="g1"),
        _ev("PromoterSuspended", "c4", T, promoter_id="B", reason="x"),
        _order("c5", T, "o3", "c7", group="g1")],
    "A16 ranking counts refunded orders; ties": BASE + [
        _order("k1", T, "o1", "c1", group="g1"),
        _ev("OrderRefunded", "k2", T, order_id="o1", lines=[{"sku": "s1", "amount_fen": 10000}]),
        _order("k3", T, "o2", "c1", group="g1", lines=[dict(LINE, paid_fen=100)]),
        _order("k4", T, "o3", "c2", promoter="C", lines=[dict(LINE, paid_fen=100)]),
        _order("k5", T, "o4", "c3", promoter="A", lines=[dict(LINE, paid_fen=100)])],
    "A17 closed groups keep members and take orders": BASE + [
        _ev("MemberJoined", "l1", T, group_id="g1", customer_id="c1", invited_by="B"),
        _ev("MemberJoined", "l2", T, group_id="g1", customer_id="c2", invited_by="c1"),
        _ev("GroupClosed", "l3", T, group_id="g1"),
        _order("l4", T, "o1", "c1", group="g1"),
        _ev("MemberLeft", "l5", T, group_id="g1", customer_id="c2"),
        _ev("MemberJoined", "l6", T, group_id="g1", customer_id="c3", invited_by="B")],
    "A18 canonical escaping of control characters": BASE + [
        _ev("PromoterSuspended", "e1", T, promoter_id="C",
            reason="tab\there nl\nhere \u0001\u001f\u007f \"q\" \\ / \u00e9 😀 \u2028")],
    "A19 unpaired surrogate escapes": BASE + [
        '{"type":"PromoterSuspended","id":"u1","at":"%s","promoter_id":"C","reason":"\\ud800"}' % T,
        '{"type":"PromoterSuspended","id":"u2","at":"%s","promoter_id":"C","reason":"\\ud83d\\ude00"}' % T],
    "A20 identifier length in code points": BASE + [
        _ev("PromoterJoined", "😀" * 128, T, promoter_id="e\u0301" * 64, program="fenxiang",
            inviter_id=None, city="x", city_tier=1),
        _ev("PromoterJoined", "w2", T, promoter_id="a" * 127 + "e\u0301", program="fenxiang",
            inviter_id=None, city="x", city_tier=1),
        _ev("PromoterJoined", "w3", T, promoter_id="长" * 128, program="fenxiang",
            inviter_id=None, city="x", city_tier=1)],
    "A21 touches by a suspended promoter still bind": BASE + [
        _ev("RulesAdopted", "v0", T, rules={"attribution": "protected_binding"}),
        _ev("PromoterQualified", "v1", T, promoter_id="C"),
        _ev("PromoterSuspended", "v2", T, promoter_id="B", reason="x"),
        _ev("MemberJoined", "v3", T, group_id="g1", customer_id="c1", invited_by="B"),
        _order("v4", "2026-11-02T12:00:00+08:00", "o1", "c1", promoter="C")],
    "A22 late events and the completion window": BASE + [
        _order("w1", T, "o1", "c1", group="g1"),
        _ev("OrderCompleted", "w2", "2026-10-01T00:00:00+08:00", order_id="o1"),
        _ev("SettlementRun", "w3", "2026-10-01T00:00:00+08:00", as_of="2026-10-01T00:00:00+08:00"),
        _ev("PayoutRequested", "w4", T, payout_id="p1", promoter_id="B", amount_fen=1000),
        _ev("PayoutFailed", "w5", T, payout_id="p1", reason=""),
        _ev("PayoutSettled", "w6", T, payout_id="p1")],

    # ---- not ambiguities: SPEC (or RFC 3339, which it cites) settles these ----
    "X1 RFC 3339 offsets: minutes 00-59": BASE + [
        _ev("PromoterQualified", "x1", "2026-11-01T10:00:00+08:60", promoter_id="A"),
        _ev("PromoterQualified", "x2", "2026-11-01T10:00:00+08:99", promoter_id="A"),
        _ev("SettlementRun", "x3", T, as_of="2026-11-01T10:00:00-05:75")],
    "X2 limits are inclusive": BASE + [
        _ev("PromoterQualified", "i" * 128, T, promoter_id="A"),
        _ev("PromoterQualified", "j" * 129, T, promoter_id="A"),
        _ev("PromoterSuspended", "l1", T, promoter_id="C", reason="r" * 500),
        _ev("PromoterSuspended", "l2", T, promoter_id="C", reason="r" * 501),
        _order("l3", T, "o1", "c1", group="g1", lines=[
            dict(LINE, sku=f"s{i}", quantity=10**6, paid_fen=10**12) for i in range(200)]),
        _order("l4", T, "o2", "c1", group="g1", lines=[dict(LINE, sku=f"s{i}") for i in range(201)]),
        _ev("OrderRefunded", "l5", T, order_id="o1", lines=[{"sku": "s0", "amount_fen": 10**12}]),
        _ev("OrderRefunded", "l6", T, order_id="o1", lines=[{"sku": f"s{i}", "amount_fen": 1}
                                                           for i in range(1, 201)]),
        _ev("RulesAdopted", "l7", T, rules={"level1_bps": 10000, "level2_bps": 0,
                                             "binding_days": 365, "settle_after_days": 365,
                                             "min_payout_fen": 10**12, "max_daily_pushes": 10**6,
                                             "category_rates": {f"c{i}": {"level1_bps": 0, "level2_bps": 10000}
                                                                for i in range(1000)}}),
        _ev("RulesAdopted", "l8", T, rules={"category_rates": {f"c{i}": {"level1_bps": 0, "level2_bps": 0}
                                                                for i in range(1001)}}),
        _ev("RulesAdopted", "l9", T, rules={"level1_bps": 9800, "level2_bps": 200})],
    "X3 re-delivery in another spelling is a duplicate": BASE + [
        _ev("RulesAdopted", "r0", "2026-10-31T16:00:00Z",
            rules={"settle_after_days": 0, "min_payout_fen": 1, "level1_bps": 1000,
                   "category_rates": {}, "timezone": "Asia/Shanghai"}),
        json.dumps({"promoter_id": "A", "program": "fenxiang", "city": "北京", "city_tier": 1,
                    "at": "2026-11-01T00:00:00.000+00:00", "id": "j1", "type": "PromoterJoined"}),
        _ev("PromoterJoined", "j1", "2026-11-01T00:00:00.000001Z", promoter_id="A",
            program="fenxiang", inviter_id=None, city="北京", city_tier=1),
        BASE[1]],
    "X4 a rejected id is not remembered": BASE + [
        _ev("OrderRefunded", "f1", T, order_id="o1", lines=[{"sku": "s1", "amount_fen": 5}]),
        _order("f2", T, "o1", "c1", group="g1"),
        _ev("OrderRefunded", "f1", T, order_id="o1", lines=[{"sku": "s1", "amount_fen": 5}]),
        _ev("OrderRefunded", "f1", T, order_id="o1", lines=[{"sku": "s1", "amount_fen": 5}]),
        _ev("OrderRefunded", "f1", T, order_id="o1", lines=[{"sku": "s1", "amount_fen": 6}]),
        _ev("OrderRefunded", "f1", T, order_id="o1", lines=[{"sku": "s1", "amount_fen": 0}]),
        _ev("PromoterJoined", "f2", T, promoter_id="A", program="fenxiang", inviter_id=None,
            city="北京", city_tier=1)],
    "X5 checks in SPEC order": BASE + [
        _ev("GroupOpened", "h1", T, group_id="g1", owner_id="nobody", city="x", city_tier=1),
        _ev("PromoterSuspended", "h2", T, promoter_id="A", reason=""),
        _ev("GroupOpened", "h3", T, group_id="g2", owner_id="A", city="x", city_tier=1),
        _ev("MemberJoined", "h4", T, group_id="g1", customer_id="B", invited_by="nobody"),
        _ev("PayoutRequested", "h5", T, payout_id="p1", promoter_id="A", amount_fen=10**12),
        _ev("PayoutRequested", "h6", T, payout_id="p1", promoter_id="nobody", amount_fen=1),
        _ev("PayoutSettled", "h7", T, payout_id="p2"),
        _ev("OrderCompleted", "h8", T, order_id="o9"),
        _order("h9", T, "o1", "c1", group="g404", promoter="nobody")],
    "X6 ranking ties and key order by code point": BASE + [
        _ev("PromoterJoined", f"n{i}", T, promoter_id=pid, program="jing_xiaoge",
            inviter_id="A", city="x", city_tier=i % 5 + 1)
        for i, pid in enumerate(["b", "\uff01", "😀", "é", "e\u0301", "Z"])] + [
        _order(f"k{i}", at, f"o{i}", "c1", promoter=pid, lines=[dict(LINE, paid_fen=500)])
        for i, (pid, at) in enumerate([
            ("b", T), ("\uff01", T), ("😀", T), ("é", "2026-11-01T23:59:59.999999+08:00"),
            ("e\u0301", "2026-11-01T16:00:00Z"), ("Z", "2026-10-31T16:00:00Z"),
            ("B", "2026-11-30T15:59:59Z"), ("B", "2026-11-30T16:00:00Z"), ("A", T)])],
}


def _check_case(name: str, tmp_path: Path) -> list[str]:
    """Run one hand-written log through the CLI; the differences from the oracle."""
    lines = DECISIONS[name]
    log_file = tmp_path / "log.jsonl"
    log_file.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
    store = f"sqlite:///{tmp_path / 'x.db'}"
    rejects_file = tmp_path / "r.jsonl"
    ledger, want_rejections, want_counts = R.run_detailed(lines)
    problems = []
    proc = _cli(store, "ingest", str(log_file), "--rejects", str(rejects_file))
    if proc.returncode not in (0, 3):
        return [f"ingest exited {proc.returncode}: …{proc.stderr.decode('utf-8', 'replace')[-800:]}"]
    want_exit = 3 if want_rejections else 0
    if proc.returncode != want_exit:
        problems.append(f"ingest exit {proc.returncode}, expected {want_exit}")
    try:
        got_counts = json.loads(proc.stdout)
    except ValueError:
        got_counts = proc.stdout.decode("utf-8", "replace")
    if got_counts != want_counts:
        problems.append(f"ingest counts: expected {want_counts} got {got_counts}")
    got = _read_rejections(rejects_file)
    if got != want_rejections:
        want_by, got_by = ({r["line"]: r for r in rs} for rs in (want_rejections, got))
        for number in sorted(set(want_by) | set(got_by)):
            if want_by.get(number) != got_by.get(number):
                problems.append(f"line {number}: {_describe_line(lines, number)}\n"
                                f"    oracle {want_by.get(number, 'accepted/duplicate')}\n"
                                f"    CLI    {got_by.get(number, 'accepted/duplicate')}")
    export = _cli(store, "export").stdout.decode("utf-8", "replace").split("\n")[:-1]
    for i, (e, g) in enumerate(zip(ledger.log, export)):
        if e != g:
            problems.append(f"export position {i + 1}:\n    oracle {_short(e)}\n    CLI    {_short(g)}")
            break
    if len(export) != len(ledger.log):
        problems.append(f"export: oracle {len(ledger.log)} events, CLI {len(export)}")
    for args in REPORT_CASES.get(name.split()[0], []):
        kwargs = {k.lstrip("-"): (int(v) if k != "--period" else v)
                  for k, v in zip(args[::2], args[1::2])}
        _compare_report(problems, "(case log)", " ".join(args) or "(no options)",
                        R.report(ledger.log, **kwargs), _cli(store, "report", *args), ledger.log)
    return problems


# the cases whose point is a figure of the report, with the report options to
# try (the other cases are about decoding and the log, which `export` shows)
REPORT_CASES = {name: [[]] for name in
                ("A11", "A12", "A13", "A14", "A15", "A16", "A17", "A21", "A22", "X2", "X4")}
REPORT_CASES["X6"] = [[], ["--top", "2"], ["--top", "100"], ["--period", "2026-11"],
                      ["--period", "2026-11-02"], ["--period", "2026-10-31"],
                      ["--until", "9"], ["--until", "16"], ["--period", "2026-12", "--top", "1"]]


@pytest.fixture(scope="module")
def case_results(tmp_path_factory) -> dict[str, list[str]]:
    """All hand-written cases, run concurrently (each is a few CLI processes)."""
    from concurrent.futures import ThreadPoolExecutor
    names = list(DECISIONS)
    dirs = [tmp_path_factory.mktemp(f"case{i}") for i in range(len(names))]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(_check_case, names, dirs))
    return dict(zip(names, results))


@pytest.mark.parametrize("name", list(DECISIONS))
def test_cli_decision(name, case_results):
    problems = case_results[name]
    if problems:
        pytest.fail(f"case {name} differs:\n" + "\n".join(problems), pytrace=False)


# --------------------------------------------------------------------------
# 4. the same log ingested in pieces, across processes, and from stdin
# --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS[:1])
def test_cli_split_ingest_and_stdin(seed, tmp_path):
    """Piecewise ingest (state rebuilt from the store by each new process,
    line numbers restarting per file) and stdin give the one-shot result."""
    lines = generate(seed, N_EVENTS, dup_keys=True, v2=impl_has_v2())
    cut1, cut2 = len(lines) // 3, 2 * len(lines) // 3
    pieces = [lines[:cut1], lines[cut1:cut2], lines[cut2:]]
    files = []
    for i, piece in enumerate(pieces):
        f = tmp_path / f"part{i}.jsonl"
        f.write_bytes(("\n".join(piece) + "\n").encode("utf-8"))
        files.append(f)
    problems = []

    # oracle: one ledger, three files; counts per invocation, lines per file
    ledger = R.Ledger()
    want: list[list[dict]] = []
    want_counts: list[dict] = []
    for group in ([pieces[0]], [pieces[1], pieces[2]]):
        counts = {"accepted": 0, "duplicates": 0, "rejected": 0}
        rejections = []
        for piece in group:
            for number, line in enumerate(piece, 1):
                if number == 1 and line.startswith("\ufeff"):  # decision A23
                    line = line[1:]
                if R._is_blank(line):
                    continue
                outcome, code, rid = ledger.append_text(line)
                counts[{"accepted": "accepted", "duplicate": "duplicates",
                        "rejected": "rejected"}[outcome]] += 1
                if outcome == "rejected":
                    rejections.append({"line": number, "id": rid, "code": code})
        want.append(rejections)
        want_counts.append(counts)

    store = f"sqlite:///{tmp_path / 'split.db'}"
    for k, args in enumerate(([str(files[0])], [str(files[1]), str(files[2])])):
        rej = tmp_path / f"rej{k}.jsonl"
        proc = _cli(store, "ingest", *args, "--rejects", str(rej))
        got_counts = json.loads(proc.stdout) if proc.returncode in (0, 3) else proc.stderr
        if got_counts != want_counts[k]:
            problems.append(f"seed {seed} split ingest #{k + 1}: counts expected "
                            f"{want_counts[k]} got {_short(str(got_counts))}")
        got = _read_rejections(rej)
        if got != want[k]:
            first = next((i for i, (a, b) in enumerate(zip(want[k], got)) if a != b),
                         min(len(want[k]), len(got)))
            problems.append(f"seed {seed} split ingest #{k + 1}: rejection #{first + 1} "
                            f"expected {want[k][first] if first < len(want[k]) else '<none>'} "
                            f"got {got[first] if first < len(got) else '<none>'}")
    export = _cli(store, "export").stdout.decode("utf-8").split("\n")[:-1]
    if export != ledger.log:
        problems.append(f"seed {seed} split ingest: export differs from the oracle "
                        f"({len(export)} vs {len(ledger.log)} events)")
    _compare_report(problems, seed, "(split ingest)", ledger.report(), _cli(store, "report"),
                    ledger.log)
    verify = _cli(store, "verify")
    if verify.returncode != 0:
        problems.append(f"seed {seed} verify after split ingest: exit {verify.returncode}: "
                        f"{_short(verify.stdout.decode('utf-8', 'replace') + verify.stderr.decode('utf-8', 'replace'))}")

    # stdin, fresh store, whole log at once
    store2 = f"sqlite:///{tmp_path / 'stdin.db'}"
    env = dict(os.environ, SUPERNOVA_STORE=store2)
    rej = tmp_path / "rej_stdin.jsonl"
    proc = subprocess.run([sys.executable, "-m", "supernova_ledger", "ingest", "-", "--rejects",
                           str(rej), "--store", store2],
                          input=("\n".join(lines) + "\n").encode("utf-8"),
                          capture_output=True, env=env, timeout=300)
    _, want_all, counts_all = R.run_detailed(lines)
    got_counts = json.loads(proc.stdout) if proc.returncode in (0, 3) else proc.stderr
    if got_counts != counts_all or _read_rejections(rej) != want_all:
        problems.append(f"seed {seed} ingest from stdin: counts {_short(str(got_counts))} "
                        f"(expected {counts_all}) or rejections differ")
    _compare_report(problems, seed, "(stdin ingest)", ledger.report(), _cli(store2, "report"),
                    ledger.log)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# --------------------------------------------------------------------------
# 5. §9: unusable arguments and unreadable files exit 2 and write nothing
# --------------------------------------------------------------------------

def test_cli_exit_2_writes_nothing(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(BASE) + "\n", encoding="utf-8")
    store = f"sqlite:///{tmp_path / 'x.db'}"
    problems = []
    proc = _cli(store, "ingest", str(good), str(tmp_path / "missing.jsonl"))
    if proc.returncode != 2:
        problems.append(f"ingest of a good file then a missing one: exit {proc.returncode}, expected 2")
    exported = _cli(store, "export")
    if exported.stdout.strip():
        problems.append(f"… yet the store holds events: {_short(exported.stdout.decode('utf-8', 'replace'))}")
    for args in (["--period", "2026-13"], ["--period", "2026/11"], ["--top", "-1"]):
        proc = _cli(store, "report", *args)
        if proc.returncode != 2:
            problems.append(f"report {' '.join(args)}: exit {proc.returncode}, expected 2")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
