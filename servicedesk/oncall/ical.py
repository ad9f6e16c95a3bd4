"""iCal (RFC 5545) export of a schedule and import of a feed's shifts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import icalendar
from dateutil.rrule import rrulestr
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import urlencode

from servicedesk import __version__
from servicedesk.accounts.models import SupportGroup, User
from servicedesk.escalation.calendars import zone

from .rotation import Shift

MAX_FEED_BYTES = 2_000_000
MAX_OCCURRENCES = 2000
# Recurring events are expanded this far around the import.
PAST = timedelta(days=1)
FUTURE = timedelta(days=366)


class FeedError(ValueError):
    pass


CONTENT_TYPE = "text/calendar"


def subscription_url(request: HttpRequest, schedule_id: int, key: str) -> str:
    """The calendar subscription URL a feed key opens (views.feed)."""
    path = reverse("oncall:feed", args=[schedule_id])
    return request.build_absolute_uri(f"{path}?{urlencode({'key': key})}")


def http_response(schedule_id: int, body: bytes) -> HttpResponse:
    response = HttpResponse(body, content_type=f"{CONTENT_TYPE}; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="oncall-{schedule_id}.ics"'
    return response


def export(
    *, name: str, schedule_id: int, shifts: list[Shift], people: dict[int, User], now: datetime
) -> bytes:
    """The primary on-call person's shifts as VEVENTs (UTC times)."""
    cal = icalendar.Calendar()
    cal.add("prodid", f"-//ServiceDesk {__version__}//on-call//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    cal.add("method", "PUBLISH")
    for shift in shifts:
        person = people.get(shift.member)
        if person is None:
            continue
        event = icalendar.Event()
        event.add(
            "uid", f"oncall-{schedule_id}-{int(shift.start.timestamp())}-{person.pk}@servicedesk"
        )
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", shift.start.astimezone(UTC))
        event.add("dtend", shift.end.astimezone(UTC))
        event.add("summary", f"On call: {person}")
        event.add("transp", "TRANSPARENT")
        if person.email:
            attendee = icalendar.vCalAddress(f"mailto:{person.email}")
            attendee.params["cn"] = icalendar.vText(str(person))
            event.add("attendee", attendee, encode=False)
        event.add("x-servicedesk-user", person.username)
        cal.add_component(event)
    return bytes(cal.to_ical())


@dataclass
class FeedShift:
    uid: str
    start: datetime
    end: datetime
    summary: str
    emails: list[str]
    username: str

    def who(self) -> str:
        return self.username or ", ".join(self.emails) or self.summary


def _aware(value: Any, tz_name: str) -> datetime:
    """A DTSTART/DTEND value as an aware datetime: dates start at local midnight,
    floating times are local to the schedule."""
    tz = zone(tz_name)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=tz)
    raise FeedError("an event has no usable start or end")


def _emails(event: Any) -> list[str]:
    raw = event.get("attendee")
    values = raw if isinstance(raw, list) else [raw] if raw is not None else []
    result = []
    for value in values:
        text = str(value)
        if text.lower().startswith("mailto:"):
            result.append(text[7:].strip())
    return result


def parse(
    content: bytes, *, time_zone: str, now: datetime
) -> tuple[list[FeedShift], list[dict[str, str]]]:
    """The feed's events as shifts (recurring ones expanded a year ahead), and
    the events skipped with the reason."""
    if len(content) > MAX_FEED_BYTES:
        raise FeedError(f"the feed is larger than {MAX_FEED_BYTES} bytes")
    try:
        cal = icalendar.Calendar.from_ical(content)
    except Exception as exc:  # icalendar raises ValueError and others on bad input
        raise FeedError(f"not an iCal feed: {exc}") from None
    shifts: list[FeedShift] = []
    skipped: list[dict[str, str]] = []
    for event in cal.walk("VEVENT"):
        uid = str(event.get("uid") or "")[:200] or f"event-{len(shifts) + len(skipped)}"
        try:
            if event.get("dtstart") is None:
                raise FeedError("no DTSTART")
            start = _aware(event.get("dtstart").dt, time_zone)
            if event.get("dtend") is not None:
                end = _aware(event.get("dtend").dt, time_zone)
            elif event.get("duration") is not None:
                end = start + event.get("duration").dt
            else:
                end = start + timedelta(days=1)
            if end <= start:
                raise FeedError("the event ends before it starts")
            occurrences = [start]
            if event.get("rrule") is not None:
                rule = rrulestr(event.get("rrule").to_ical().decode(), dtstart=start)
                occurrences = rule.between(now - PAST - (end - start), now + FUTURE, inc=True)[
                    :MAX_OCCURRENCES
                ]
        except (FeedError, ValueError, TypeError) as exc:
            skipped.append({"uid": uid, "reason": str(exc)})
            continue
        status = str(event.get("status") or "").upper()
        if status == "CANCELLED":
            skipped.append({"uid": uid, "reason": "the event is cancelled"})
            continue
        length = end - start
        for occurrence in occurrences:
            shifts.append(FeedShift(
                uid=uid if len(occurrences) == 1 and occurrence == start
                else f"{uid}#{occurrence.astimezone(UTC):%Y%m%dT%H%M%SZ}",
                start=occurrence.astimezone(UTC), end=(occurrence + length).astimezone(UTC),
                summary=str(event.get("summary") or ""), emails=_emails(event),
                username=str(event.get("x-servicedesk-user") or ""),
            ))  # fmt: skip
    return shifts, skipped


def match_person(shift: FeedShift, *, group: SupportGroup) -> User | None:
    """The active staff member an event names, preferring the group's members:
    ``X-SERVICEDESK-USER``, then an attendee's e-mail, then a summary that is
    (or ends with) a username, e-mail or full name."""
    staff = User.objects.filter(is_active=True).exclude(role="end_user")
    members = set(group.members.values_list("pk", flat=True))

    def best(qs: Any) -> User | None:
        found = list(qs[:20])
        return next((u for u in found if u.pk in members), found[0] if found else None)

    if shift.username:
        person = best(staff.filter(username=shift.username))
        if person is not None:
            return person
    for email in shift.emails:
        person = best(staff.filter(email__iexact=email))
        if person is not None:
            return person
    text = shift.summary.strip()
    if ":" in text:
        text = text.rsplit(":", 1)[1].strip()
    if not text:
        return None
    parts = text.split()
    name_match = (
        Q(first_name__iexact=parts[0], last_name__iexact=" ".join(parts[1:]))
        if len(parts) > 1
        else Q(pk__in=[])
    )
    return best(staff.filter(Q(username__iexact=text) | Q(email__iexact=text) | name_match))
