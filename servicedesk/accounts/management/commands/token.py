"""`servicedesk token create USERNAME` / `token revoke PREFIX` / `token list [USERNAME]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from servicedesk.accounts.models import ApiToken, User
from servicedesk.accounts.services import do_create_token, do_revoke_token


class Command(BaseCommand):
    help = "Create, list or revoke API tokens."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Print a new token for USERNAME.")
        create.add_argument("username")
        create.add_argument("--name", default="", help="What the token is for.")
        listing = sub.add_parser("list", help="List tokens (never their secrets).")
        listing.add_argument("username", nargs="?")
        revoke = sub.add_parser("revoke", help="Revoke the token whose prefix is PREFIX.")
        revoke.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            user = User.objects.filter(username=options["username"]).first()
            if user is None:
                raise CommandError(f"no user named {options['username']!r}")
            if not user.is_active:
                raise CommandError(f"user {user.username!r} is inactive")
            _, raw = do_create_token(user=user, name=options["name"])
            self.stdout.write(raw)
        elif action == "list":
            qs = ApiToken.objects.select_related("user").order_by("created_at")
            if options["username"]:
                qs = qs.filter(user__username=options["username"])
            for token in qs:
                state = "revoked" if token.revoked_at else "active"
                self.stdout.write(
                    f"{token.prefix}…  {token.user.username:20} {state:8} {token.name}"
                )
        else:
            matches = list(
                ApiToken.objects.filter(prefix=options["prefix"], revoked_at__isnull=True)
            )
            if len(matches) != 1:
                raise CommandError(
                    f"{len(matches)} active tokens have the prefix {options['prefix']!r}"
                )
            do_revoke_token(token=matches[0])
            self.stdout.write(f"revoked {matches[0].prefix}…")
