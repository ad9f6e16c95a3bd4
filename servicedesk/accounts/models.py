"""People, roles, support groups (1st/2nd/3rd line) and API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    END_USER = "end_user", _("end user")
    AGENT = "agent", _("agent")
    PROBLEM_MANAGER = "problem_manager", _("problem manager")
    MANAGER = "manager", _("manager")
    ADMIN = "admin", _("administrator")


class SupportLevel(models.IntegerChoices):
    FIRST = 1, _("1st line")
    SECOND = 2, _("2nd line")
    THIRD = 3, _("3rd line")


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role, default=Role.END_USER)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    # Blank: follow the browser's language.
    language = models.CharField(
        _("language"), max_length=8, blank=True, choices=[("en", "English"), ("ru", "Русский")]
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    user_group = models.ForeignKey(
        "catalog.UserGroup", verbose_name=_("user group"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="members",
    )  # fmt: skip
    # The manager chain: hierarchical escalation walks up these links.
    manager = models.ForeignKey(
        "self", verbose_name=_("manager"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="direct_reports",
    )  # fmt: skip
    job_title = models.CharField(_("job title"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_support_staff(self) -> bool:
        """Anyone who works incidents (every role but end user)."""
        return self.role != Role.END_USER


class SupportGroup(models.Model):
    """A team at one support level, for one technology (or for all: the service desk).

    Escalation picks the receiving group by (level, technology); at most one
    active group per pair, and at most one generalist (no technology) per level.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    level = models.PositiveSmallIntegerField(_("support level"), choices=SupportLevel)
    technology = models.ForeignKey(
        "catalog.Technology", verbose_name=_("technology"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="support_groups",
    )  # fmt: skip
    manager = models.ForeignKey(
        User, verbose_name=_("manager"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="managed_groups",
    )  # fmt: skip
    members = models.ManyToManyField(
        User, verbose_name=_("members"), blank=True, related_name="support_groups"
    )
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["level", "name"]
        verbose_name = _("support group")
        verbose_name_plural = _("support groups")
        constraints = [
            models.UniqueConstraint(
                fields=["level", "technology"],
                condition=Q(is_active=True, technology__isnull=False),
                name="accounts_group_one_per_level_technology",
            ),
            models.UniqueConstraint(
                fields=["level"],
                condition=Q(is_active=True, technology__isnull=True),
                name="accounts_group_one_generalist_per_level",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A bearer token for the API, stored as a SHA-256 digest.

    Tokens carry 256 bits of randomness, so a fast digest is as safe as a
    slow password hash for them and costs microseconds per request.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(
        max_length=12, help_text="The first characters, to recognise a token."
    )
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
