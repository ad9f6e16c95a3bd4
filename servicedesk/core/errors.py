"""Domain errors raised by services; the API maps each to an HTTP status."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, OperationalError
from django.utils.translation import gettext


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def as_body(self) -> dict[str, Any]:
        return {"detail": self.message, **self.extra}


class NotFound(ServiceError):
    status_code = 404


class PermissionDenied(ServiceError):
    status_code = 403


class Conflict(ServiceError):
    """The request is valid but the record's state does not allow it."""

    status_code = 409


class IllegalTransition(Conflict):
    def __init__(self, *, current: str, target: str, allowed: Iterable[str]) -> None:
        allowed_list = sorted(allowed)
        names = ", ".join(allowed_list) if allowed_list else "none (the state is final)"
        super().__init__(
            f"Cannot go from '{current}' to '{target}'. Allowed next states: {names}.",
            status=current,
            allowed=allowed_list,
        )


class PreconditionFailed(ServiceError):
    """An If-Match precondition does not hold: someone else changed the record."""

    status_code = 412


class FieldError(ServiceError):
    """Invalid input found by a service: reported per field like schema errors."""

    status_code = 422

    def __init__(self, field: str | Sequence[str], message: str) -> None:
        """``field`` names a body field; a sequence is a full location
        (e.g. ``["query", "cursor"]``, ``["header", "Idempotency-Key"]``)."""
        super().__init__(message)
        self.loc = ["body", field] if isinstance(field, str) else list(field)

    def as_body(self) -> dict[str, Any]:
        return {"detail": [{"loc": self.loc, "msg": self.message, "type": "value_error"}]}


# PostgreSQL's answers to transactions that got in each other's way:
# serialization failure, deadlock, lock wait timeout.
RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}


class RaceLost(Conflict):
    """Two requests at the same moment passed the same check, and the database
    decided against this one (a unique constraint, a deadlock, a lock wait).
    Its transaction rolled back: nothing was written, and trying again is safe."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


def race_lost(exc: Exception) -> RaceLost | None:
    """The :class:`RaceLost` a database error means, or None for a real fault."""
    if isinstance(exc, IntegrityError):
        return RaceLost(
            gettext("This conflicts with a change made at the same moment; reload and try again."),
            retry=False,
        )
    if (
        isinstance(exc, OperationalError)
        and getattr(exc.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES
    ):
        return RaceLost(gettext("A concurrent change got in the way; try again."), retry=True)
    return None
