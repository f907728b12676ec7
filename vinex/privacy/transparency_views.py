"""``/transparency/`` (EN/ES, no sign-in) and ``/transparency.json``: sharing policies and partner-access counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from vinex.privacy.transparency import purpose_labels, quarter_has_activity, transparency_document


@dataclass(frozen=True)
class Line:
    label: str
    cells: list[int | None]
    total: int | None


@dataclass(frozen=True)
class ShownTable:
    measure: str
    columns: list[str]
    lines: list[Line]
    footer: Line


def _shown(measure: str, table: dict[str, Any], labels: dict[str, str]) -> ShownTable:
    lines = [Line(row, table["values"][i], table["row_totals"][i]) for i, row in enumerate(table["rows"])]
    return ShownTable(measure, [labels.get(c, c) for c in table["columns"]], lines,
                      Line("", table["column_totals"], table["total"]))


def page_context(document: dict[str, Any]) -> dict[str, Any]:
    """The document laid out for the template: per agency, its policy and per quarter its shown tables."""
    labels = purpose_labels()
    agencies = []
    for agency in document["agencies"]:
        quarters = [{"quarter": q["quarter"],
                     "tables": [_shown(m, t, labels) for m, t in agency["quarters"][q["quarter"]].items()]
                     if quarter_has_activity(agency["quarters"][q["quarter"]]) else []}
                    for q in document["quarters"]]
        policy = agency["policy"]
        agencies.append({**agency, "quarters": quarters,
                         "purposes": [labels[p] for p in policy["purposes"]],
                         "refused_purposes": [labels[p] for p in policy["refused_purposes"]]})
    return {"document": document, "agencies": agencies}


@require_GET
def transparency(request: HttpRequest) -> HttpResponse:
    return render(request, "privacy/transparency.html", page_context(transparency_document()))


@require_GET
def transparency_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(transparency_document(), json_dumps_params={"ensure_ascii": False})
