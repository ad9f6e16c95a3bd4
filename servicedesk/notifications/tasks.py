"""Worker registrations: the e-mail and in-app channels, action-request reminders,
and the retention of read in-app notifications."""

from __future__ import annotations

from datetime import timedelta

from servicedesk.core import clock
from servicedesk.core.models import DueItem
from servicedesk.core.registry import DueOutcome, channel, due_handler, local_channel, periodic

from . import channels, services
from .dispatch import REMINDER_KIND
from .models import Notification

# Read in-app notifications are kept this long; unread ones until they are read.
READ_RETENTION = timedelta(days=90)

channel("email")(channels.deliver_email)
channel("inapp")(channels.deliver_inapp)
local_channel("inapp")(channels.deliver_inapp_batch)


@due_handler(REMINDER_KIND)
def remind_action_request(item: DueItem) -> DueOutcome:
    return services.remind(int(item.payload["action_request_id"]))


@periodic("notifications.prune_read", every=timedelta(hours=6))
def prune_read_notifications() -> str:
    deleted, _ = Notification.objects.filter(read_at__lt=clock.now() - READ_RETENTION).delete()
    return f"deleted {deleted}"
