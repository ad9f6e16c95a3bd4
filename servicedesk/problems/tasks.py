"""Periodic jobs of problem control."""

from datetime import timedelta

from servicedesk.core.registry import periodic

from . import trends


@periodic("problems.trend_analysis", every=timedelta(days=1))
def trend_analysis() -> str:
    """Propose clusters of closed, unexplained incidents as problem candidates."""
    proposed = trends.propose(trends.rules())
    return f"{len(proposed)} trend clusters proposed"
