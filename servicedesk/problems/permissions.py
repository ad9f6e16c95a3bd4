"""Who may do what in problem control and error control.

- Problem managers, managers and administrators run the portfolio: they
  decide candidates, defer, close and change weights.
- 2nd- and 3rd-line staff (and the problem's team) investigate: they record
  causes, RCA artefacts and known errors.
- Every support staff member may read, raise problems by hand and link
  incidents; end users see no problems.
"""

from __future__ import annotations

from servicedesk.accounts.models import Role, User
from servicedesk.accounts.permissions import group_ids
from servicedesk.core.errors import PermissionDenied

MANAGING_ROLES = (Role.PROBLEM_MANAGER, Role.MANAGER, Role.ADMIN)


def is_problem_manager(user: User | None) -> bool:
    return user is None or user.is_superuser or user.role in MANAGING_ROLES


def is_investigator(user: User | None) -> bool:
    """A problem manager or a member of a 2nd- or 3rd-line group."""
    if is_problem_manager(user):
        return True
    assert user is not None
    if user.role != Role.AGENT:
        return False
    group_ids(user)
    levels = user._servicedesk_group_ids.values()  # type: ignore[attr-defined]
    return any(level >= 2 for level in levels)


def is_staff(user: User | None) -> bool:
    return user is None or user.is_superuser or user.is_support_staff


def can_work_problem(user: User | None, problem: object) -> bool:
    if is_problem_manager(user):
        return True
    assert user is not None
    if not user.is_support_staff:
        return False
    groups = group_ids(user)
    if getattr(problem, "owner_group_id", None) in groups:
        return True
    if getattr(problem, "assigned_group_id", None) in groups:
        return True
    if user.pk in (getattr(problem, "owner_id", None), getattr(problem, "assignee_id", None)):
        return True
    pk = getattr(problem, "pk", None)
    from .models import Problem

    return pk is not None and Problem.objects.filter(pk=pk, team=user).exists()


def require_staff(user: User | None, what: str) -> None:
    if not is_staff(user):
        raise PermissionDenied(f"Only support staff may {what}.")


def require_manager(user: User | None, what: str) -> None:
    if not is_problem_manager(user):
        raise PermissionDenied(f"Only problem managers and managers may {what}.")


def require_investigator(user: User | None, what: str) -> None:
    if not is_investigator(user):
        raise PermissionDenied(f"Only 2nd- and 3rd-line staff and problem managers may {what}.")


def require_work(user: User | None, problem: object) -> None:
    if not can_work_problem(user, problem):
        raise PermissionDenied(
            "You may not work on this problem: you are not in its groups or team."
        )
