"""The rule set and templates shipped with the product (installed by a data migration).

The template texts live in ``templates/notifications/shipped/<language>/<key>.txt``:
a ``Subject:`` line, a blank line, then the body. They are installed approved
(the product's own texts), for every channel, in English and Russian.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils import timezone

SHIPPED_DIR = Path(__file__).resolve().parent / "templates" / "notifications" / "shipped"
LANGUAGES = ("en", "ru")

DESCRIPTIONS = {
    "incident_created": "To the reporter: the incident is registered.",
    "incident_assigned": "To the group or agent: an incident is assigned to them.",
    "incident_escalated": "To the receiving group: functional escalation.",
    "incident_escalated_manager": "To the manager: hierarchical escalation, they coordinate now.",
    "incident_escalated_reporter": "To the reporter: management is involved; the coordinator's name.",
    "incident_pending_user": "To the reporter: the incident waits for their answer.",
    "incident_resolved": "To the reporter: the incident is resolved.",
    "incident_reopened": "To the group: the reporter reopened the incident.",
    "incident_update": "To watchers: any change of the incident.",
    "incident_sla": "SLA thresholds (50/75/90/100% of the response or resolution time).",
    "incident_paged": "To the on-call person: a page.",
    "incident_emergency_meeting": "To participants: an emergency meeting is convened.",
    "incident_status_update": "A hand-written status update to the stakeholders.",
    "action_reminder": "Reminder of an overdue action request.",
    "problem_root_cause": "To all support levels: a problem's root cause is found.",
    "workaround_published": "To all support levels: a workaround is published.",
    "problem_resolved": "To the problem team: the problem is resolved or closed.",
    "known_error_fixed": "A known error is fixed.",
}

ACCEPT = {
    "en": "accept the incident and contact the reporter",
    "ru": "примите инцидент и свяжитесь с пользователем",  # noqa: RUF001
}


@dataclass(frozen=True)
class ShippedRule:
    name: str
    subject_type: str
    event_types: list[str]
    recipients: list[dict[str, Any]]
    template_key: str
    description: str = ""
    payload_match: dict[str, Any] = field(default_factory=dict)
    kind: str = "status"
    action: dict[str, str] = field(default_factory=dict)
    due_in: int | None = None
    completes_on: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=lambda: ["email", "inapp"])
    urgent: bool = False
    notify_actor: bool = False


WATCHED_EVENTS = [
    "status_changed", "escalated", "de_escalated", "severity_changed", "resolved", "closed",
    "reopened", "cancelled",
]  # fmt: skip
# Taking the incident, or its moving on to another group, settles a hand-over request.
HANDOVER_DONE = ["assigned", "de_escalated", "status_changed", "escalated[kind=functional]"]

RULES: list[ShippedRule] = [
    ShippedRule(
        "Reporter: incident registered",
        "incident",
        ["created"],
        [{"kind": "reporter"}],
        "incident_created",
        "The reporter is told the incident number at once.",
        notify_actor=True,
    ),
    ShippedRule(
        "Group: incident assigned",
        "incident",
        ["assigned"],
        [{"kind": "assignee_or_group"}],
        "incident_assigned",
        "A group (or an agent) that receives an incident is asked to accept it.",
        payload_match={"group_changed": True},
        kind="action",
        action=ACCEPT,
        due_in=1800,
        completes_on=HANDOVER_DONE,
    ),
    ShippedRule(
        "Agent: incident assigned",
        "incident",
        ["assigned"],
        [{"kind": "assignee"}],
        "incident_assigned",
        "An agent given an incident inside their group is asked to accept it.",
        payload_match={"group_changed": False, "self_assigned": False},
        kind="action",
        action=ACCEPT,
        due_in=1800,
        completes_on=HANDOVER_DONE,
    ),
    ShippedRule(
        "Group: functional escalation",
        "incident",
        ["escalated"],
        [{"kind": "assignee_or_group"}],
        "incident_escalated",
        "The next support level is asked to take the incident.",
        payload_match={"kind": "functional"},
        kind="action",
        action=ACCEPT,
        due_in=1800,
        completes_on=HANDOVER_DONE,
    ),
    ShippedRule(
        "Manager: hierarchical escalation",
        "incident",
        ["escalated"],
        [{"kind": "coordinator"}],
        "incident_escalated_manager",
        "The manager escalated to becomes the coordinator and is asked to take ownership.",
        payload_match={"kind": "hierarchical"},
        kind="action",
        urgent=True,
        action={
            "en": "take ownership of the incident and give it the priority and resources it needs",
            "ru": "возьмите инцидент под контроль и обеспечьте ему приоритет и ресурсы",
        },
        due_in=1800,
        completes_on=["status_update_sent", "resolved"],
    ),
    ShippedRule(
        "Reporter: management involved",
        "incident",
        ["escalated"],
        [{"kind": "reporter"}],
        "incident_escalated_reporter",
        "The reporter learns who coordinates the incident now (the single contact).",
        payload_match={"kind": "hierarchical"},
    ),
    ShippedRule(
        "Reporter: information needed",
        "incident",
        ["status_changed"],
        [{"kind": "reporter"}],
        "incident_pending_user",
        "The incident waits for the reporter's answer.",
        payload_match={"status_to": "pending", "pending_reason": "awaiting_user"},
    ),
    ShippedRule(
        "Reporter: incident resolved",
        "incident",
        ["resolved"],
        [{"kind": "reporter"}],
        "incident_resolved",
        "The reporter is told the resolution and how to reopen.",
    ),
    ShippedRule(
        "Group: incident reopened",
        "incident",
        ["reopened"],
        [{"kind": "assignee_or_group"}],
        "incident_reopened",
        "The group that resolved the incident hears it was reopened.",
    ),
    ShippedRule(
        "Watchers: incident changes",
        "incident",
        WATCHED_EVENTS,
        [{"kind": "watchers"}],
        "incident_update",
        "People who watch an incident hear of its changes.",
    ),
    ShippedRule(
        "Watchers: public comments",
        "incident",
        ["commented"],
        [{"kind": "watchers"}],
        "incident_update",
        "People who watch an incident read its public comments.",
        payload_match={"public": True},
    ),
    ShippedRule(
        "Group: SLA time running out",
        "incident",
        ["sla_threshold"],
        [{"kind": "assignee_or_group"}],
        "incident_sla",
        "Warn the holder at 75% and 90% of the response or resolution time.",
        payload_match={"percent": [75, 90]},
    ),
    ShippedRule(
        "Desk and group: SLA target missed",
        "incident",
        ["sla_threshold"],
        [{"kind": "assignee_or_group"}, {"kind": "owner_group"}],
        "incident_sla",
        "A missed target goes to the holder and the service desk that owns the incident.",
        payload_match={"percent": 100},
        urgent=True,
    ),
    ShippedRule(
        "On-call: paged",
        "incident",
        ["paged"],
        [{"kind": "on_call"}],
        "incident_paged",
        "The on-call person is asked to acknowledge the page.",
        kind="action",
        urgent=True,
        action={
            "en": "acknowledge the page and start work on the incident",
            "ru": "подтвердите вызов и начните работу над инцидентом",
        },
        due_in=900,
        completes_on=["page_acknowledged"],
    ),
    ShippedRule(
        "Participants: emergency meeting",
        "incident",
        ["emergency_meeting"],
        [{"kind": "participants"}, {"kind": "coordinator"}],
        "incident_emergency_meeting",
        "Everyone called to an emergency meeting is asked to join it.",
        kind="action",
        urgent=True,
        action={"en": "join the emergency meeting", "ru": "присоединитесь к совещанию"},
    ),
    ShippedRule(
        "Support levels: root cause found",
        "problem",
        ["root_cause_found"],
        [{"kind": "support_level"}],
        "problem_root_cause",
        "A documented root cause is communicated to all support levels.",
    ),
    ShippedRule(
        "Support levels: problem workaround published",
        "problem",
        ["workaround_published"],
        [{"kind": "support_level"}],
        "workaround_published",
        "Workarounds are communicated to all support levels.",
    ),
    ShippedRule(
        "Support levels: known error workaround published",
        "known_error",
        ["workaround_published"],
        [{"kind": "support_level"}],
        "workaround_published",
        "Workarounds are communicated to all support levels.",
    ),
    ShippedRule(
        "Problem team: problem resolved or closed",
        "problem",
        ["resolved", "closed"],
        [{"kind": "problem_team"}],
        "problem_resolved",
        "The problem team hears the outcome.",
    ),
    ShippedRule(
        "Service desk and team: known error fixed",
        "known_error",
        ["fixed"],
        [{"kind": "support_level", "level": 1}, {"kind": "problem_team"}],
        "known_error_fixed",
        "The 1st line stops applying the workaround once the fix is in.",
    ),
]


def read_shipped(path: Path) -> tuple[str, str]:
    """(subject, body) of a shipped template file."""
    text = path.read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"{path}: the first line must be 'Subject: ...'")
    return first.removeprefix("Subject:").strip(), rest.lstrip("\n").rstrip() + "\n"


def shipped_keys() -> list[str]:
    return sorted(p.stem for p in (SHIPPED_DIR / "en").glob("*.txt"))


def shipped_template(key: str, language: str) -> tuple[str, str] | None:
    path = SHIPPED_DIR / language / f"{key}.txt"
    return read_shipped(path) if path.exists() else None


def install(models: dict[str, Any] | None = None) -> tuple[int, int]:
    """Add the shipped templates and rules that are missing (by key and language, and
    by rule name); returns (templates added, rules added). Works with a migration's
    historical models (``models``) or the current ones."""
    if models is None:
        from .models import NotificationRule, NotificationTemplate, RuleRecipient

        models = {
            "NotificationTemplate": NotificationTemplate,
            "NotificationRule": NotificationRule,
            "RuleRecipient": RuleRecipient,
        }
    template_model = models["NotificationTemplate"]
    rule_model = models["NotificationRule"]
    recipient_model = models["RuleRecipient"]
    now = timezone.now()
    templates = 0
    for key in shipped_keys():
        for language in LANGUAGES:
            found = shipped_template(key, language)
            if found is None:
                continue
            subject, body = found
            _, created = template_model.objects.get_or_create(
                key=key, channel="", language=language,
                defaults={"subject": subject, "body": body, "approved_subject": subject,
                          "approved_body": body, "approved_at": now, "status": "approved",
                          "shipped": True, "description": DESCRIPTIONS.get(key, "")},
            )  # fmt: skip
            templates += created
    rules = 0
    for spec in RULES:
        if rule_model.objects.filter(name=spec.name).exists():
            continue
        rule = rule_model.objects.create(
            name=spec.name, description=spec.description, subject_type=spec.subject_type,
            event_types=spec.event_types, payload_match=spec.payload_match, kind=spec.kind,
            action=spec.action, due_in=spec.due_in, completes_on=spec.completes_on,
            template_key=spec.template_key, channels=spec.channels, urgent=spec.urgent,
            notify_actor=spec.notify_actor, shipped=True, active=True,
        )  # fmt: skip
        for recipient in spec.recipients:
            recipient_model.objects.create(
                rule=rule, kind=recipient["kind"], level=recipient.get("level")
            )
        rules += 1
    return templates, rules
