"""Bulk-load N incidents (with their `created` event and a span each) into the
database of DATABASE_URL, for benchmarks. Run after `servicedesk demo`.

    python -m bench.seed --incidents 100000
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import timedelta


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from servicedesk.accounts.models import Role, SupportGroup, User
    from servicedesk.catalog.models import ConfigurationItem
    from servicedesk.incidents.models import AssignmentSpan, Incident, IncidentEvent, Status

    rng = random.Random(42)
    reporters = list(User.objects.filter(role=Role.END_USER))
    groups = list(SupportGroup.objects.all())
    desk = next(g for g in groups if g.level == 1)
    cis = list(ConfigurationItem.objects.select_related("service", "technology"))
    statuses = [Status.CLOSED] * 70 + [Status.RESOLVED] * 10 + [Status.NEW] * 5 + [Status.ASSIGNED] * 5 + \
        [Status.IN_PROGRESS] * 7 + [Status.PENDING] * 3  # fmt: skip
    now = timezone.now()
    started = time.monotonic()
    done = 0
    while done < args.incidents:
        n = min(args.batch, args.incidents - done)
        rows = []
        for i in range(n):
            ci = rng.choice(cis)
            group = rng.choice(groups)
            opened = now - timedelta(minutes=rng.randint(1, 60 * 24 * 365))
            status = rng.choice(statuses)
            users = rng.choice([0, 1, 1, 1, 2, 5, 12, 60])
            rows.append(Incident(
                title=f"Bench incident {done + i}: {ci.name} misbehaves", description="Generated for benchmarks.",
                source="phone", reporter=rng.choice(reporters), service=ci.service, configuration_item=ci,
                technology=ci.technology, affected_users=users,
                severity=1 if users >= 50 else 2 if users >= 10 else 3 if users else 4, priority=3,
                owner_group=desk, assigned_group=group, support_level=group.level, status=status,
                opened_at=opened, updated_at=opened,
                resolved_at=opened + timedelta(hours=2) if status in (Status.RESOLVED, Status.CLOSED) else None,
                closed_at=opened + timedelta(days=2) if status == Status.CLOSED else None,
            ))  # fmt: skip
        with transaction.atomic():
            created = Incident.objects.bulk_create(rows)
            IncidentEvent.objects.bulk_create(
                IncidentEvent(
                    incident=inc, type="created", at=inc.opened_at, payload={"status": "new"}
                )
                for inc in created
            )
            AssignmentSpan.objects.bulk_create(
                AssignmentSpan(
                    incident=inc,
                    group=inc.assigned_group,
                    support_level=inc.support_level,
                    started_at=inc.opened_at,
                    ended_at=inc.resolved_at,
                )
                for inc in created
            )
        done += n
    print(f"seeded {done} incidents in {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
