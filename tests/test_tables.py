"""Human-readable tables: exact figures from a small report written by hand (SPEC §10)."""

from __future__ import annotations

from typing import Any

import pytest

from supernova_ledger.tables import display_width, percent, render_demo, render_report, render_table, yuan

# The SPEC §10 worked example's final figures, plus a tier-1 group in 北京.
REPORT: dict[str, Any] = {
    "format": "supernova-ledger/report@1",
    "events": 12,
    "log_head": "533004cce5c2746a24ca195f00b10f94b1ea568fc7699cd51ebeaadc2394c948",
    "period": None,
    "promoters": {
        "A": {"program": "fenxiang", "inviter_id": None, "qualified": False, "suspended": False, "invitees": 1,
              "pending_fen": 0, "available_fen": 198, "in_payout_fen": 0, "paid_out_fen": 0,
              "level1_fen": 0, "level2_fen": 198},
        "B": {"program": "fenxiang", "inviter_id": "A", "qualified": True, "suspended": False, "invitees": 0,
              "pending_fen": 0, "available_fen": -404, "in_payout_fen": 0, "paid_out_fen": 1500,
              "level1_fen": 1096, "level2_fen": 0},
    },
    "groups": {
        "g1": {"owner_id": "B", "open": True, "city_tier": 4, "members": 1, "pushes": 0, "orders": 1,
               "buyers": 1, "gross_fen": 29890, "refunded_fen": 4995, "net_fen": 24895},
        "北京一群": {"owner_id": "B", "open": False, "city_tier": 1, "members": 0, "pushes": 0, "orders": 0,
                 "buyers": 0, "gross_fen": 0, "refunded_fen": 0, "net_fen": 0},
    },
    "tiers": {
        "1": {"groups": 1, "net_fen": 0},
        "2": {"groups": 0, "net_fen": 0},
        "3": {"groups": 0, "net_fen": 0},
        "4": {"groups": 1, "net_fen": 24895},
        "5": {"groups": 0, "net_fen": 0},
    },
    "ranking": [{"rank": 1, "promoter_id": "B", "net_gmv_fen": 24895, "orders": 1}],
    "digest": "363493d66ddbf3e8886947d20da52f84d8451c2bc2cf622193c6cbeb42b615de",
}


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"), (5, "0.05"), (99, "0.99"), (100, "1.00"), (24895, "248.95"), (-404, "-4.04"),
        (-5, "-0.05"), (-100, "-1.00"), (123_456_789, "1,234,567.89"), (10**12, "10,000,000,000.00"),
    ],
)
def test_yuan_uses_integer_arithmetic(fen: int, text: str) -> None:
    assert yuan(fen) == text


def test_yuan_is_exact_where_floats_are_not() -> None:
    big = 2**53 + 1  # a float would round this
    assert yuan(big) == f"{big // 100:,}.{big % 100:02d}"


@pytest.mark.parametrize(
    ("part", "whole", "text"),
    [(1, 3, "33.3%"), (2, 3, "66.7%"), (1, 8, "12.5%"), (1, 16, "6.3%"), (0, 5, "0.0%"), (5, 5, "100.0%"),
     (1, 0, "-"), (-1, 4, "-25.0%")],
)
def test_percent_rounds_half_up(part: int, whole: int, text: str) -> None:
    assert percent(part, whole) == text


def test_display_width_counts_wide_characters_twice() -> None:
    assert display_width("临沂") == 4
    assert display_width("g1") == 2
    assert display_width("北京一群") == 8
    assert display_width("ＡＢ") == 4  # fullwidth


def test_columns_align_by_display_width() -> None:
    text = render_table("Cities", ["city", "tier"], [["北京", "1"], ["临沂市区", "3"], ["Xian", "2"]], [False, True])
    lines = text.splitlines()
    assert lines[0] == "Cities"
    assert {display_width(line) for line in lines[1:]} == {len("临沂市区") * 2 + 2 + 4}
    assert lines[3] == "北京" + " " * 9 + "1"  # 2 cells of text + 6 of padding, 2 of gap, 3 of padding
    assert lines[4] == "临沂市区     3"
    assert lines[5] == "Xian         2"


def test_top_promoters_row() -> None:
    text = render_report(REPORT)
    row = next(line for line in text.splitlines() if line.lstrip().startswith("1  B "))
    assert row.split() == ["1", "B", "fenxiang", "248.95", "1", "10.96", "0.00", "0"]


def test_top_groups_sorted_by_net_gmv_then_id() -> None:
    lines = render_report(REPORT).splitlines()
    start = lines.index("Top groups by net GMV (yuan)")
    assert lines[start + 3].split() == ["1", "g1", "B", "4", "open", "1", "1", "1", "298.90", "49.95", "248.95"]
    assert lines[start + 4].split() == ["2", "北京一群", "B", "1", "closed", "0", "0", "0", "0.00", "0.00", "0.00"]


def test_tier_split_and_lower_tiers() -> None:
    lines = render_report(REPORT).splitlines()
    assert "tier 4         1   50.0%   248.95  100.0%" in lines
    assert "tier 3-5       1   50.0%   248.95  100.0%" in lines
    assert "all            2  100.0%   248.95  100.0%" in lines


def test_levels_and_balances_totals() -> None:
    text = render_report(REPORT)
    lines = text.splitlines()
    level1 = next(line for line in lines if line.startswith("1      credited promoter"))
    assert level1.split()[-2:] == ["10.96", "84.7%"]
    level2 = next(line for line in lines if line.startswith("2      their inviter"))
    assert level2.split()[-2:] == ["1.98", "15.3%"]
    available = next(line for line in lines if line.startswith("available"))
    assert available.split()[1] == "-2.06"  # -404 + 198 fen
    paid = next(line for line in lines if line.startswith("paid out"))
    assert paid.split()[2] == "15.00"
    assert "1 promoter(s) owe clawbacks (negative available)" in text
    assert "all         12.94  = level-1 + level-2 commission" in lines


def test_top_limits_rows() -> None:
    lines = render_report(REPORT, top=1).splitlines()
    start = lines.index("Top groups by net GMV (yuan)")
    assert lines[start + 3].split()[1] == "g1"
    assert lines[start + 4] == ""


def test_period_is_shown() -> None:
    text = render_report({**REPORT, "period": "2026-11"})
    assert "Top promoters by net GMV (yuan), period 2026-11" in text
    assert text.startswith("Ledger: 12 events, 2 promoters, 2 groups (1 open), 1 group orders, period 2026-11")


def test_empty_report_renders() -> None:
    empty = {**REPORT, "events": 0, "promoters": {}, "groups": {}, "ranking": [],
             "tiers": {str(t): {"groups": 0, "net_fen": 0} for t in range(1, 6)}}
    text = render_report(empty)
    assert "(none)" in text
    assert "all            0      -     0.00      -" in text.splitlines()


def test_render_demo_adds_rejections_and_audit_commands() -> None:
    text = render_demo(REPORT, {"unknown_order": 2, "below_minimum_payout": 5}, "sqlite:///my books.db")
    lines = text.splitlines()
    start = lines.index("Rejected events by code (nothing appended, nothing changed)")
    assert lines[start + 3].split() == ["below_minimum_payout", "5"]
    assert lines[start + 4].split() == ["unknown_order", "2"]
    assert lines[start + 6].split() == ["all", "7"]
    assert f"  log_head  {REPORT['log_head']}" in lines
    assert f"  digest    {REPORT['digest']}" in lines
    assert "    supernova-ledger verify --store 'sqlite:///my books.db'" in lines
    assert "    supernova-ledger report --store 'sqlite:///my books.db'" in lines


def test_render_demo_without_known_rejections() -> None:
    text = render_demo(REPORT, None, "memory:")
    assert "not known here" in text
    assert "supernova-ledger verify --store memory:" in text
