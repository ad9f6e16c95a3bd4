"""`servicedesk integration create KIND NAME` (prints the token), `list`, `token NAME`
(rotate), `disable NAME` / `enable NAME`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from servicedesk.accounts.models import User
from servicedesk.core.errors import ServiceError
from servicedesk.integrations import services
from servicedesk.integrations.models import Integration, IntegrationKind, OnResolved


class Command(BaseCommand):
    help = "Create and manage intake integrations (Alertmanager, Zabbix, Grafana, generic, e-mail)."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create an integration and print its token.")
        create.add_argument("kind", choices=IntegrationKind.values)
        create.add_argument("name")
        create.add_argument("--reporter", help="Username reporting its incidents.")
        create.add_argument(
            "--dedup-label", action="append", default=[], dest="dedup_labels",
            help="A label of the de-duplication key (repeat for several).",
        )  # fmt: skip
        create.add_argument("--on-resolved", choices=OnResolved.values, default="resolve")
        create.add_argument("--repeat-event-minutes", type=int, default=5)
        create.add_argument("--address", default="", help="E-mail: the mailbox's address.")
        sub.add_parser("list", help="List integrations (never their tokens).")
        token = sub.add_parser("token", help="Issue a new token for NAME (the old one stops).")
        token.add_argument("name")
        for verb in ("enable", "disable"):
            sub.add_parser(verb, help=f"{verb.title()} the integration NAME.").add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc

    def _find(self, name: str) -> Integration:
        integration = Integration.objects.filter(name=name).first()
        if integration is None:
            raise CommandError(f"no integration named {name!r}")
        return integration

    def _create(self, options: dict[str, Any]) -> None:
        reporter = None
        if options["reporter"]:
            reporter = User.objects.filter(username=options["reporter"]).first()
            if reporter is None:
                raise CommandError(f"no user named {options['reporter']!r}")
        integration, token = services.do_create_integration(
            actor=None, kind=options["kind"], name=options["name"], reporter=reporter,
            dedup_labels=options["dedup_labels"], on_resolved=options["on_resolved"],
            repeat_event_minutes=options["repeat_event_minutes"],
            mailbox_address=options["address"],
        )  # fmt: skip
        if token is None:
            self.stderr.write(
                f"e-mail integration {integration.name!r} created: pipe mail to "
                f"`servicedesk intake email --mailbox {integration.name!r}` or set its IMAP "
                "mailbox in the admin"
            )
            return
        self.stdout.write(token)
        self.stderr.write(
            f"POST to /api/v1/intake/{integration.kind} with `Authorization: Bearer <token>` "
            "(or ?token=<token>); the token is not shown again"
        )

    def _list(self, options: dict[str, Any]) -> None:
        for i in Integration.objects.all():
            state = "active" if i.active else "disabled"
            prefix = f"{i.token_prefix}…" if i.token_prefix else "-"
            self.stdout.write(f"{i.name:30} {i.kind:13} {state:9} {prefix}")

    def _token(self, options: dict[str, Any]) -> None:
        self.stdout.write(
            services.do_rotate_token(integration=self._find(options["name"]), actor=None)
        )

    def _enable(self, options: dict[str, Any]) -> None:
        services.do_set_active(integration=self._find(options["name"]), active=True, actor=None)

    def _disable(self, options: dict[str, Any]) -> None:
        services.do_set_active(integration=self._find(options["name"]), active=False, actor=None)
