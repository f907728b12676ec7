"""Writing a computed report: report.json, tables/*.csv, charts/*.png, report.html, report.pdf, quality.json
and manifest.json.

report.json, quality.json and the CSV files are byte-identical for the same database (keys in a fixed
order, no time of generation); manifest.json alone says when it was generated.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from vinex.policy.suppression import THRESHOLD
from vinex.reports.compute import TITLES, Computed
from vinex.reports.quarter import iso_z
from vinex.reports.templatetags.reports import label

# WeasyPrint logs every step of a layout at INFO.
logging.getLogger("weasyprint").setLevel(logging.WARNING)

CHARTS = ("events_by_type", "notifications_by_outcome", "latency_by_agency", "feed_uptime")
# Fixed fonts and settings, so a chart depends only on its numbers.
_STYLE: dict[str, Any] = {"font.family": "DejaVu Sans", "font.size": 9, "svg.hashsalt": "vinex", "figure.dpi": 100}


def code_version() -> str:
    try:
        return version("vinex")
    except PackageNotFoundError:
        return "unknown"


def report_document(computed: Computed) -> dict[str, Any]:
    """report.json's content, in the contract's key order."""
    quarter = computed.quarter
    return {"quarter": str(quarter), "start": iso_z(quarter.start), "end": iso_z(quarter.end),
            "threshold": THRESHOLD, "tables": computed.tables}


def dumps(document: Any) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def table_csv(table: dict[str, Any]) -> bytes:
    """One table as CSV: a header, a row per row key with its total, then the column totals. A withheld
    value is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["", *table["columns"], "total"])
    for key, values, total in zip(table["rows"], table["values"], table["row_totals"], strict=True):
        writer.writerow([key, *_cells(values), *_cells([total])])
    writer.writerow(["total", *_cells(table["column_totals"]), *_cells([table["total"]])])
    return out.getvalue().encode()


def _cells(values: Sequence[int | None]) -> list[str]:
    return ["" if v is None else str(v) for v in values]


def files_write(*, computed: Computed, out: Path, generated_at: datetime) -> dict[str, bytes]:
    """Write every file of the report under ``out`` and return them by relative name."""
    files: dict[str, bytes] = {"report.json": dumps(report_document(computed)),
                               "quality.json": dumps(computed.quality)}
    for name, table in computed.tables.items():
        files[f"tables/{name}.csv"] = table_csv(table)
    files.update({f"charts/{name}.png": png for name, png in charts(computed).items()})
    files["report.html"] = report_html(computed).encode()
    _write(out, files)
    files["report.pdf"] = report_pdf(report_html(computed, print_layout=True), directory=out)
    manifest = {"code_version": code_version(), "quarter": str(computed.quarter), "input_hash": computed.input_hash,
                "generated_at": iso_z(generated_at), "publishable": computed.quality["publishable"],
                "files": sorted([*files, "manifest.json"])}
    files["manifest.json"] = dumps(manifest)
    _write(out, {name: files[name] for name in ("report.pdf", "manifest.json")})
    return files


def _write(out: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


# --- Charts (only published numbers: a withheld value is left out and said so) -----------------------


def _bar(title: str, labels: Sequence[str], values: Sequence[int | float | None], unit: str) -> bytes:
    # Loaded when a chart is drawn, not when the web server starts (every page would wait for it).
    import matplotlib
    from matplotlib.figure import Figure

    # A bare Figure draws with Agg and touches no global pyplot state (no display, safe in a web worker).
    with matplotlib.rc_context(_STYLE):  # type: ignore[arg-type]
        figure = Figure(figsize=(7, 3.2))
        axes = figure.subplots()
        shown = [(label, v) for label, v in zip(labels, values, strict=True) if v is not None]
        hidden = [label for label, v in zip(labels, values, strict=True) if v is None]
        axes.bar([label for label, _ in shown], [v for _, v in shown], color="#2b6cb0")
        axes.set_title(title)
        axes.set_ylabel(unit)
        axes.set_ylim(bottom=0)
        axes.tick_params(axis="x", labelrotation=30)
        for tick in axes.get_xticklabels():
            tick.set_horizontalalignment("right")
        if hidden:
            figure.text(0.01, 0.01, "Not shown (withheld, or nothing to show): " + ", ".join(hidden), fontsize=7)
        # Fixed margins (room for the slanted labels): a tight layout draws every chart twice.
        figure.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.3)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def charts(computed: Computed) -> dict[str, bytes]:
    tables = computed.tables
    events = tables["events_by_agency_type"]
    notifications = tables["notifications_by_channel_status"]
    latency = tables["delivery_latency_by_agency"]
    quality = tables["data_quality_by_agency"]
    p90 = [row[2] for row in latency["values"]]
    stale_column = quality["columns"].index("stale_feed_hours")
    uptime: list[float | None] = []
    for code, row in zip(quality["rows"], quality["values"], strict=True):
        hours = computed.facilities.get(code, 0) * computed.quarter.hours
        stale = row[stale_column]
        uptime.append(None if stale is None or not hours else round(100 * (1 - stale / hours), 1))
    return {
        "events_by_type": _bar("Custody events by type", events["columns"], events["column_totals"], "events"),
        "notifications_by_outcome": _bar("Notifications by final status", notifications["columns"],
                                         notifications["column_totals"], "notifications"),
        "latency_by_agency": _bar("Delivery latency, 90th percentile", latency["rows"], p90, "milliseconds"),
        "feed_uptime": _bar("Feed uptime", quality["rows"], uptime, "% of the quarter"),
    }


# --- HTML and PDF ------------------------------------------------------------------------------------


def report_html(computed: Computed, *, print_layout: bool = False) -> str:
    """The report as HTML. ``print_layout`` is the PDF's: each table as aligned plain text on its own page,
    which WeasyPrint lays out in a fraction of the time of a table (whose cost grows with its cells)."""
    quarter = computed.quarter
    tables = [{"name": name, **table, "lines": list(zip(table["rows"], table["values"], table["row_totals"],
                                                        strict=True)),
               "text": table_text(table) if print_layout else ""}
              for name, table in computed.tables.items()]
    checks = computed.quality["checks"]
    context = {"quarter": str(quarter), "start": iso_z(quarter.start), "end": iso_z(quarter.end),
               "threshold": THRESHOLD, "tables": tables, "titles": TITLES, "quality": computed.quality,
               "checks_lines": list(zip(checks["rows"], checks["values"], checks["row_totals"], strict=True)),
               "checks_text": table_text(checks, corner="Agency") if print_layout else "",
               "charts": [f"charts/{name}.png" for name in CHARTS], "print": print_layout}
    with translation.override("en"):
        return render_to_string("reports/report.html", context)


def table_text(table: dict[str, Any], *, corner: str = "") -> str:
    """A table as lines of aligned columns (row keys left, numbers right, "–" where withheld)."""
    header = [corner, *(label(c) for c in table["columns"]), "total"]
    body = [[key, *_shown(values), *_shown([total])]
            for key, values, total in zip(table["rows"], table["values"], table["row_totals"], strict=True)]
    lines = [header, *body, ["total", *_shown(table["column_totals"]), *_shown([table["total"]])]]
    widths = [max(len(line[j]) for line in lines) for j in range(len(header))]
    return "\n".join("  ".join([line[0].ljust(widths[0]), *(v.rjust(w) for v, w in zip(line[1:], widths[1:],
                                                                                        strict=True))]).rstrip()
                     for line in lines)


def _shown(values: Sequence[int | None]) -> list[str]:
    return ["–" if v is None else f"{v:,}" for v in values]


def report_pdf(html: str, *, directory: Path) -> bytes:
    """The HTML laid out as a PDF, its charts read from ``directory`` (local files only, nothing is fetched)."""
    from weasyprint import HTML, URLFetcher  # heavy: loaded only when a PDF is made

    fetcher = URLFetcher(allowed_protocols=["file"], fail_on_errors=True)
    pdf: bytes = HTML(string=html, base_url=f"{directory.resolve().as_uri()}/", url_fetcher=fetcher).write_pdf()
    return pdf
