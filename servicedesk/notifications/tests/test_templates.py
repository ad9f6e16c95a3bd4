"""Templates: every shipped one reads well; approval before use; previews with real records."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest

from servicedesk.core.errors import FieldError, PermissionDenied
from servicedesk.incidents import services as incidents
from servicedesk.incidents.models import Incident
from servicedesk.notifications import defaults, rendering, samples, services
from servicedesk.notifications.models import NotificationTemplate, TemplateStatus
from servicedesk.testing.org import Org

from .conftest import make_user

pytestmark = pytest.mark.django_db

RAW_CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")
EMPTY_LABEL = re.compile(r"(:[ \t]*$)|(:\s*[,.;])|(\(\s*\))|(,\s*,)|(^\s*[,.;:])", re.MULTILINE)


def minimal_incident(org: Org) -> Incident:
    """An incident with every optional field empty: a reporter with no name, phone or
    e-mail, no service, CI, technology, description, assignee or deadlines."""
    nobody = make_user(username="minimal", first_name="", last_name="", email="", phone="")
    incident = incidents.do_create_incident(
        actor=org.desk_agent, title="Printer jams", reporter=nobody
    )
    return Incident.objects.select_related(
        "reporter", "owner_group", "assigned_group", "assignee", "coordinator"
    ).get(pk=incident.pk)


def render_shipped(
    key: str, language: str, subject_type: str, subject: Any, event: Any, *, kind: str,
    action: dict[str, str] | None = None, text: str = "",
) -> rendering.Rendered:  # fmt: skip
    """Render a shipped template exactly as the dispatcher does."""
    found = defaults.shipped_template(key, language)
    assert found is not None, f"{key} has no {language} text"
    context = rendering.build_context(
        subject_type=subject_type, subject=subject, event=event, language=language,
        time_zone="Europe/Moscow", recipient_name="", sender=rendering.sender_for(subject, kind=kind),
        action=(action or {}).get(language, ""),
        action_due=samples.preview_due() if kind == "action" else None, text=text,
    )  # fmt: skip
    message = rendering.with_reference(rendering.render(*found, context), context["number"])
    if kind == "action":
        message = rendering.with_action_details(message, context)
    return message


def assert_reads_well(message: rendering.Rendered, number: str, what: str) -> None:
    text = f"{message.subject}\n{message.body}"
    assert "None" not in text, what
    assert "{{" not in text and "{%" not in text, what
    assert not RAW_CODE.findall(text), f"{what}: raw codes {RAW_CODE.findall(text)}"
    bad = EMPTY_LABEL.search(text)
    assert bad is None, (
        f"{what}: empty label near {text[max(0, bad.start() - 40) : bad.end() + 5]!r}"
    )
    assert "  " not in message.subject, what
    assert number in message.subject or number in message.body.split("\n", 1)[0], what
    assert message.body.strip(), what


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_shipped_template_renders_an_empty_record_cleanly(org: Org, language: str) -> None:
    incident = minimal_incident(org)
    stubs = {
        "problem": SimpleNamespace(pk=5, title="Sessions drop"),
        "known_error": SimpleNamespace(pk=6, title="Quota reached"),
    }
    covered: set[str] = set()
    for rule in defaults.RULES:
        subject = incident if rule.subject_type == "incident" else stubs[rule.subject_type]
        for event_type in rule.event_types:
            event = samples.sample_event(
                rule.subject_type, event_type, subject, overrides=rule.payload_match
            )
            message = render_shipped(
                rule.template_key, language, rule.subject_type, subject, event, kind=rule.kind,
                action=rule.action,
            )  # fmt: skip
            number = rendering.number_of(rule.subject_type, subject)
            assert_reads_well(message, number, f"{rule.template_key}/{language}/{event_type}")
            if rule.kind == "action":
                assert rendering.link_for(rule.subject_type, subject) in message.body
            covered.add(rule.template_key)
    # Templates used outside rules: manual status updates and reminders.
    update = samples.sample_event("incident", "status_update_sent", incident)
    message = render_shipped(
        "incident_status_update", language, "incident", incident, update, kind="status",
        text="Engineers are replacing the switch.",
    )  # fmt: skip
    assert_reads_well(message, incident.number, f"incident_status_update/{language}")
    reminder = samples.sample_event("incident", "action_request_overdue", incident)
    message = render_shipped(
        "action_reminder", language, "incident", incident, reminder, kind="action",
        action=defaults.ACCEPT,
    )  # fmt: skip
    assert_reads_well(message, incident.number, f"action_reminder/{language}")
    covered |= {"incident_status_update", "action_reminder"}
    assert covered == set(defaults.shipped_keys())


def test_every_shipped_template_exists_in_both_languages() -> None:
    for language in defaults.LANGUAGES:
        keys = sorted(p.stem for p in (defaults.SHIPPED_DIR / language).glob("*.txt"))
        assert keys == defaults.shipped_keys()


def test_a_full_record_shows_its_fields_in_russian(org: Org) -> None:
    org.reporter.language = "ru"
    incident = incidents.do_create_incident(
        actor=org.desk_agent, title="Нет связи", reporter=org.reporter, service=org.internet,
        affected_users=12, business_impact="Отдел продаж не работает",
    )  # fmt: skip
    incidents.do_escalate(incident=incident, actor=org.desk_agent, reason="time_expired")
    incident.refresh_from_db()
    event = incident.events.get(type="escalated")
    message = render_shipped(
        "incident_escalated", "ru", "incident", incident, event, kind="action",
        action=defaults.ACCEPT,
    )  # fmt: skip
    assert "эскалирован в группу Network Operations (2-я линия): истекло согласованное время" in (
        message.body
    )
    assert "Услуга: Internet access" in message.body
    assert "Серьёзность: 2 (высокая)" in message.body
    assert f"({org.reporter.phone}, {org.reporter.email})" in message.body
    assert "примите инцидент" in message.body


class TestApproval:
    def test_new_templates_are_drafts_and_need_an_approver(self, org: Org) -> None:
        template = services.do_create_template(
            actor=org.admin, key="custom", language="en", subject="{{ number }}", body="Hi"
        )
        assert template.status == TemplateStatus.DRAFT and not template.is_usable
        with pytest.raises(PermissionDenied):
            services.do_approve_template(actor=org.desk_agent, template=template)
        approved = services.do_approve_template(actor=org.desk_manager, template=template)
        assert approved.is_usable and approved.approved_by == org.desk_manager

    def test_only_administrators_edit(self, org: Org) -> None:
        template = NotificationTemplate.objects.get(key="incident_created", language="en")
        with pytest.raises(PermissionDenied):
            services.do_update_template(
                actor=org.desk_manager, template=template, changes={"body": "x"}
            )

    def test_syntax_errors_are_field_errors(self, org: Org) -> None:
        with pytest.raises(FieldError) as err:
            services.do_create_template(
                actor=org.admin, key="bad", language="en", subject="ok", body="{% if %}"
            )
        assert err.value.loc == ["body", "body"]

    def test_editing_back_to_the_approved_text_is_approved_again(self, org: Org) -> None:
        template = NotificationTemplate.objects.get(key="incident_created", language="ru")
        original = template.body
        services.do_update_template(actor=org.admin, template=template, changes={"body": "x"})
        template.refresh_from_db()
        assert template.status == TemplateStatus.DRAFT
        assert template.approved_body == original
        services.do_update_template(actor=org.admin, template=template, changes={"body": original})
        template.refresh_from_db()
        assert template.status == TemplateStatus.APPROVED

    def test_restore_puts_the_shipped_text_back_as_a_draft(self, org: Org) -> None:
        template = NotificationTemplate.objects.get(key="incident_resolved", language="en")
        services.do_update_template(actor=org.admin, template=template, changes={"body": "x"})
        services.do_approve_template(actor=org.admin, template=template)
        restored = services.do_restore_template(actor=org.admin, template=template)
        assert restored.body == defaults.shipped_template("incident_resolved", "en")[1]  # type: ignore[index]
        assert restored.status == TemplateStatus.DRAFT and restored.approved_body == "x"


def test_preview_uses_the_records_own_event(org: Org) -> None:
    incident = incidents.do_create_incident(
        actor=org.desk_agent, title="VPN drops", reporter=org.reporter
    )
    incidents.do_set_pending(
        incident=incident, actor=org.desk_agent, reason="awaiting_user", comment="Send a log."
    )
    found = defaults.shipped_template("incident_pending_user", "en")
    assert found is not None
    message = services.preview(
        subject=found[0], body=found[1], language="en", subject_type="incident",
        record=incident, event_type="status_changed",
    )  # fmt: skip
    assert message.subject == f"{incident.number}: we need information from you"
    assert "Send a log." in message.body
