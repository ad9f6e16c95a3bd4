"""The small catalogue incidents refer to: technologies, services, CIs,
user groups (departments), categories and business partners."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Technology(models.Model):
    """A technology area (network, servers, e-mail, ...): support groups are per technology."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("technology")
        verbose_name_plural = _("technologies")

    def __str__(self) -> str:
        return self.name


class UserGroup(models.Model):
    """A group of end users (a department): incidents are reported per user group."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("user group")
        verbose_name_plural = _("user groups")

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """An IT service the users consume (e-mail, ERP, internet access, ...)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    technology = models.ForeignKey(
        Technology, verbose_name=_("technology"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="services",
    )  # fmt: skip
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("service")
        verbose_name_plural = _("services")

    def __str__(self) -> str:
        return self.name


class ConfigurationItem(models.Model):
    """A configuration item: a router, a server, an application instance."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=50, blank=True)
    service = models.ForeignKey(
        Service, verbose_name=_("service"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="configuration_items",
    )  # fmt: skip
    technology = models.ForeignKey(
        Technology, verbose_name=_("technology"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="configuration_items",
    )  # fmt: skip
    location = models.CharField(_("location"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("configuration item")
        verbose_name_plural = _("configuration items")

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    """The nature of an incident (hardware fault, access request, performance, ...)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


class Partner(models.Model):
    """A vendor or business partner the 1st line assigns action-plan tasks to."""

    class Kind(models.TextChoices):
        VENDOR = "vendor", _("vendor")
        PARTNER = "partner", _("business partner")
        PROVIDER = "provider", _("service provider")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind, default=Kind.VENDOR)
    contact_name = models.CharField(_("contact"), max_length=100, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    contract_ref = models.CharField(_("contract reference"), max_length=100, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("partner")
        verbose_name_plural = _("partners")

    def __str__(self) -> str:
        return self.name
