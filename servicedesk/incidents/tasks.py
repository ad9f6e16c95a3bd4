"""Periodic jobs of incident management."""

from datetime import timedelta

from servicedesk.core.registry import periodic

from .services import close_unconfirmed


@periodic("incidents.close_unconfirmed", every=timedelta(minutes=10))
def close_unconfirmed_resolutions() -> str:
    return f"closed {close_unconfirmed()}"
