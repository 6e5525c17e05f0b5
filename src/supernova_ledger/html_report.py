"""``report --format html``: one self-contained HTML file with charts, for people.

The page is static: inline CSS and inline SVG drawn here with integer
arithmetic, no script to run and no URL to fetch, so it opens offline in any
browser, prints, and can be mailed as one file (see docs/html-report.md for
why no charting library). Every figure comes from the same fold as the JSON
report: :func:`chart_data` derives the charts' numbers from the typed
:class:`~supernova_ledger.results.Report` (plus the daily series, the
rejection journal and a statement), and the page carries them as JSON in
``<script type="application/json" id="chart-data">`` so a test — or an
auditor — can compare them with ``supernova-ledger report``.

Rendering (:func:`chart_data`, :func:`render_html`) is pure; :func:`gather`
reads the ledger.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec

from .events import canonical_json
from .results import DayFigures, Report, Statement
from .tables import compliance_counts, most, percent, printable, yuan

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["HTML_FORMAT", "TOP", "GROUP_SIZES", "gather", "chart_data", "render_html"]

HTML_FORMAT: Final = "supernova-ledger/html-report@1"
#: Rows in the top-N charts.
TOP: Final = 10
#: Group-size buckets: (label, smallest, largest or None).
GROUP_SIZES: Final = (("0", 0, 0), ("1-4", 1, 4), ("5-9", 5, 9), ("10-19", 10, 19), ("20-49", 20, 49),
                      ("50-99", 50, 99), ("100-199", 100, 199), ("200+", 200, None))
_BALANCES: Final = (("pending_fen", "pending"), ("available_fen", "available"), ("in_payout_fen", "in payout"),
                    ("paid_out_fen", "paid out"))


# -- the numbers ------------------------------------------------------------------------


def gather(ledger: Ledger, report: Report, until: int | None = None) -> dict[str, Any]:
    """The charts' numbers for ``report`` (made by ``ledger.report(..., until=until)``)."""
    daily = ledger.daily(until=until)
    entries = [msgspec.to_builtins(entry) for entry in ledger.rejections()]
    period = report.period
    statement: Statement | None
    if period is not None:
        statement = ledger.statement(period[:7], until=until)
        latest = False
    else:
        statement = ledger.latest_statement(until=until)
        latest = True
    return chart_data(report, daily, entries, statement, statement_is_latest=latest)


def _in_period(day: str, period: str | None) -> bool:
    return period is None or day == period or day.startswith(period + "-")


def chart_data(
    report: Report,
    daily: Sequence[DayFigures],
    rejections: Sequence[Mapping[str, Any]],
    statement: Statement | None,
    *,
    statement_is_latest: bool = False,
) -> dict[str, Any]:
    """Every number the page shows, as JSON values (integers and strings only)."""
    promoters = report.promoters.values()
    groups = report.groups.values()
    tiers = [{"tier": int(t), "groups": report.tiers[t].groups, "net_fen": report.tiers[t].net_fen}
             for t in sorted(report.tiers, key=int)]
    all_groups = sum(t["groups"] for t in tiers)
    all_net = sum(t["net_fen"] for t in tiers)
    lower_groups = sum(t["groups"] for t in tiers if t["tier"] >= 3)
    lower_net = sum(t["net_fen"] for t in tiers if t["tier"] >= 3)
    sizes = []
    for label, low, high in GROUP_SIZES:
        count = sum(1 for g in groups if g.members >= low and (high is None or g.members <= high))
        sizes.append({"members": label, "groups": count})
    by_code, by_group, by_owner = compliance_counts(rejections)
    return {
        "format": HTML_FORMAT,
        "events": report.events,
        "log_head": report.log_head,
        "digest": report.digest,
        "period": report.period,
        "summary": {
            "promoters": len(report.promoters),
            "groups": len(report.groups),
            "open_groups": sum(1 for g in groups if g.open),
            "group_orders": sum(g.orders for g in groups),
            "ranked_orders": sum(r.orders for r in report.ranking),
            "gross_fen": sum(g.gross_fen for g in groups),
            "refunded_fen": sum(g.refunded_fen for g in groups),
            "net_fen": sum(g.net_fen for g in groups),
        },
        "daily": [day.to_dict() for day in daily if _in_period(day.day, report.period)],
        "tiers": tiers,
        "tier_3_5": {"groups": lower_groups, "net_fen": lower_net, "groups_share": percent(lower_groups, all_groups),
                     "net_share": percent(lower_net, all_net)},
        "top_promoters": [r.to_dict() for r in report.ranking[:TOP]],
        "levels": {"level1_fen": sum(p.level1_fen for p in promoters),
                   "level2_fen": sum(p.level2_fen for p in promoters)},
        "balances": {key: sum(getattr(p, key) for p in promoters) for key, _ in _BALANCES},
        "group_sizes": sizes,
        "rejections": {
            "total": len(rejections),
            "by_code": [{"code": code, "events": n} for code, n in most(by_code, len(by_code))],
            "groups": [{"group_id": key, "events": n} for key, n in most(by_group, TOP)],
            "owners": [{"promoter_id": key, "events": n} for key, n in most(by_owner, TOP)],
        },
        "statement": None if statement is None else {
            "period": statement.period,
            "closed": statement.closed,
            "latest": statement_is_latest,
            "promoters": len(statement.promoters),
            "totals": statement.totals.to_dict(),
        },
    }


# -- drawing -----------------------------------------------------------------------------

_LABEL_W: Final = 190
_BAR_W: Final = 430
_VALUE_W: Final = 130
_ROW_H: Final = 24


def _e(text: str) -> str:
    """Text from event data, safe in HTML text and attributes (controls escaped visibly)."""
    return html.escape(printable(text), quote=True)


def _short(text: str, cells: int = 26) -> str:
    return text if len(text) <= cells else text[: cells - 1] + "…"


def _hbars(name: str, title: str, rows: Sequence[tuple[str, int]], *, money: bool, tone: str = "a") -> str:
    """Horizontal bars, one per row, from a zero line (negative values go left)."""
    def fmt(value: int) -> str:
        return yuan(value) if money else f"{value:,}"

    height = max(1, len(rows)) * _ROW_H + 8
    width = _LABEL_W + _BAR_W + _VALUE_W
    parts = [f'<div class="cap">{_e(title)}</div>',
             f'<svg class="chart" data-chart="{name}" role="img" aria-label="{_e(title)}" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">', f"<title>{_e(title)}</title>"]
    if not rows:
        parts.append(f'<text x="{_LABEL_W}" y="20" class="none">none</text>')
    else:
        values = [value for _, value in rows]
        low, high = min(0, *values), max(0, *values)
        span = (high - low) or 1
        zero = _LABEL_W + (-low) * _BAR_W // span
        for i, (label, value) in enumerate(rows):
            y = 4 + i * _ROW_H
            end = _LABEL_W + (value - low) * _BAR_W // span
            x, w = min(zero, end), abs(end - zero)
            if value and not w:
                w = 1
            tone_class = "neg" if value < 0 else tone
            parts.append(f'<text class="label" x="{_LABEL_W - 8}" y="{y + 16}" text-anchor="end">'
                         f"{_e(_short(label))}</text>")
            parts.append(f'<rect class="bar {tone_class}" x="{x}" y="{y + 3}" width="{w}" height="{_ROW_H - 6}" '
                         f'data-label="{_e(label)}" data-value="{value}"><title>{_e(label)}: {fmt(value)}</title></rect>')
            parts.append(f'<text class="value" x="{_LABEL_W + _BAR_W + 8}" y="{y + 16}">{fmt(value)}</text>')
        parts.append(f'<line class="axis" x1="{zero}" y1="0" x2="{zero}" y2="{height}"/>')
    parts.append("</svg>")
    return "".join(parts)


_SERIES: Final = (("gross_fen", "gross", "a"), ("refunded_fen", "refunded", "neg"), ("net_fen", "net", "b"))


def _daily_chart(days: Sequence[Mapping[str, Any]]) -> str:
    """Gross, refunded and net GMV of group orders per local day: three lines."""
    left, top, plot_w, plot_h, bottom = 100, 12, 620, 220, 40
    width, height = left + plot_w + 60, top + plot_h + bottom
    parts = [f'<svg class="chart" data-chart="daily" role="img" aria-label="GMV per day" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">', "<title>GMV per day</title>"]
    if not days:
        parts.append(f'<text x="{left}" y="30" class="none">no group orders</text></svg>')
        return "".join(parts)
    n = len(days)
    peak: int = max(1, *(int(day[key]) for day in days for key, _, _ in _SERIES))

    def x(i: int) -> int:
        return left + (i * plot_w // (n - 1) if n > 1 else plot_w // 2)

    def y(value: int) -> int:
        return top + plot_h - value * plot_h // peak

    for k in range(5):  # grid and y labels: 0, 1/4, 1/2, 3/4 and the peak
        value = peak * k // 4
        parts.append(f'<line class="grid" x1="{left}" y1="{y(value)}" x2="{left + plot_w}" y2="{y(value)}"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{y(value) + 4}" text-anchor="end">{yuan(value)}</text>')
    for i in sorted({0, n // 2, n - 1}):
        parts.append(f'<text class="tick" x="{x(i)}" y="{top + plot_h + 18}" text-anchor="middle">'
                     f"{_e(days[i]['day'])}</text>")
    for key, label, tone in _SERIES:
        points = " ".join(f"{x(i)},{y(day[key])}" for i, day in enumerate(days))
        parts.append(f'<polyline class="line {tone}" data-series="{key}" points="{points}"><title>{label}</title>'
                     "</polyline>")
        if n <= 62:
            parts += [f'<circle class="dot {tone}" cx="{x(i)}" cy="{y(day[key])}" r="3" data-value="{day[key]}">'
                      f"<title>{_e(day['day'])} {label}: {yuan(day[key])}</title></circle>" for i, day in enumerate(days)]
    legend_x = left
    for _key, label, tone in _SERIES:
        parts.append(f'<rect class="bar {tone}" x="{legend_x}" y="{height - 14}" width="12" height="8"/>'
                     f'<text class="tick" x="{legend_x + 16}" y="{height - 6}">{label}</text>')
        legend_x += 110
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="{"num" if i >= numeric_from else ""}">{_e(c)}</td>' for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STATEMENT_ROWS: Final = (
    ("opening available", ("opening", "available_fen")),
    ("earned, level 1", ("earned_l1_fen",)),
    ("earned, level 2", ("earned_l2_fen",)),
    ("clawed back, level 1", ("clawed_back_l1_fen",)),
    ("clawed back, level 2", ("clawed_back_l2_fen",)),
    ("settled (pending → available)", ("settled_fen",)),
    ("payouts requested", ("payout_fen",)),
    ("paid out", ("paid_fen",)),
    ("returned (failed payouts)", ("returned_fen",)),
    ("closing pending", ("closing", "pending_fen")),
    ("closing available", ("closing", "available_fen")),
    ("closing in payout", ("closing", "in_payout_fen")),
    ("closing paid out", ("closing", "paid_out_fen")),
)


def _statement_section(statement: Mapping[str, Any] | None) -> str:
    if statement is None:
        return "<p>No posting has been booked yet: there is no statement to show.</p>"
    totals = statement["totals"]
    rows = []
    for label, path in _STATEMENT_ROWS:
        value: Any = totals
        for key in path:
            value = value[key]
        rows.append([label, yuan(value)])
    which = ("the latest month with postings (no --period was given)" if statement["latest"]
             else "the month of the report's period")
    state = "closed: these figures will not change" if statement["closed"] else "open: later events may still book here"
    return (f"<p>Statement <b>{_e(statement['period'])}</b>, {which}; {state}. Totals over "
            f"{statement['promoters']:,} promoters, in yuan "
            f"(<code>supernova-ledger statement --period {_e(statement['period'])}</code>).</p>"
            + _table(["movement", "yuan"], rows))


_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Noto Sans CJK SC",sans-serif;
 margin:24px auto;max-width:1000px;color:#1d2330;background:#fff;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h3{font-size:14px;margin:14px 0 2px}
.cap{font-size:13px;font-weight:600;margin:12px 0 0}h2{font-size:17px;margin:28px 0 6px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
.meta{color:#5b6472;font-size:12px;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{border:1px solid #dde2ea;border-radius:6px;padding:8px 12px;min-width:130px}
.card b{display:block;font-size:18px}.card span{color:#5b6472;font-size:12px}
svg.chart{display:block;max-width:100%;height:auto;margin:6px 0}
.bar.a,.dot.a{fill:#3b6fd8}.bar.b,.dot.b{fill:#18a37a}.bar.c{fill:#e0a526}.bar.neg,.dot.neg{fill:#d9534f}
.line{fill:none;stroke-width:2}.line.a{stroke:#3b6fd8}.line.b{stroke:#18a37a}.line.neg{stroke:#d9534f}
.label,.value,.tick,.none{font-size:12px;fill:#1d2330}.tick{fill:#5b6472}
.axis{stroke:#8a93a3}.grid{stroke:#eceff4}
table{border-collapse:collapse;margin:6px 0}td,th{border-bottom:1px solid #eceff4;padding:3px 10px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#5b6472;font-size:13px}
code{background:#f3f5f8;padding:1px 4px;border-radius:3px}
"""


def _json_in_html(data: Mapping[str, Any]) -> str:
    """Canonical JSON that cannot end its ``<script>`` element early."""
    text = canonical_json(data).decode("utf-8")
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(data: Mapping[str, Any]) -> str:
    """The page for :func:`chart_data`'s ``data``: static HTML, inline CSS and SVG, no script, no URL."""
    s = data["summary"]
    lower = data["tier_3_5"]
    levels, balances = data["levels"], data["balances"]
    rejections = data["rejections"]
    period = data["period"]
    scope = f"period {period}" if period else "all periods"
    cards = [
        (f"{data['events']:,}", "events in the log"),
        (f"{s['promoters']:,}", "promoters"),
        (f"{s['groups']:,}", f"groups ({s['open_groups']:,} open)"),
        (f"{s['group_orders']:,}", f"orders placed in groups ({scope})"),
        (yuan(s["net_fen"]), f"net GMV of group orders, yuan ({scope})"),
        (lower["groups_share"], "of groups are in tier 3-5 cities"),
        (yuan(levels["level1_fen"] + levels["level2_fen"]), "commission earned to date, yuan"),
        (f"{rejections['total']:,}", "events refused"),
    ]
    card_html = "".join(f'<div class="card"><b>{_e(v)}</b><span>{_e(t)}</span></div>' for v, t in cards)
    daily = data["daily"]
    days_note = (f"{len(daily)} {'day' if len(daily) == 1 else 'days'} with group orders; an order counts on "
                 "the local date it was placed, its refunds with it.")
    tiers = data["tiers"]
    sections = [
        ("Daily GMV of group orders (yuan)",
         f"<p class='note'>{_e(days_note)}</p>" + _daily_chart(daily)),
        ("City tiers",
         f"<p>Tier 3-5 cities hold <b>{_e(lower['groups_share'])}</b> of the groups ({lower['groups']:,}) and "
         f"<b>{_e(lower['net_share'])}</b> of the net GMV ({yuan(lower['net_fen'])} yuan, {scope}).</p>"
         + _hbars("tier-gmv", "Net GMV by city tier (yuan)", [(f"tier {t['tier']}", t["net_fen"]) for t in tiers],
                  money=True)
         + _hbars("tier-groups", "Groups by city tier", [(f"tier {t['tier']}", t["groups"]) for t in tiers],
                  money=False, tone="b")),
        (f"Top {TOP} promoters by net GMV (yuan)",
         f"<p class='note'>The ranking counts the orders credited to a promoter at level 1 ({scope}): "
         f"{s['ranked_orders']:,} orders. The group figures count the orders placed in a group: "
         f"{s['group_orders']:,}. An order can be in both, one or neither (an order outside any group, "
         "or one credited to nobody).</p>"
         + _hbars("top-promoters", "Top promoters by net GMV",
                  [(r["promoter_id"], r["net_gmv_fen"]) for r in data["top_promoters"]], money=True)),
        ("Commission by level (yuan)",
         "<p class='note'>Two levels only: the promoter credited with the order, and the person who invited them. "
         "Balances are the state after the events, whatever the period.</p>"
         + _hbars("levels", "Commission by level",
                  [("level 1 (credited promoter)", levels["level1_fen"]),
                   ("level 2 (their inviter)", levels["level2_fen"])], money=True)
         + _hbars("balances", "Where the commission is now",
                  [(label, balances[key]) for key, label in _BALANCES], money=True, tone="c")),
        ("Group sizes (current members)",
         _hbars("group-sizes", "Groups by current members",
                [(f"{b['members']} members", b["groups"]) for b in data["group_sizes"]], money=False, tone="b")),
        ("Rule breaches: refused events",
         f"<p class='note'>{rejections['total']:,} events were refused and changed nothing (the rejection "
         "journal: <code>supernova-ledger rejections</code>).</p>"
         + _hbars("rejections-by-code", "Refused events by code",
                  [(r["code"], r["events"]) for r in rejections["by_code"]], money=False, tone="neg")
         + _hbars("refused-groups", f"Most refused groups (top {TOP})",
                  [(r["group_id"], r["events"]) for r in rejections["groups"]], money=False, tone="neg")
         + _hbars("refused-owners", f"Most refused promoters and owners (top {TOP})",
                  [(r["promoter_id"], r["events"]) for r in rejections["owners"]], money=False, tone="neg")),
        ("Statement of the month", _statement_section(data["statement"])),
    ]
    body = "".join(f"<section><h2>{_e(title)}</h2>{content}</section>" for title, content in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Nothing may be fetched: no script runs, no image, font or style is loaded from anywhere.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>supernova-ledger report, {_e(scope)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Programme report, {_e(scope)}</h1>"
        f"<p class='meta'>After {data['events']:,} events. log_head {_e(data['log_head'])}; report digest "
        f"{_e(data['digest'])}. Every figure here is the JSON report's (<code>supernova-ledger report</code>); "
        "the numbers behind the charts are in this file as JSON (id chart-data).</p>"
        f'<div class="cards">{card_html}</div>{body}'
        f'<script type="application/json" id="chart-data">{_json_in_html(data)}</script>'
        "</body></html>\n"
    )
