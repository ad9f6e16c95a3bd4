"""The 1st line's registration form: lookup by name or phone, live severity, pickers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from servicedesk.incidents.models import Incident, ResolutionCode, Source, Status
from servicedesk.knownerrors import services as known_errors
from servicedesk.knownerrors.models import Audience, KnownError, KnownErrorIncident
from servicedesk.testing.factories import ConfigurationItemFactory
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


class TestLookup:
    def test_by_name_username_or_email(self, org: Org, browser: Callable[..., Client]) -> None:
        page = browser(org.desk_agent)
        person = org.reporter
        for query in (person.first_name, f"{person.last_name} {person.first_name}",
                      person.username, person.email):  # fmt: skip
            response = page.get("/incidents/new/reporters/", {"q": query})
            assert person in response.context["reporters"], query
            assert str(person) in response.content.decode()

    def test_by_phone_in_any_format_with_the_phone_shown(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        org.reporter.phone = "+7 (495) 555-04-00"
        org.reporter.save()
        page = browser(org.desk_agent)
        for query in ("555-04-00", "5550400", "495 555 04"):
            response = page.get("/incidents/new/reporters/", {"q": query})
            people = list(response.context["reporters"])
            assert people == [org.reporter], query
            html = response.content.decode()
            assert "+7 (495) 555-04-00" in html
            assert 'type="radio" name="reporter"' in html and "checked" in html  # the only match

    def test_short_queries_find_nobody(self, org: Org, browser: Callable[..., Client]) -> None:
        response = browser(org.desk_agent).get("/incidents/new/reporters/", {"q": "a"})
        assert list(response.context["reporters"]) == []

    def test_end_users_cannot_look_people_up(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        response = browser(org.reporter).get("/incidents/new/reporters/", {"q": "First"})
        assert response.status_code == 302


class TestSeverityPreview:
    @pytest.mark.parametrize(("users", "severity"), [(0, 4), (1, 3), (9, 3), (10, 2), (50, 1)])
    def test_bands(
        self, org: Org, browser: Callable[..., Client], users: int, severity: int
    ) -> None:
        response = browser(org.desk_agent).get("/incidents/new/severity/",
                                               {"affected_users": users, "impact": 1, "urgency": 2})  # fmt: skip
        assert response.context["severity"]["severity"] == severity
        assert response.context["severity"]["priority"] == 2
        assert f"sev-{severity}" in response.content.decode()

    def test_in_russian(self, org: Org, browser: Callable[..., Client]) -> None:
        html = (
            browser(org.desk_agent, "ru")
            .get("/incidents/new/severity/", {"affected_users": "12"})
            .content.decode()
        )
        assert "От 10 до 49 пользователей не могут работать" in html
        assert "12 пользователей не могут работать" in html

    def test_nonsense_is_clamped(self, org: Org, browser: Callable[..., Client]) -> None:
        response = browser(org.desk_agent).get("/incidents/new/severity/",
                                               {"affected_users": "-5x", "impact": "9"})  # fmt: skip
        assert response.status_code == 200 and response.context["severity"]["severity"] == 3


class TestRegister:
    def test_ci_picker_follows_the_service(self, org: Org, browser: Callable[..., Client]) -> None:
        ConfigurationItemFactory(name="mail-02", service=org.mail)
        html = (
            browser(org.desk_agent)
            .get("/incidents/new/items/", {"service": org.mail.pk})
            .content.decode()
        )
        assert "mail-01" in html and "mail-02" in html and "core-router-01" not in html

    def test_ci_picker_keeps_a_choice_that_still_fits(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        client = browser(org.desk_agent)

        def chosen(service: int) -> list[str]:
            html = client.get("/incidents/new/items/", {
                "service": service, "configuration_item": org.mail_server.pk,
            }).content.decode()  # fmt: skip
            return re.findall(r'<option value="(\d+)" selected>', html)

        assert chosen(org.mail.pk) == [str(org.mail_server.pk)]
        assert chosen(org.internet.pk) == []  # mail-01 is not among the options

    def test_registers_by_phone(self, org: Org, browser: Callable[..., Client]) -> None:
        response = browser(org.desk_agent).post("/incidents/new/", {
            "reporter": org.reporter.pk, "source": "phone", "title": "Cannot send mail",
            "service": org.mail.pk, "configuration_item": org.mail_server.pk,
            "affected_users": 12, "impact": 2, "urgency": 1,
        })  # fmt: skip
        incident = Incident.objects.get()
        assert response.status_code == 302 and response["Location"] == f"/incidents/{incident.pk}/"
        assert (incident.source, incident.severity, incident.priority) == (Source.PHONE, 2, 2)
        assert incident.contact_phone == org.reporter.phone  # empty field: the reporter's
        assert incident.technology == org.email

    def test_override_without_reason_is_refused_next_to_the_field(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        response = browser(org.desk_agent).post("/incidents/new/", {
            "reporter": org.reporter.pk, "source": "phone", "title": "VIP laptop",
            "affected_users": 1, "impact": 2, "urgency": 2, "severity": 1,
        })  # fmt: skip
        assert response.status_code == 422
        assert response.context["form"].errors["severity_reason"] == [
            "Say why the severity differs from the number of blocked users."
        ]
        assert response.context["reporters"] == [org.reporter]  # the choice survives
        assert not Incident.objects.exists()

    def test_missing_reporter(self, org: Org, browser: Callable[..., Client]) -> None:
        response = browser(org.desk_agent).post("/incidents/new/", {
            "source": "phone", "title": "x", "affected_users": 1, "impact": 2, "urgency": 2})  # fmt: skip
        assert response.context["form"].errors["reporter"] == ["Find and choose the reporter."]

    def test_nul_is_refused_before_the_database(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        response = browser(org.desk_agent).post("/incidents/new/", {
            "reporter": org.reporter.pk, "source": "phone", "title": "bad\x00title",
            "affected_users": 1, "impact": 2, "urgency": 2})  # fmt: skip
        assert response.status_code == 422 and "title" in response.context["form"].errors


class TestKnownErrorsWhileRegistering:
    """The 1st line sees matching known errors as it types and may register the
    incident with a workaround applied (issue 7: "while registering ...")."""

    @staticmethod
    def _known_error(org: Org, **kw: Any) -> KnownError:
        return known_errors.do_create_known_error(
            actor=org.mail_ops_agent, title="Mailbox quota exceeded",
            symptoms="User cannot receive e-mail; the mailbox is full.",
            root_cause="Mailbox at its quota.", workaround="Archive old items to the local archive.",
            **kw,
        )  # fmt: skip

    def _form(self, org: Org, **extra: object) -> dict[str, object]:
        return {
            "reporter": org.reporter.pk, "source": "phone", "title": "Mailbox full, cannot receive e-mail",
            "service": org.mail.pk, "configuration_item": org.mail_server.pk,
            "affected_users": 1, "impact": 2, "urgency": 2, **extra,
        }  # fmt: skip

    def test_matches_appear_as_the_agent_types(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        known = self._known_error(org, configuration_items=[org.mail_server])
        page = browser(org.desk_agent)
        empty = page.get("/known-errors/registration/", {"title": ""})
        assert [f.known_error for f in empty.context["matches"]] == []
        response = page.get("/known-errors/registration/", {
            "title": "mailbox is full", "configuration_item": str(org.mail_server.pk)})  # fmt: skip
        assert [f.known_error for f in response.context["matches"]] == [known]
        html = response.content.decode()
        assert f'name="known_error" value="{known.pk}"' in html
        assert "Archive old items" in html
        assert browser(org.reporter).get("/known-errors/registration/").status_code in (302, 403)

    def test_register_with_the_workaround_applied_and_resolved(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        known = self._known_error(org)
        response = browser(org.desk_agent).post(
            "/incidents/new/",
            self._form(org, known_error=known.pk, known_error_resolve="1"),
            follow=True,
        )
        incident = Incident.objects.get()
        assert incident.status == Status.RESOLVED
        assert incident.resolution_code == ResolutionCode.KNOWN_ERROR
        link = KnownErrorIncident.objects.get()
        assert (link.known_error, link.incident, link.resolved) == (known, incident, True)
        assert link.match["score"] > 0  # the evidence of the match is kept with the link
        assert "the incident resolved" in response.content.decode()

    def test_a_workaround_that_cannot_be_applied_registers_nothing(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        draft = known_errors.do_create_known_error(
            actor=org.mail_ops_agent, title="Unpublished", symptoms="Mailbox full",
            root_cause="Unknown yet", workaround="", audience=Audience.UNPUBLISHED,
        )  # fmt: skip
        response = browser(org.desk_agent).post(
            "/incidents/new/", self._form(org, known_error=draft.pk, known_error_resolve="1")
        )
        assert response.status_code == 422
        assert "no published workaround" in " ".join(response.context["form"].non_field_errors())
        assert response.context["form"]["title"].value() == "Mailbox full, cannot receive e-mail"
        assert not Incident.objects.exists() and not KnownErrorIncident.objects.exists()
