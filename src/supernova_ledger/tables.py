"""Human-readable tables of a report (SPEC §8), drawn with ``rich``. Pure text: no I/O.

Money is shown in yuan with two decimals, computed from integer fen with
``divmod`` (never floats): ``yuan(-404) == "-4.04"``. Columns are aligned by
display width, so Chinese city names and ids line up in a terminal
(East Asian wide and fullwidth characters take two cells).

Event data (ids, names, rejection messages) reaches a table only as
:class:`rich.text.Text` after :func:`printable`: rich never reads it as markup
(``[bold]`` stays literal text), and control characters (ESC, BEL, CR, C1,
bidirectional overrides, …) are written as ``\\xNN`` escapes, so a crafted id
cannot recolour, move the cursor or reorder the terminal's text.
"""

from __future__ import annotations

import io
import shlex
from collections.abc import Mapping, Sequence
from typing import Any, Final

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .results import Result
from .store.base import redact_url

__all__ = [
    "yuan",
    "percent",
    "printable",
    "display_width",
    "render_table",
    "render_report",
    "render_demo",
    "render_statement",
    "render_explain",
    "render_rejections",
    "render_compliance",
    "compliance_counts",
    "most",
]

#: A report, explanation or statement: a typed result or its JSON as a dict.
Report = Mapping[str, Any] | Result

#: Tables are drawn this wide at most: wide enough that no column wraps.
_WIDTH: Final = 1_000


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


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (ESC, BEL, CR, …), format
    characters (bidi overrides), line separators and lone surrogates are written
    as ``\\xNN`` / ``\\uNNNN`` escapes. Printable text passes unchanged."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append(_escaped(ch))
    return "".join(out)


def display_width(text: str) -> int:
    """Terminal cells ``text`` takes: two for wide and fullwidth characters, else one."""
    return cell_len(text)


def render_table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: Sequence[bool],
    *,
    footer: Sequence[str] | None = None,
) -> str:
    """A titled table: columns padded to their widest cell, ``right[i]`` aligns column i right.

    Every cell and the title are plain text (see :func:`printable`), never rich markup."""
    table = Table(
        box=box.SIMPLE, show_edge=False, pad_edge=False,
        show_footer=footer is not None, collapse_padding=True, padding=(0, 1),
    )
    for i, header in enumerate(headers):
        table.add_column(Text(printable(header)), justify="right" if right[i] else "left", no_wrap=True,
                         footer=Text(printable(footer[i])) if footer is not None else "")
    for row in rows:
        table.add_row(*(Text(printable(cell)) for cell in row))
    if not rows:
        table.add_row(Text("(none)"), *([""] * (len(headers) - 1)))
    out = io.StringIO()
    Console(file=out, width=_WIDTH, color_system=None, force_terminal=False, highlight=False,
            emoji=False, markup=False, legacy_windows=False).print(table)
    # The title is a line of its own: rich would wrap a title wider than the table.
    lines = [printable(title), *(line.rstrip() for line in out.getvalue().splitlines())]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


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
    journal: Sequence[Mapping[str, Any]] | None = None,
    all_orders: int | None = None,
    month: str | None = None,
) -> str:
    """:func:`render_report`, the rule breaches, how to read the headline, how to verify
    the result, and what to try next.

    ``journal``: the rejection journal's entries (SPEC §2.1), shown as the
    compliance section (by code, most refused groups and owners); without it,
    ``rejections_by_code`` (``None``: not known, the events were appended
    earlier). ``all_orders``: orders accepted in all, when known. ``month``:
    the month for the suggested statement.
    """
    store = printable(shlex.quote(redact_url(store_url)))  # the password is never shown
    if journal is not None:
        rejections = render_compliance(journal)
    elif rejections_by_code is None:
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
    return (render_report(report, top) + "\n" + rejections + "\n\n" + _headline(report, all_orders) + "\n\n"
            + audit + "\n\n" + _next_steps(report, store, month) + "\n")


def _headline(report: Report, all_orders: int | None) -> str:
    """How to read the headline numbers: group orders, ranked orders, all orders."""
    groups = report["groups"].values()
    group_orders = sum(g["orders"] for g in groups)
    ranked_orders = sum(r["orders"] for r in report["ranking"])
    net = sum(g["net_fen"] for g in groups)
    lines = ["Reading the numbers"]
    if all_orders is not None:
        lines.append(f"  {all_orders:,} orders were placed in all.")
    lines += [
        f"  {group_orders:,} of them were placed in a WeChat group: the group, city-tier and daily figures",
        f"    count these (net GMV {yuan(net)} yuan = paid minus refunded).",
        f"  {ranked_orders:,} were credited to a promoter at level 1: the ranking counts these. An order can be",
        "    in both, one or neither (bought outside any group, or credited to nobody).",
        "  Commission is earned on two levels only: the credited promoter (level 1) and their inviter (level 2).",
    ]
    return "\n".join(lines)


def _next_steps(report: Report, store: str, month: str | None) -> str:
    ranking = report["ranking"]
    lines = [
        "Next steps",
        "  See it as charts: one HTML file that opens offline in any browser:",
        f"    supernova-ledger report --store {store} --format html --out report.html",
        "    then open report.html (xdg-open report.html, or open report.html on macOS)",
    ]
    if ranking:
        top_id = shlex.quote(printable(ranking[0]["promoter_id"]))
        lines += [
            "  Explain the top promoter's commission, posting by posting:",
            f"    supernova-ledger explain {top_id} --store {store} --format table",
        ]
    if month is not None:
        lines += [
            f"  This month's statement ({month}): opening balances, movements, closing balances:",
            f"    supernova-ledger statement --period {month} --store {store} --format table",
        ]
    lines += [
        "  Check the books: replay the log and compare every log head:",
        f"    supernova-ledger verify --store {store}",
        "  Keep your own books: ingest JSON Lines, one event a line (docs/events.md lists every event):",
        "    supernova-ledger ingest events.jsonl --store sqlite:///my-books.db --rejects rejects.jsonl",
        "  Rejections, for finance, as CSV:",
        f"    supernova-ledger rejections --store {store} --format csv > rejections.csv",
    ]
    return "\n".join(lines)


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


def compliance_counts(
    entries: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Rejection-journal entries counted by code, by group and by promoter or owner."""
    by_code: dict[str, int] = {}
    by_group: dict[str, int] = {}
    by_promoter: dict[str, int] = {}
    for entry in entries:
        by_code[entry["code"]] = by_code.get(entry["code"], 0) + 1
        if entry["group_id"]:
            by_group[entry["group_id"]] = by_group.get(entry["group_id"], 0) + 1
        if entry["promoter_id"]:
            by_promoter[entry["promoter_id"]] = by_promoter.get(entry["promoter_id"], 0) + 1
    return by_code, by_group, by_promoter


def most(counts: Mapping[str, int], top: int) -> list[tuple[str, int]]:
    """The ``top`` largest counts, largest first, ties by key."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


def render_compliance(entries: Sequence[Mapping[str, Any]], top: int = 5) -> str:
    """Who broke the programme's rules: rejections by code, the most refused groups and owners."""
    by_code, by_group, by_promoter = compliance_counts(entries)

    def rows(counts: Mapping[str, int]) -> list[list[str]]:
        return [[key, f"{count:,}"] for key, count in most(counts, top)]

    return "\n\n".join([
        _rejections(by_code),
        render_table(f"Most refused groups (top {top})", ["group", "refused"], rows(by_group), [False, True]),
        render_table(f"Most refused promoters and owners (top {top})", ["promoter", "refused"], rows(by_promoter),
                     [False, True]),
    ])
