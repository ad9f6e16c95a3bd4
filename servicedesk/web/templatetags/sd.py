"""Template helpers of the design system: navigation, form fields, badges, SLA, numbers."""

from __future__ import annotations

from typing import Any

from django import forms, template
from django.utils import formats
from django.utils.safestring import SafeString

from servicedesk.core import clock
from servicedesk.incidents.models import IncidentEvent

from .. import html, nav, sla, timeline

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_links(context: Any) -> list[nav.Link]:
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return []
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match is not None and match.view_name else ""
    return nav.links_for(request.user, current)


@register.inclusion_tag("web/components/field.html")
def field(bound: forms.BoundField, **options: Any) -> dict[str, Any]:
    """A labelled control with its help text and errors tied to it (aria-describedby)."""
    widget = bound.field.widget
    described = []
    if bound.help_text:
        described.append(f"{bound.auto_id}_help")
    if bound.errors:
        described.append(f"{bound.auto_id}_errors")
    attrs: dict[str, Any] = {}
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if bound.errors:
        attrs["aria-invalid"] = "true"
    for key, value in options.items():
        if key not in ("label_class", "wide", "hide_label"):
            attrs[key.replace("_", "-")] = value
    is_choice_list = isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple)
    return {
        "bound": bound,
        "control": bound.as_widget(attrs=attrs),
        "is_group": is_choice_list,
        "is_checkbox": isinstance(widget, forms.CheckboxInput),
        "hidden": isinstance(widget, forms.HiddenInput),
        "wide": options.get("wide", False),
        "hide_label": options.get("hide_label", False),
    }


@register.simple_tag
def severity(value: int) -> SafeString:
    return html.severity_badge(value)


@register.simple_tag
def priority(value: int) -> SafeString:
    return html.priority_badge(value)


@register.simple_tag
def status(incident: Any) -> SafeString:
    return html.status_label(incident)


@register.simple_tag(takes_context=True)
def sla_countdown(context: Any, incident: Any) -> SafeString:
    return html.sla_countdown(incident, context.get("now_utc") or clock.now())


@register.simple_tag(takes_context=True)
def incident_rows(context: Any, incidents: Any) -> SafeString:
    return html.incident_rows(incidents, context.get("now_utc") or clock.now())


@register.filter
def number(value: Any) -> str:
    """An integer with the locale's grouping (12,345 / 12 345)."""
    if value is None or value == "":
        return ""
    return formats.number_format(value, force_grouping=True)


@register.filter
def describe(event: IncidentEvent) -> str:
    return timeline.describe(event)


@register.simple_tag
def js_strings() -> dict[str, str]:
    return sla.js_strings()
