"""The HTML report: one self-contained file, the charts drawn by Altair (Vega-Lite).

The Vega, Vega-Lite and vega-embed JavaScript is inlined once (``vl_convert``'s
bundle), each chart's spec beside it: the file loads nothing from the network and opens
anywhere, offline. Once every chart has rendered, ``<body data-charts>`` holds their
number (a test in headless Chromium waits for it).
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import altair as alt
import vl_convert

from ..adapters import ReportSection
from . import report_rows as rep

#: Colours used across the charts: kept, missed, neutral.
GOOD, BAD, NEUTRAL = "#2e7d32", "#c62828", "#546e7a"


@functools.lru_cache(maxsize=1)
def _bundle() -> str:
    """The Vega, Vega-Lite and vega-embed JavaScript, once per process (building it takes a second or two)."""
    return vl_convert.javascript_bundle(vl_version=_vl_version())


def _vl_version() -> str:
    """Vega-Lite ``vMAJOR_MINOR`` of the schema Altair writes, as vl_convert names its bundles."""
    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    return f"v{major}_{minor}"


def weekly_chart(weekly: list[Mapping[str, Any]]) -> alt.Chart | None:
    """On-time share by week of the promised last day, with how many were due."""
    rows = [w for w in weekly if w["due"]]
    if not rows:
        return None
    base = alt.Chart(alt.Data(values=rows), title="On time, by week due").encode(
        x=alt.X("week:O", title="week of the promised last day (Monday)", axis=alt.Axis(labelAngle=0)),
        tooltip=[alt.Tooltip("week:O"), alt.Tooltip("due:Q", title="orders due"), alt.Tooltip("on_time:Q"),
                 alt.Tooltip("on_time_rate:Q", format=".1%", title="on time")])
    line = base.mark_line(point=alt.OverlayMarkDef(color=GOOD, size=60), color=GOOD).encode(
        y=alt.Y("on_time_rate:Q", title="on time", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])))
    return line.properties(width=520, height=220)


def lateness_chart(lateness: Mapping[str, Any]) -> alt.Chart | None:
    """Orders by days after the promised last day (negative: early), and those never delivered."""
    rows = [{"label": rep.days(d["days_late"]), "orders": d["orders"],
             "outcome": "on time" if d["days_late"] <= 0 else "late"} for d in lateness["days"]]
    if lateness["not_delivered"]:
        rows.append({"label": "not delivered", "orders": lateness["not_delivered"], "outcome": "late"})
    if not rows:
        return None
    return alt.Chart(alt.Data(values=rows), title="Delivered, days after the promised last day").mark_bar().encode(
        x=alt.X("label:N", sort=[r["label"] for r in rows], title="days after the promised last day",
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("orders:Q", title="orders"),
        color=alt.Color("outcome:N", scale=alt.Scale(domain=["on time", "late"], range=[GOOD, BAD]), title=None),
        tooltip=[alt.Tooltip("label:N", title="days"), alt.Tooltip("orders:Q")],
    ).properties(width=520, height=220)


def carrier_chart(carriers: list[Mapping[str, Any]]) -> alt.HConcatChart | alt.Chart | None:
    """Each carrier's shares (on time, within its stated transit, exceptions) beside its transit days."""
    if not carriers:
        return None
    shares, transit = [], []
    for c in carriers:
        name = c["carrier"] + (f" ({c['instance']})" if c["instance"] and c["instance"] != c["carrier"] else "")
        for measure, value in (("on time", c["on_time_rate"]), ("within stated transit", c["stated_days"]["within_rate"]),
                               ("exceptions", c["exception_rate"])):
            if value is not None:
                shares.append({"carrier": name, "measure": measure, "share": value})
        t = c["transit_days"]
        if t["p50"] is not None:
            transit.append({"carrier": name, "p50": t["p50"], "p90": t["p90"], "stated": c["stated_days"]["p50"]})
    measures = ["on time", "within stated transit", "exceptions"]
    left = alt.Chart(alt.Data(values=shares), title="Carriers: shares of their shipments").mark_bar().encode(
        y=alt.Y("carrier:N", title=None),
        yOffset=alt.YOffset("measure:N", sort=measures),
        x=alt.X("share:Q", title="share", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("measure:N", sort=measures, scale=alt.Scale(domain=measures, range=[GOOD, NEUTRAL, BAD]),
                        title=None),
        tooltip=[alt.Tooltip("carrier:N"), alt.Tooltip("measure:N"), alt.Tooltip("share:Q", format=".1%")],
    ).properties(width=300)
    if not transit:
        return left
    data = alt.Data(values=transit)
    spread = alt.Chart(data).mark_rule(strokeWidth=6, color=NEUTRAL, opacity=0.5).encode(
        y=alt.Y("carrier:N", title=None), x=alt.X("p50:Q", title="transit days (p50 to p90; | stated)"), x2="p90:Q",
        tooltip=[alt.Tooltip("carrier:N"), alt.Tooltip("p50:Q"), alt.Tooltip("p90:Q"), alt.Tooltip("stated:Q")])
    median = alt.Chart(data).mark_point(filled=True, size=80, color=GOOD).encode(y="carrier:N", x="p50:Q")
    stated = alt.Chart(data).transform_filter("datum.stated != null").mark_tick(
        color=BAD, thickness=2, size=18).encode(y="carrier:N", x="stated:Q")
    right = alt.layer(spread, median, stated, title="Carriers: transit against stated").properties(width=300)
    return alt.hconcat(left, right)


def backtest_chart(data: Mapping[str, Any]) -> alt.LayerChart:
    """On-time share against median promised days: one point per target, and the promises actually made."""
    rows = [{"promise": f"aim {r['target']:.0%}", "on_time": r["on_time"], "median_days": r["median_days"],
             "p90_days": r["p90_days"], "kind": "learned from history"} for r in data["results"]]
    if data["baseline"] is not None:
        b = data["baseline"]
        rows.append({"promise": "promises made", "on_time": b["on_time"], "median_days": b["median_days"],
                     "p90_days": b["p90_days"], "kind": "promises made"})
    base = alt.Chart(alt.Data(values=rows), title="Backtest: on time against promised days").encode(
        x=alt.X("median_days:Q", title="median promised days", scale=alt.Scale(zero=False)),
        y=alt.Y("on_time:Q", title="on time", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("promise:N"), alt.Tooltip("on_time:Q", format=".1%"), alt.Tooltip("median_days:Q"),
                 alt.Tooltip("p90_days:Q")])
    points = base.mark_point(filled=True, size=90).encode(
        color=alt.Color("kind:N", scale=alt.Scale(domain=["learned from history", "promises made"],
                                                  range=[GOOD, BAD]), title=None))
    labels = base.mark_text(align="left", dx=8).encode(text="promise:N")
    return alt.layer(points, labels).properties(width=420, height=240)


def accuracy_chart(data: Mapping[str, Any]) -> alt.Chart:
    """Shipments packed right, per warehouse: a bar each, the share of its shipments with no unit wrong."""
    rows = [{"warehouse": w["warehouse"], "accuracy": w["accuracy"], "shipments": w["shipments"],
             "units_wrong": w["units_wrong"]} for w in data["warehouses"]]
    return alt.Chart(alt.Data(values=rows), title="Order accuracy by warehouse").mark_bar().encode(
        x=alt.X("accuracy:Q", title="shipments packed right", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("warehouse:N", title=None, sort="x"),
        color=alt.condition(alt.datum.accuracy >= 0.99, alt.value(GOOD), alt.value(BAD)),
        tooltip=[alt.Tooltip("warehouse:N"), alt.Tooltip("accuracy:Q", format=".1%"), alt.Tooltip("shipments:Q"),
                 alt.Tooltip("units_wrong:Q")],
    ).properties(width=420, height=max(40, 28 * len(rows)))


def _table(columns: tuple[str, ...] | list[str], rows: list[list[str]], caption: str = "") -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>`` from the data can end it)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.7rem; text-align: left; }
caption { text-align: left; font-weight: 600; padding: 0.3rem 0; }
.chart { margin: 1rem 0 2rem; } .note { color: #555; }
"""


def render(report: Mapping[str, Any], sections: Iterable[ReportSection] = ()) -> str:
    """The report as one self-contained HTML document."""
    charts: list[tuple[str, dict[str, Any]]] = []
    parts: list[str] = []

    def chart_or_note(key: str, chart: Any, note: str) -> None:
        if chart is None:
            parts.append(f'<p class="note">{html.escape(note)}</p>')
            return
        charts.append((f"chart-{key}", chart.to_dict()))
        parts.append(f'<div class="chart" id="chart-{key}"></div>')

    parts.append("<h2>Promises and processing</h2>")
    parts.append(_table(("figure", "value", "counted"), [list(r) for r in rep.headline(report)]))
    chart_or_note("weekly", weekly_chart(report["weekly"]), "No promise was due in this window: no weekly trend.")
    chart_or_note("lateness", lateness_chart(report["lateness"]), "No promise was due in this window: no lateness.")
    parts.append("<h2>Carriers</h2>")
    if report["carriers"]:
        parts.append(_table(rep.SCORECARD_COLUMNS, [rep.scorecard_row(c) for c in report["carriers"]],
                            "Scorecards: shipments handed to the carrier in the window"))
    chart_or_note("carriers", carrier_chart(report["carriers"]), "No shipment was handed to a carrier in this window.")
    if report["regions"]:
        parts.append("<h2>Destination regions</h2>")
        parts.append(_table(rep.REGION_COLUMNS, [rep.region_row(g) for g in report["regions"]]))
    for section in sections:
        if section.name not in report:
            continue
        data = report[section.name]
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts.append(_table(("", ""), [[label, value] for label, value in section.rows(data)]))
        for i, chart in enumerate(section.charts(data)):
            chart_or_note(f"{section.name}-{i}", chart, "")
    specs = _script_json([{"id": cid, "spec": spec} for cid, spec in charts])
    generated = f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>fulfilhub report: {html.escape(rep.period(report))}</title>
<style>{_STYLE}</style>
<script>
{_bundle()}
</script>
</head>
<body>
<h1>fulfilhub report</h1>
<p class="note">{html.escape(rep.period(report))}; figures decided as of {report['window']['as_of']:%Y-%m-%d %H:%M} UTC.
Generated {html.escape(generated)}.</p>
{''.join(parts)}
<script>
const charts = {specs};
Promise.all(charts.map(c => vegaEmbed("#" + c.id, c.spec, {{renderer: "svg", actions: false}})))
  .then(() => {{ document.body.dataset.charts = String(charts.length); }})
  .catch(err => {{ console.error(err); document.body.dataset.charts = "failed"; }});
</script>
</body>
</html>
"""
