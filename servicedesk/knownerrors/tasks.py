"""Periodic jobs of error control."""

from datetime import timedelta

from servicedesk.core.registry import periodic

from .monitoring import do_update_rate_flags


@periodic("knownerrors.monitor_rates", every=timedelta(days=1))
def monitor_known_error_rates() -> str:
    return f"flagged {len(do_update_rate_flags())} known errors with a rising incident rate"
