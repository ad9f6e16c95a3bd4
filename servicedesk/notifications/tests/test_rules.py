"""Rules: events x conditions -> recipients -> template and channel, as outbox rows."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from servicedesk.core import events
from servicedesk.core.models import OutboxMessage
from servicedesk.incidents import services as incidents
from servicedesk.incidents.models import Incident
from servicedesk.notifications import services
from servicedesk.notifications.models import (
    ActionRequest,
    ActionState,
    NotificationRule,
    NotificationTemplate,
    Watcher,
)
from servicedesk.notifications.samples import SampleEvent
from servicedesk.testing.org import Org

from .conftest import make_group, make_user

pytestmark = pytest.mark.django_db


def create(org: Org, **kw: Any) -> Incident:
    kw.setdefault("title", "Cannot receive e-mail")
    kw.setdefault("reporter", org.reporter)
    return incidents.do_create_incident(actor=kw.pop("actor", org.desk_agent), **kw)


def messages(channel: str | None = None, **filters: Any) -> list[OutboxMessage]:
    qs = OutboxMessage.objects.filter(**filters).order_by("id")
    if channel:
        qs = qs.filter(channel=channel)
    return list(qs)


def emails_to(address: str) -> list[OutboxMessage]:
    return messages("email", destination=address)


def only_rule(org: Org, **data: Any) -> NotificationRule:
    """Switch the shipped rules off and add one rule (recipients given as dicts)."""
    NotificationRule.objects.update(active=False)
    data.setdefault("name", "Test rule")
    data.setdefault("subject_type", "incident")
    data.setdefault("template_key", "incident_update")
    data.setdefault("channels", ["email"])
    return services.do_save_rule(actor=org.admin, data=data)


class TestShippedRules:
    def test_reporter_told_on_create_in_their_language(self, org: Org) -> None:
        org.reporter.language = "ru"
        org.reporter.save()
        incident = create(org)
        [mail] = emails_to(org.reporter.email)
        assert (
            mail.payload["subject"] == f"{incident.number} зарегистрирован: Cannot receive e-mail"
        )
        assert "Ваше обращение зарегистрировано" in mail.payload["body"]
        assert mail.payload["language"] == "ru"
        [note] = messages("inapp", destination=f"user:{org.reporter.pk}")
        assert note.payload["title"].startswith(incident.number)
        # The agent who registered it is not the reporter and hears nothing.
        assert not emails_to(org.desk_agent.email)

    def test_reporter_registering_it_themselves_is_told_too(self, org: Org) -> None:
        create(org, actor=org.reporter, reporter=None)
        assert len(emails_to(org.reporter.email)) == 1

    def test_escalation_tells_the_receiving_group_and_asks_it_to_act(self, org: Org) -> None:
        incident = create(org, service=org.internet)
        incidents.do_escalate(
            incident=incident, actor=org.desk_agent, reason="insufficient_knowledge"
        )
        # The group has no shared mailbox: each member gets the message.
        mails = {m.destination: m for m in messages("email", event_type="incident.escalated")}
        assert set(mails) == {org.net_ops_agent.email, org.problem_manager.email}
        body = mails[org.net_ops_agent.email].payload["body"]
        assert incident.number in mails[org.net_ops_agent.email].payload["subject"]
        assert "insufficient knowledge at the previous level" in body
        assert f"http://localhost:8000/incidents/{incident.pk}/" in body
        assert org.reporter.phone in body
        [request] = ActionRequest.objects.filter(incident=incident)
        assert request.addressee_group == org.net_ops and request.state == ActionState.OPEN
        # Accepting it is the action asked: the request is done.
        incidents.do_accept(incident=incident, actor=org.net_ops_agent)
        request.refresh_from_db()
        assert request.state == ActionState.DONE and request.done_by == org.net_ops_agent

    def test_group_mailbox_is_used_when_the_group_has_one(self, org: Org) -> None:
        org.net_ops.email = "netops@example.com"
        org.net_ops.save()
        incident = create(org, service=org.internet)
        incidents.do_escalate(incident=incident, actor=org.desk_agent, reason="time_expired")
        assert [m.destination for m in messages("email", event_type="incident.escalated")] == [
            "netops@example.com"
        ]
        # In the product every member still gets their own notification.
        assert {m.destination for m in messages("inapp", event_type="incident.escalated")} == {
            f"user:{org.net_ops_agent.pk}",
            f"user:{org.problem_manager.pk}",
        }

    def test_accepting_is_not_an_assignment_message(self, org: Org) -> None:
        incident = create(org)
        incidents.do_accept(incident=incident, actor=org.desk_agent)
        assert not messages(event_type="incident.assigned")

    def test_hierarchical_escalation_tells_the_manager_and_reporter_in_the_coordinators_name(
        self, org: Org
    ) -> None:
        incident = create(org, service=org.internet, affected_users=20)
        incidents.do_escalate(
            incident=incident, actor=org.desk_agent, kind="hierarchical", reason="time_expired"
        )
        manager = org.net_eng_manager  # first in the network chain
        [to_manager] = emails_to(manager.email)
        assert "coordinator" in to_manager.payload["body"]
        assert ActionRequest.objects.get(incident=incident).addressee == manager
        [to_reporter] = [m for m in emails_to(org.reporter.email) if "escalated" in m.event_type]
        assert to_reporter.payload["from_name"] == str(manager)
        assert to_reporter.payload["reply_to"] == manager.email
        assert f"{manager} coordinates the work" in to_reporter.payload["body"]
        # From now on status messages go out in the coordinator's name.
        incidents.do_resolve(
            incident=incident, actor=org.desk_agent, resolution_code="workaround",
            resolution="Rerouted the traffic.",
        )  # fmt: skip
        [resolved] = [m for m in emails_to(org.reporter.email) if m.event_type.endswith("resolved")]
        assert resolved.payload["from_name"] == str(manager)
        assert resolved.payload["body"].rstrip().splitlines()[-1].startswith(str(manager))

    def test_pending_on_the_user_asks_the_reporter(self, org: Org) -> None:
        incident = create(org)
        incidents.do_set_pending(
            incident=incident, actor=org.desk_agent, reason="awaiting_user",
            comment="Which printer do you use?",
        )  # fmt: skip
        [mail] = [m for m in emails_to(org.reporter.email) if "status_changed" in m.event_type]
        assert "Which printer do you use?" in mail.payload["body"]
        incidents.do_set_pending(incident=incident, actor=org.desk_agent, reason="awaiting_vendor")
        assert len([m for m in emails_to(org.reporter.email) if "status" in m.event_type]) == 1

    def test_watchers_hear_changes_but_not_internal_notes(self, org: Org) -> None:
        watcher = make_user(username="watcher", language="ru", role="agent")
        incident = create(org)
        services.do_watch(actor=watcher, incident=incident)
        incidents.do_add_comment(
            incident=incident, actor=org.desk_agent, body="internal", public=False
        )
        assert not emails_to(watcher.email)
        incidents.do_add_comment(
            incident=incident, actor=org.desk_agent, body="Rebooting the server now.", public=True
        )
        [mail] = emails_to(watcher.email)
        assert "Rebooting the server now." in mail.payload["body"]
        assert "новый комментарий" in mail.payload["subject"]
        incidents.do_cancel(incident=incident, actor=org.reporter, reason="Works again.")
        assert "отменён" in emails_to(watcher.email)[-1].payload["subject"]


class TestConditions:
    def test_severity_support_level_service_technology_user_group(self, org: Org) -> None:
        rule = only_rule(
            org, event_types=["created"], recipients=[{"kind": "user", "user": org.cio}],
            severities=[1, 2], support_levels=[1], services=[org.internet],
            technologies=[org.network], user_groups=[org.finance],
        )  # fmt: skip
        create(org, service=org.internet, affected_users=5)  # severity 3
        assert not emails_to(org.cio.email)
        create(org, service=org.mail, affected_users=60)  # other service and technology
        assert not emails_to(org.cio.email)
        create(org, service=org.internet, affected_users=60, reporter=org.reporter2)  # Sales
        assert not emails_to(org.cio.email)
        create(org, service=org.internet, affected_users=60)
        assert len(emails_to(org.cio.email)) == 1
        rule.active = False
        rule.save()
        create(org, service=org.internet, affected_users=60)
        assert len(emails_to(org.cio.email)) == 1

    def test_payload_conditions_and_derived_facts(self, org: Org) -> None:
        only_rule(
            org, event_types=["sla_threshold"], recipients=[{"kind": "owner_group"}],
            template_key="incident_sla", payload_match={"clock": "resolve", "percent": [90, 100]},
        )  # fmt: skip
        org.service_desk.email = "desk@example.com"
        org.service_desk.save()
        incident = create(org)
        for clock_name, percent in [("resolve", 75), ("respond", 90), ("resolve", 90)]:
            with transaction.atomic():
                events.publish(
                    "incident",
                    SampleEvent(type="sla_threshold", subject=incident,
                                payload={"clock": clock_name, "percent": percent}),
                )  # fmt: skip
        [mail] = emails_to("desk@example.com")
        assert "90% of the resolution time" in mail.payload["subject"]


class TestRecipients:
    def publish(self, incident: Incident, type: str, **payload: Any) -> None:
        with transaction.atomic():
            events.publish("incident", SampleEvent(type=type, subject=incident, payload=payload))

    def test_on_call_person_is_paged_urgently_with_an_action_request(self, org: Org) -> None:
        incident = create(org)
        self.publish(
            incident, "paged", person={"id": org.net_engineer.pk, "name": str(org.net_engineer)},
            group={"id": org.net_eng.pk, "name": org.net_eng.name},
        )  # fmt: skip
        [mail] = emails_to(org.net_engineer.email)
        assert mail.payload["subject"].startswith(f"PAGE {incident.number}")
        assert mail.meta["urgent"] is True
        assert "acknowledge the page" in mail.payload["body"]
        request = ActionRequest.objects.get(incident=incident, addressee=org.net_engineer)
        self.publish(incident, "page_acknowledged")
        request.refresh_from_db()
        assert request.state == ActionState.DONE

    def test_emergency_meeting_participants_due_at_the_start(self, org: Org) -> None:
        incident = create(org)
        self.publish(
            incident, "emergency_meeting",
            participants=[{"id": org.ops_head.pk, "name": str(org.ops_head)},
                          {"id": org.net_eng_manager.pk, "name": str(org.net_eng_manager)}],
            starts_at="2030-05-06T10:00:00+00:00", bridge="https://meet.example.com/inc",
        )  # fmt: skip
        for person in (org.ops_head, org.net_eng_manager):
            [mail] = emails_to(person.email)
            assert "https://meet.example.com/inc" in mail.payload["body"]
        due = {r.due_at.isoformat() for r in ActionRequest.objects.filter(incident=incident)}
        assert due == {"2030-05-06T10:00:00+00:00"}

    def test_manager_chain_level_and_explicit_addresses(self, org: Org) -> None:
        only_rule(
            org, event_types=["created"],
            recipients=[{"kind": "manager_chain", "level": 2},
                        {"kind": "address", "address": "noc@example.com"},
                        {"kind": "manager_chain", "level": 9}],
        )  # fmt: skip
        create(org, service=org.internet)
        # Network chain: Network Engineering's manager, then the Head of Engineering.
        assert len(emails_to(org.eng_head.email)) == 1
        assert len(emails_to("noc@example.com")) == 1
        assert not emails_to(org.net_eng_manager.email)

    def test_all_support_levels_hear_a_published_workaround(self, org: Org) -> None:
        """Problems and known errors are published by their own app; any object with
        the expected attributes works."""
        org.service_desk.email = "desk@example.com"
        org.service_desk.save()

        class KnownError:
            pk = 7
            title = "Mailbox quota reached"
            symptoms = "Mail bounces with 552"
            workaround = "Archive old items"
            root_cause = ""
            status = "open"

        with transaction.atomic():
            events.publish(
                "known_error",
                SampleEvent(type="workaround_published", subject_type="known_error",
                            subject=KnownError()),
            )  # fmt: skip
        [mail] = emails_to("desk@example.com")
        assert mail.payload["subject"] == "KE-000007 workaround published: Mailbox quota reached"
        assert "Workaround: Archive old items" in mail.payload["body"]
        groups = {org.net_ops_agent, org.net_engineer, org.mail_ops_agent, org.mail_engineer}
        assert {u.email for u in groups} <= {m.destination for m in messages("email")}

    def test_problem_team_hears_the_resolution(self, org: Org) -> None:
        team = [org.net_engineer, org.problem_manager]

        class Problem:
            pk = 3
            number = "PRB-000003"
            title = "Router drops sessions"
            root_cause = "Firmware bug"
            owner = None
            # A stand-in for the related manager of the problem app's team.
            team = SimpleNamespace(all=lambda: team)

        with transaction.atomic():
            events.publish(
                "problem",
                SampleEvent(type="resolved", subject_type="problem", subject=Problem()),
            )
        assert {m.destination for m in messages("email")} == {u.email for u in team}

    def test_inactive_people_and_actors_are_skipped(self, org: Org) -> None:
        org.net_ops_agent.is_active = False
        org.net_ops_agent.save()
        incident = create(org, service=org.internet)
        incidents.do_escalate(
            incident=incident, actor=org.problem_manager, reason="insufficient_knowledge"
        )
        # Only two members: one inactive, the other did the escalation.
        assert not messages("email", event_type="incident.escalated")


class TestTemplatesInUse:
    def test_drafts_are_not_sent_until_approved(self, org: Org) -> None:
        template = NotificationTemplate.objects.get(key="incident_created", language="en")
        services.do_update_template(
            actor=org.admin, template=template, changes={"subject": "NEW {{ number }}"}
        )
        incident = create(org)
        assert (
            emails_to(org.reporter.email)[-1]
            .payload["subject"]
            .startswith(f"{incident.number} registered")
        )
        services.do_approve_template(actor=org.desk_manager, template=template)
        second = create(org)
        assert emails_to(org.reporter.email)[-1].payload["subject"] == f"NEW {second.number}"

    def test_a_channel_template_overrides_the_any_channel_one(self, org: Org) -> None:
        inapp = services.do_create_template(
            actor=org.admin, key="incident_created", channel="inapp", language="en",
            subject="Registered: {{ title }}", body="{{ number }} is registered.",
        )  # fmt: skip
        services.do_approve_template(actor=org.admin, template=inapp)
        incident = create(org)
        [note] = messages("inapp", destination=f"user:{org.reporter.pk}")
        # The number is added to a subject that does not name it.
        assert note.payload["title"] == f"{incident.number}: Registered: Cannot receive e-mail"
        assert (
            emails_to(org.reporter.email)[0]
            .payload["subject"]
            .endswith("registered: Cannot receive e-mail")
        )

    def test_each_member_of_a_group_is_addressed_by_name_in_their_language(self, org: Org) -> None:
        for language, body in (("en", "Dear {{ recipient }}: {{ status }}"),
                               ("ru", "{{ recipient }}, статус: {{ status }}")):  # fmt: skip
            template = services.do_create_template(
                actor=org.admin, key="group_hello", channel="", language=language,
                subject="Hello", body=body,
            )  # fmt: skip
            services.do_approve_template(actor=org.admin, template=template)
        group = make_group(name="Major incident team", level=2)
        people = [make_user(first_name=name, last_name="Lee") for name in ("Ann", "Bob", "Cy")]
        people[2].language = "ru"
        people[2].save()
        group.members.set(people)
        only_rule(
            org, event_types=["created"], template_key="group_hello",
            recipients=[{"kind": "group", "group": group}],
        )  # fmt: skip
        create(org)
        bodies = {m.destination: m.payload["body"] for m in messages("email")}
        assert bodies == {
            people[0].email: "Dear Ann Lee: new",
            people[1].email: "Dear Bob Lee: new",
            people[2].email: "Cy Lee, статус: новый",
        }

    def test_a_rule_that_addresses_nobody_writes_nothing_and_takes_no_savepoint(
        self, org: Org
    ) -> None:
        incident = create(org, technology=org.email)
        with CaptureQueriesContext(connection) as captured:
            incidents.do_escalate(incident=incident, actor=org.desk_agent, reason="time_expired")
        savepoints = [q for q in captured.captured_queries if q["sql"].startswith("SAVEPOINT")]
        # The service's own (the test runs in a transaction) and the group's
        # hand-over request's; the watchers' rule (the incident has none) takes none.
        assert len(savepoints) == 2
        assert [m.destination for m in messages("email", event_type="incident.escalated")] == [
            org.mail_ops_agent.email
        ]

    def test_a_broken_rule_never_undoes_the_change(self, org: Org) -> None:
        template = NotificationTemplate.objects.get(key="incident_created", language="en")
        # Approval checks templates; one broken behind its back (say, in the database)
        # makes its rule fail, not the incident.
        NotificationTemplate.objects.filter(pk=template.pk).update(
            approved_body="{{ number|add_badly }}"
        )
        incident = create(org)
        assert Incident.objects.filter(pk=incident.pk).exists()
        # The rule's messages are rolled back to its savepoint, all channels alike.
        assert not messages(event_type="incident.created")


class TestRollback:
    def test_a_rolled_back_change_queues_nothing(self, org: Org) -> None:
        before = OutboxMessage.objects.count()
        queued_inside: list[int] = []

        def change_that_fails() -> None:
            with transaction.atomic():
                create(org)
                queued_inside.append(OutboxMessage.objects.count())
                raise RuntimeError("the change fails after the event")

        with pytest.raises(RuntimeError):
            change_that_fails()
        assert queued_inside[0] > before
        assert OutboxMessage.objects.count() == before
        assert not ActionRequest.objects.exists()


class TestWatchers:
    def test_watch_and_unwatch(self, org: Org) -> None:
        incident = create(org)
        services.do_watch(actor=org.desk_agent, incident=incident, user=org.cio)
        services.do_watch(actor=org.cio, incident=incident)
        assert Watcher.objects.filter(subject_id=incident.pk).count() == 1
        services.do_unwatch(actor=org.cio, incident=incident)
        assert not Watcher.objects.exists()

    def test_end_users_watch_only_what_they_see(self, org: Org) -> None:
        from servicedesk.core.errors import NotFound, PermissionDenied

        incident = create(org)
        with pytest.raises(NotFound):
            services.do_watch(actor=org.reporter2, incident=incident)
        with pytest.raises(PermissionDenied):
            services.do_watch(actor=org.reporter, incident=incident, user=org.reporter2)

    def test_groups_as_explicit_recipients(self, org: Org) -> None:
        group = make_group(name="Major incident team", level=2, email="mit@example.com")
        only_rule(org, event_types=["created"], recipients=[{"kind": "group", "group": group}])
        create(org)
        assert len(emails_to("mit@example.com")) == 1
