"""Human-readable tables of a report (SPEC §8). Pure text: no I/O.

Money is shown in yuan with two decimals, computed from integer fen with
``divmod`` (never floats): ``yuan(-404) == "-4.04"``. Columns are aligned by
display width, so Chinese city names and ids line up in a terminal
(East Asian wide and fullwidth characters take two cells).
"""

from __future__ import annotations

import shlex
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "yuan",
    "percent",
    "display_width",
    "render_table",
    "render_report",
    "render_demo",
    "render_statement",
    "render_explain",
    "render_rejections",
    "render_compliance",
]

Report = Mapping[str, Any]


def yuan(fen: int) -> str:
    """``123456`` → ``"1,234.56"``; ``-404`` → ``"-4.04"``. Integer arithmetic only."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def percent(part: int, whole: int) -> str:
    """``part / whole`` as a percentage with one decimal, rounded half up; ``"-"`` if whole is 0."""
    if whole == 0:
        return "-"
    sign = "-" if (part < 0) != (whole < 0) and part != 0 else ""
    tenths = (abs(part) * 2000 + abs(whole)) // (2 * abs(whole))  # round(1000 * part / whole)
    units, tenth = divmod(tenths, 10)
    return f"{sign}{units}.{tenth}%"


def display_width(text: str) -> int:
    """Terminal cells ``text`` takes: two for wide and fullwidth characters, else one."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - display_width(text))
    return fill + text if right else text + fill


def render_table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: Sequence[bool],
    *,
    footer: Sequence[str] | None = None,
) -> str:
    """A titled table: columns padded to their widest cell, ``right[i]`` aligns column i right."""
    body = [list(headers), *map(list, rows)]
    if footer is not None:
        body.append(list(footer))
    widths = [max(display_width(row[i]) for row in body) for i in range(len(headers))]
    rule = "  ".join("-" * w for w in widths)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(_pad(c, w, r) for c, w, r in zip(cells, widths, right)).rstrip()

    out = [title, line(headers), rule]
    out += [line(row) for row in rows]
    if not rows:
        out.append("(none)")
    if footer is not None:
        out += [rule, line(footer)]
    return "\n".join(out)


def _top_promoters(report: Report, top: int) -> str:
    promoters = report["promoters"]
    rows = []
    for entry in report["ranking"][:top]:
        p = promoters.get(entry["promoter_id"], {})
        rows.append([
            str(entry["rank"]),
            entry["promoter_id"],
            p.get("program", ""),
            yuan(entry["net_gmv_fen"]),
            str(entry["orders"]),
            yuan(p.get("level1_fen", 0)),
            yuan(p.get("level2_fen", 0)),
            str(p.get("invitees", 0)),
        ])
    return render_table(
        f"Top promoters by net GMV (yuan){_scope(report)}",
        ["#", "promoter", "programme", "net GMV", "orders", "level-1 comm.", "level-2 comm.", "invitees"],
        rows,
        [True, False, False, True, True, True, True, True],
    )


def _top_groups(report: Report, top: int) -> str:
    groups = report["groups"]
    ranked = sorted(groups.items(), key=lambda item: (-item[1]["net_fen"], item[0]))[:top]
    rows = [
        [
            str(i),
            gid,
            g["owner_id"],
            str(g["city_tier"]),
            "open" if g["open"] else "closed",
            str(g["members"]),
            str(g["orders"]),
            str(g["buyers"]),
            yuan(g["gross_fen"]),
            yuan(g["refunded_fen"]),
            yuan(g["net_fen"]),
        ]
        for i, (gid, g) in enumerate(ranked, 1)
    ]
    return render_table(
        f"Top groups by net GMV (yuan){_scope(report)}",
        ["#", "group", "owner", "tier", "state", "members", "orders", "buyers", "gross", "refunded", "net"],
        rows,
        [True, False, False, True, False, True, True, True, True, True, True],
    )


def _tiers(report: Report) -> str:
    tiers = report["tiers"]
    keys = sorted(tiers, key=int)
    total_groups = sum(tiers[k]["groups"] for k in keys)
    total_net = sum(tiers[k]["net_fen"] for k in keys)
    rows = [
        [
            f"tier {k}",
            str(tiers[k]["groups"]),
            percent(tiers[k]["groups"], total_groups),
            yuan(tiers[k]["net_fen"]),
            percent(tiers[k]["net_fen"], total_net),
        ]
        for k in keys
    ]
    lower = [k for k in keys if int(k) >= 3]
    lower_groups = sum(tiers[k]["groups"] for k in lower)
    lower_net = sum(tiers[k]["net_fen"] for k in lower)
    rows.append(["tier 3-5", str(lower_groups), percent(lower_groups, total_groups), yuan(lower_net),
                 percent(lower_net, total_net)])
    return render_table(
        f"City tiers (1 = first-tier cities){_scope(report)}",
        ["tier", "groups", "share", "net GMV", "share"],
        rows,
        [False, True, True, True, True],
        footer=["all", str(total_groups), percent(total_groups, total_groups), yuan(total_net),
                percent(total_net, total_net)],
    )


def _levels(report: Report) -> str:
    promoters = report["promoters"].values()
    level1 = sum(p["level1_fen"] for p in promoters)
    level2 = sum(p["level2_fen"] for p in promoters)
    earners1 = sum(1 for p in promoters if p["level1_fen"] != 0)
    earners2 = sum(1 for p in promoters if p["level2_fen"] != 0)
    total = level1 + level2
    return render_table(
        "Commission by level (yuan; two levels only)",
        ["level", "who", "promoters", "commission", "share"],
        [
            ["1", "credited promoter", str(earners1), yuan(level1), percent(level1, total)],
            ["2", "their inviter", str(earners2), yuan(level2), percent(level2, total)],
        ],
        [False, False, True, True, True],
        footer=["all", "", "", yuan(total), percent(total, total)],
    )


def _balances(report: Report) -> str:
    promoters = report["promoters"].values()
    names = [
        ("pending_fen", "pending", "estimated: orders not yet settled"),
        ("available_fen", "available", "settled, can be paid out"),
        ("in_payout_fen", "in payout", "requested, with the bank"),
        ("paid_out_fen", "paid out", "settled payouts"),
    ]
    rows = []
    total = 0
    for key, label, meaning in names:
        amount = sum(p[key] for p in promoters)
        total += amount
        rows.append([label, yuan(amount), meaning])
    negative = sum(1 for p in promoters if p["available_fen"] < 0)
    if negative:
        rows.append(["", "", f"{negative} promoter(s) owe clawbacks (negative available)"])
    return render_table(
        "Balances (yuan)",
        ["balance", "amount", "meaning"],
        rows,
        [False, True, False],
        footer=["all", yuan(total), "= level-1 + level-2 commission"],
    )


def _scope(report: Report) -> str:
    period = report.get("period")
    return f", period {period}" if period else ""


def _summary(report: Report) -> str:
    promoters = report["promoters"]
    groups = report["groups"]
    open_groups = sum(1 for g in groups.values() if g["open"])
    orders = sum(g["orders"] for g in groups.values())
    parts = [
        f"{report['events']:,} events",
        f"{len(promoters):,} promoters",
        f"{len(groups):,} groups ({open_groups:,} open)",
        f"{orders:,} group orders",
    ]
    period = report.get("period")
    if period:
        parts.append(f"period {period}")
    return "Ledger: " + ", ".join(parts)


def render_report(report: Report, top: int = 10) -> str:
    """The report as readable tables: top promoters and groups, tiers, levels, balances."""
    sections = [
        _summary(report),
        _top_promoters(report, top),
        _top_groups(report, top),
        _tiers(report),
        _levels(report),
        _balances(report),
    ]
    return "\n\n".join(sections) + "\n"


def _rejections(rejections_by_code: Mapping[str, int]) -> str:
    ordered = sorted(rejections_by_code.items(), key=lambda item: (-item[1], item[0]))
    total = sum(rejections_by_code.values())
    return render_table(
        "Rejected events by code (nothing appended, nothing changed)",
        ["code", "events"],
        [[code, f"{count:,}"] for code, count in ordered],
        [False, True],
        footer=["all", f"{total:,}"],
    )


def render_demo(
    report: Report,
    rejections_by_code: Mapping[str, int] | None,
    store_url: str,
    *,
    top: int = 10,
) -> str:
    """:func:`render_report`, the rejections by code, and how to verify the result.

    ``rejections_by_code=None``: not known (the events were appended earlier).
    """
    store = shlex.quote(store_url)
    if rejections_by_code is None:
        rejections = "Rejected events by code: not known here (the events were appended earlier)"
    else:
        rejections = _rejections(rejections_by_code)
    audit = "\n".join([
        "Audit",
        f"  log_head  {report['log_head']}",
        f"  digest    {report['digest']}",
        "",
        "  Replay the log and check the log head:",
        f"    supernova-ledger verify --store {store}",
        "  Recompute the report; its \"log_head\" and \"digest\" must equal the ones above:",
        f"    supernova-ledger report --store {store}",
    ])
    return render_report(report, top) + "\n" + rejections + "\n\n" + audit + "\n"


_BALANCE_COLUMNS = ("pending_fen", "available_fen", "in_payout_fen", "paid_out_fen")


def render_statement(statement: Report) -> str:
    """A statement (SPEC §8.3) as one row per promoter, in yuan, with a totals row."""
    state = "closed" if statement["closed"] else "open"
    headers = ["promoter", "opening avail.", "earned L1", "earned L2", "clawed back", "settled", "payouts",
               "paid", "returned", "closing pending", "closing avail.", "closing paid out"]

    def row(name: str, a: Mapping[str, Any]) -> list[str]:
        return [
            name, yuan(a["opening"]["available_fen"]), yuan(a["earned_l1_fen"]), yuan(a["earned_l2_fen"]),
            yuan(a["clawed_back_l1_fen"] + a["clawed_back_l2_fen"]), yuan(a["settled_fen"]), yuan(a["payout_fen"]),
            yuan(a["paid_fen"]), yuan(a["returned_fen"]), yuan(a["closing"]["pending_fen"]),
            yuan(a["closing"]["available_fen"]), yuan(a["closing"]["paid_out_fen"]),
        ]

    table = render_table(
        f"Statement {statement['period']} ({state}; yuan; after {statement['events']:,} events)",
        headers,
        [row(pid, account) for pid, account in sorted(statement["promoters"].items())],
        [False] + [True] * (len(headers) - 1),
        footer=row("all", statement["totals"]),
    )
    return table + f"\nlog_head {statement['log_head']}\ndigest   {statement['digest']}\n"


def render_explain(explanation: Report) -> str:
    """An explanation (SPEC §8.2): the promoter's postings in log order, then its balances."""
    rows = [
        [
            str(p["position"]), p["event_id"], p["book"], p["kind"], "" if p["level"] is None else f"L{p['level']}",
            p["order_id"] or p["payout_id"] or "", p["sku"] or "",
            "" if p["rate_bps"] is None else f"{p['rate_bps']} bps", "" if p["base_fen"] is None else yuan(p["base_fen"]),
            f"{p['from'] or ''} -> {p['to'] or ''}", yuan(p["amount_fen"]),
        ]
        for p in explanation["postings"]
    ]
    scope = f", booked in {explanation['period']}" if explanation["period"] else ""
    table = render_table(
        f"Postings of {explanation['promoter_id']}{scope} (yuan; after {explanation['events']:,} events)",
        ["pos", "event", "book", "kind", "lvl", "order/payout", "sku", "rate", "base", "moves", "amount"],
        rows,
        [True, False, False, False, False, False, False, True, True, False, True],
    )
    balances = explanation["balances"]
    summary = "  ".join(f"{name[:-4]} {yuan(balances[name])}" for name in (*_BALANCE_COLUMNS, "level1_fen", "level2_fen"))
    return f"{table}\nBalances: {summary}\n"


def render_rejections(entries: Sequence[Mapping[str, Any]]) -> str:
    """Rejection-journal entries (SPEC §2.1), oldest first."""
    return render_table(
        "Rejection journal (oldest first)",
        ["position", "id", "type", "code", "promoter", "group", "order", "payout", "message"],
        [
            [str(e["position"]), e["id"] or "", e["type"] or "", e["code"], e["promoter_id"] or "",
             e["group_id"] or "", e["order_id"] or "", e["payout_id"] or "", e["message"]]
            for e in entries
        ],
        [True] + [False] * 8,
    ) + "\n"


def render_compliance(entries: Sequence[Mapping[str, Any]], top: int = 5) -> str:
    """Who broke the programme's rules: rejections by code, the most refused groups and owners."""
    by_code: dict[str, int] = {}
    by_group: dict[str, int] = {}
    by_promoter: dict[str, int] = {}
    for entry in entries:
        by_code[entry["code"]] = by_code.get(entry["code"], 0) + 1
        if entry["group_id"]:
            by_group[entry["group_id"]] = by_group.get(entry["group_id"], 0) + 1
        if entry["promoter_id"]:
            by_promoter[entry["promoter_id"]] = by_promoter.get(entry["promoter_id"], 0) + 1

    def most(counts: Mapping[str, int]) -> list[list[str]]:
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
        return [[key, f"{count:,}"] for key, count in ordered]

    return "\n\n".join([
        _rejections(by_code),
        render_table(f"Most refused groups (top {top})", ["group", "refused"], most(by_group), [False, True]),
        render_table(f"Most refused promoters and owners (top {top})", ["promoter", "refused"], most(by_promoter),
                     [False, True]),
    ])
