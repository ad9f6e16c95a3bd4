"""Components built in Python: badges, the SLA countdown, the queue's rows.

The template tags of ``templatetags/sd.py`` call these for single use; the
workspace renders its 50 rows with :func:`incident_rows` in one go, because
the template engine spends ~1 ms a row on the same markup, and looks every
translated word up once per list instead of once per row
(docs/performance/ui.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from servicedesk.accounts.models import SupportLevel
from servicedesk.incidents.models import Incident, PendingReason, Status

from . import sla


@dataclass
class Words:
    """The translated words of badges and rows, in the active language."""

    severity: str = field(default_factory=lambda: _("Severity %s"))
    priority: str = field(default_factory=lambda: _("Priority %s"))
    statuses: dict[str, str] = field(
        default_factory=lambda: {s.value: str(s.label) for s in Status}
    )
    pending: dict[str, str] = field(
        default_factory=lambda: {p.value: str(p.label) for p in PendingReason}
    )
    levels: dict[int, str] = field(
        default_factory=lambda: {lv.value: str(lv.label) for lv in SupportLevel}
    )
    sla_kinds: dict[str, str] = field(
        default_factory=lambda: {k: str(v) for k, v in sla.KIND_LABELS.items()}
    )
    durations: dict[str, str] = field(default_factory=sla.js_strings)
    select: str = field(default_factory=lambda: _("Select %(number)s"))
    coordinator: str = field(default_factory=lambda: _("coordinator %(name)s"))


def severity_badge(value: int, words: Words | None = None) -> SafeString:
    title = (words.severity if words else _("Severity %s")) % value
    return format_html('<span class="badge sev sev-{}" title="{}">S{}</span>', value, title, value)


def priority_badge(value: int, words: Words | None = None) -> SafeString:
    title = (words.priority if words else _("Priority %s")) % value
    return format_html('<span class="badge prio" title="{}">P{}</span>', title, value)


def status_label(incident: Incident, words: Words | None = None) -> SafeString:
    if words is None:
        text = incident.get_status_display()
        reason = incident.get_pending_reason_display() if incident.pending_reason else ""
    else:
        text = words.statuses.get(incident.status, incident.status)
        reason = words.pending.get(incident.pending_reason, "") if incident.pending_reason else ""
    if reason:
        text = f"{text}: {reason}"
    return format_html('<span class="status st-{}">{}</span>', incident.status, text)


def when(value: datetime | None) -> SafeString:
    """A <time> in the active time zone and the locale's short format."""
    if value is None:
        return SafeString("")
    return format_html(
        '<time datetime="{}">{}</time>',
        value.isoformat(),
        formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT"),
    )


def sla_countdown(incident: Incident, now: datetime, words: Words | None = None) -> SafeString:
    """A <time> app.js keeps counting down; empty when no deadline runs."""
    c = sla.countdown(incident, now)
    if c is None:
        return SafeString("")
    kind = words.sla_kinds[c.kind] if words else c.label
    text = sla.duration_text(c.remaining_seconds, words.durations if words else None)
    return format_html(
        '<span class="sla sla-{state}"><span class="sla-kind">{kind}</span> '
        '<time datetime="{deadline}" data-sla-start="{start}" title="{title}">{text}</time></span>',
        state=c.state, kind=kind, deadline=c.deadline.isoformat(), start=c.start.isoformat(),
        title=formats.date_format(timezone.localtime(c.deadline), "SHORT_DATETIME_FORMAT"),
        text=text,
    )  # fmt: skip


def _sub(text: Any) -> SafeString:
    return format_html('<span class="sub">{}</span>', text) if text else SafeString("")


def incident_rows(incidents: Iterable[Incident], now: datetime) -> SafeString:
    """The <tr>s of a queue (see workspace/_queue.html for the columns)."""
    words = Words()
    link = reverse("web:incident", args=[2147483647]).replace("2147483647", "{}")
    rows = []
    for i in incidents:
        where = " · ".join(str(x) for x in (i.service, i.configuration_item) if x is not None)
        rows.append((
            i.pk, words.select % {"number": i.number}, link.format(i.pk), i.number,
            severity_badge(i.severity, words), priority_badge(i.priority, words), i.title,
            _sub(where), status_label(i, words), _sub(words.levels.get(i.support_level, "")),
            sla_countdown(i, now, words), i.assignee or "—",
            _sub(words.coordinator % {"name": i.coordinator} if i.coordinator_id else ""),
            i.assigned_group or "—", when(i.opened_at),
        ))  # fmt: skip
    if not rows:
        return format_html(
            '<tr><td colspan="9" class="empty">{}</td></tr>', _("Nothing here. Well done.")
        )
    return format_html_join(
        "\n",
        '<tr><td class="sel"><input type="checkbox" name="ids" value="{0}" id="sel-{0}" '
        'aria-label="{1}"></td><td class="num"><a href="{2}">{3}</a></td><td>{4} {5}</td>'
        '<td class="title">{6}{7}</td><td>{8}{9}</td><td>{10}</td><td>{11}{12}</td>'
        '<td class="opt">{13}</td><td class="opt when">{14}</td></tr>',
        rows,
    )
