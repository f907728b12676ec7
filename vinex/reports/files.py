"""Serving a stored report file with the right type (and as a download where a browser should save it)."""

from __future__ import annotations

from django.http import HttpResponse

TYPES = {".html": "text/html; charset=utf-8", ".pdf": "application/pdf", ".csv": "text/csv; charset=utf-8",
         ".png": "image/png", ".json": "application/json"}


def file_response(name: str, content: bytes) -> HttpResponse:
    suffix = name[name.rfind("."):]
    response = HttpResponse(content, content_type=TYPES.get(suffix, "application/octet-stream"))
    if suffix in {".csv", ".json"}:
        response["Content-Disposition"] = f'attachment; filename="{name.rsplit("/", 1)[-1]}"'
    return response
