"""Template filters of the facilitator portal."""

from __future__ import annotations

from django import forms, template
from django.forms import BoundField
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django_filters.widgets import BooleanWidget

register = template.Library()


@register.filter
def low_code(code: str | None, hazardous: bool = False) -> str:
    """Format "100102" as "10 01 02" (with "*" when hazardous) without loading the WasteCode."""
    if not code:
        return ""
    spaced = f"{code[:2]} {code[2:4]} {code[4:]}"
    return f"{spaced}*" if hazardous else spaced


@register.simple_tag
def select_widget(bound: BoundField) -> str:
    """A bound choice field's <select>, built in Python: Django renders each <option> through a
    template, which on the queue's filters (over a hundred options) costs more than the query.
    Any other widget renders as usual."""
    widget = bound.field.widget
    if type(widget) not in (forms.Select, BooleanWidget) or not hasattr(bound.field, "choices"):
        return bound.as_widget()
    value = bound.value()
    current = "" if value is None else str(value)
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (key, mark_safe(" selected") if str(key) == current else "", label)
            for key, label in bound.field.choices
        ),
    )
    return format_html(
        '<select name="{}" id="{}">{}</select>', bound.html_name, bound.auto_id, options
    )
