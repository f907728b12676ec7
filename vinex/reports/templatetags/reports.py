"""Filters of the report's HTML: a table cell, a column's label, a share."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def cell(value: int | None) -> SafeString:
    if value is None:
        return mark_safe('<td class="withheld" title="withheld">–</td>')
    return format_html("<td>{}</td>", f"{value:,}")


@register.filter
def label(key: str) -> str:
    return key.replace("_", " ").lower()


@register.filter
def percent(share: float) -> str:
    return f"{share:.0%}"


@register.filter
def chart_label(path: str) -> str:
    return path.removeprefix("charts/").removesuffix(".png").replace("_", " ").capitalize()
