"""Who a rule's recipient specification means for one event, and where each is reached.

Subjects other than incidents (problems, known errors) are read generically:
an attribute that is missing simply yields nobody, so rules keep working
while those capabilities grow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Manager, QuerySet

from servicedesk.accounts.models import SupportGroup, User
from servicedesk.accounts.services import manager_chain
from servicedesk.core.lookups import KeyedRead
from servicedesk.integrations.models import WebhookEndpoint

from .labels import language_of
from .models import Channel, RecipientKind, RuleRecipient, Watcher


@dataclass(frozen=True)
class Recipient:
    """A person, a support group, a bare address or a webhook endpoint."""

    user: User | None = None
    group: SupportGroup | None = None
    address: str = ""
    webhook: WebhookEndpoint | None = None
    language_hint: str = ""

    @property
    def key(self) -> tuple[str, object]:
        if self.user is not None:
            return ("user", self.user.pk)
        if self.group is not None:
            return ("group", self.group.pk)
        if self.webhook is not None:
            return ("webhook", self.webhook.pk)
        return ("address", self.address.lower())

    @property
    def name(self) -> str:
        return str(self.user or self.group or self.webhook or self.address)

    @property
    def language(self) -> str:
        if self.user is not None and self.user.language:
            return language_of(self.user.language)
        return language_of(self.language_hint or settings.LANGUAGE_CODE)

    @property
    def time_zone(self) -> str:
        if self.user is not None and self.user.time_zone:
            return self.user.time_zone
        return str(settings.TIME_ZONE)


@dataclass(frozen=True)
class Destination:
    """One message to send: a channel and an address on it."""

    channel: str
    destination: str
    recipient: Recipient
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def user(self) -> User | None:
        return self.recipient.user


def _people(value: Any) -> list[Any]:
    """Users/groups from an attribute that may be one record, a manager or a list."""
    if value is None:
        return []
    if isinstance(value, User | SupportGroup):
        return [value]
    if isinstance(value, Manager | QuerySet) or callable(getattr(value, "all", None)):
        return list(value.all())
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | dict):
        return [v for item in value for v in _people(item)]
    return []


def _users_from_refs(refs: Any) -> list[User]:
    """Users named by ``{"id", "name"}`` references in an event payload."""
    if isinstance(refs, dict):
        refs = [refs]
    if not isinstance(refs, list):
        return []
    ids: list[int] = []
    for item in refs:
        pk = item.get("id") if isinstance(item, dict) else None
        if isinstance(pk, int):
            ids.append(pk)
    users = {u.pk: u for u in User.objects.filter(pk__in=ids, is_active=True)}
    return [users[i] for i in ids if i in users]


def _as_recipients(items: Iterable[Any], hint: str) -> list[Recipient]:
    out: list[Recipient] = []
    for item in items:
        if isinstance(item, User):
            out.append(Recipient(user=item, language_hint=hint))
        elif isinstance(item, SupportGroup):
            out.append(Recipient(group=item, language_hint=hint))
    return out


def _problem_team(subject_type: str, subject: Any) -> list[Any]:
    if subject_type == "known_error":
        subject = getattr(subject, "problem", None)
        if subject is None:
            return []
    members = _people(getattr(subject, "team", None))
    owner = getattr(subject, "owner", None)
    return [*members, *_people(owner)]


_watchers = KeyedRead(
    lambda subject_type, subject_id: (
        Watcher.objects.filter(subject_type=subject_type, subject_id=subject_id)
        .select_related("user")
        .order_by("id")
    ),
    keys=(str, int),
)


def resolve(
    spec: RuleRecipient, *, subject_type: str, subject: Any, event: Any, hint: str = ""
) -> list[Recipient]:
    """The recipients ``spec`` names for ``event`` on ``subject``."""
    kind = spec.kind
    payload = getattr(event, "payload", None) or {}
    found: list[Any]
    if kind == RecipientKind.REPORTER:
        found = _people(getattr(subject, "reporter", None))
    elif kind == RecipientKind.OWNER_GROUP:
        found = _people(getattr(subject, "owner_group", None))
    elif kind == RecipientKind.ASSIGNED_GROUP:
        found = _people(getattr(subject, "assigned_group", None))
    elif kind == RecipientKind.ASSIGNEE:
        found = _people(getattr(subject, "assignee", None))
    elif kind == RecipientKind.ASSIGNEE_OR_GROUP:
        found = _people(getattr(subject, "assignee", None)) or _people(
            getattr(subject, "assigned_group", None)
        )
    elif kind == RecipientKind.ON_CALL:
        found = list(_users_from_refs(payload.get("person")))
    elif kind == RecipientKind.MANAGER_CHAIN:
        chain = manager_chain(
            technology_id=getattr(subject, "technology_id", None),
            fallback_group=getattr(subject, "assigned_group", None),
        )
        level = spec.level or 1
        found = [chain[level - 1]] if len(chain) >= level else []
    elif kind == RecipientKind.COORDINATOR:
        found = _people(getattr(subject, "coordinator", None)) or list(
            _users_from_refs(payload.get("manager"))
        )
    elif kind == RecipientKind.PROBLEM_TEAM:
        found = _problem_team(subject_type, subject)
    elif kind == RecipientKind.SUPPORT_LEVEL:
        groups = SupportGroup.objects.filter(is_active=True).order_by("level", "name")
        found = list(groups.filter(level=spec.level) if spec.level else groups)
    elif kind == RecipientKind.PARTICIPANTS:
        found = list(_users_from_refs(payload.get("participants")))
    elif kind == RecipientKind.WATCHERS:
        found = [w.user for w in _watchers.all(subject_type, subject.pk)]
    elif kind == RecipientKind.USER:
        found = _people(spec.user)
    elif kind == RecipientKind.GROUP:
        found = _people(spec.group)
    elif kind == RecipientKind.ADDRESS:
        return [Recipient(address=spec.address, language_hint=hint)] if spec.address else []
    elif kind == RecipientKind.WEBHOOK:
        webhook = spec.webhook
        active = webhook is not None and webhook.active
        return [Recipient(webhook=webhook, language_hint=hint)] if active else []
    else:
        found = []
    recipients = _as_recipients(found, hint)
    return [
        r
        for r in recipients
        if (r.user is None or r.user.is_active) and (r.group is None or r.group.is_active)
    ]


def _is_url(address: str) -> bool:
    return address.startswith(("http://", "https://"))


def destinations(recipient: Recipient, channel: str) -> list[Destination]:
    """Where ``recipient`` is reached on ``channel`` (nobody, when it has no address there).

    A group is reached at its shared mailbox when it has one, else through
    each member; in the product each member gets their own notification.
    """
    if channel == Channel.EMAIL:
        if recipient.user is not None:
            email = recipient.user.email
            return [Destination(channel, email, recipient)] if email else []
        if recipient.group is not None:
            if recipient.group.email:
                return [Destination(channel, recipient.group.email, recipient)]
            return [
                d
                for member in _active_members(recipient.group)
                for d in destinations(Recipient(user=member), channel)
            ]
        if recipient.address and "@" in recipient.address and not _is_url(recipient.address):
            return [Destination(channel, recipient.address, recipient)]
        return []
    if channel == Channel.INAPP:
        if recipient.user is not None:
            return [Destination(channel, f"user:{recipient.user.pk}", recipient)]
        if recipient.group is not None:
            return [
                Destination(channel, f"user:{member.pk}", Recipient(user=member))
                for member in _active_members(recipient.group)
            ]
        return []
    if channel == Channel.WEBHOOK:
        if recipient.webhook is not None:
            return [
                Destination(
                    channel, recipient.webhook.url, recipient, {"endpoint_id": recipient.webhook.pk}
                )
            ]
        if _is_url(recipient.address):
            return [Destination(channel, recipient.address, recipient)]
    return []


# Members read while one event's messages are made (``members_read_once``): a group
# reached on two channels, or named by two rules, is read once.
_members: ContextVar[dict[int, list[User]] | None] = ContextVar("group_members", default=None)


@contextmanager
def members_read_once() -> Iterator[None]:
    if _members.get() is not None:
        yield
        return
    token = _members.set({})
    try:
        yield
    finally:
        _members.reset(token)


_members_of = KeyedRead(
    lambda group_id: User.objects.filter(support_groups=group_id, is_active=True).order_by("id")
)


def _active_members(group: SupportGroup) -> list[User]:
    memo = _members.get()
    if memo is not None and group.pk in memo:
        return memo[group.pk]
    members = _members_of.all(group.pk)
    if memo is not None:
        memo[group.pk] = members
    return members
