"""factory_boy factories for the foundation's models."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth.hashers import make_password

from servicedesk.accounts.models import Role, SupportGroup, User
from servicedesk.catalog.models import (
    Category,
    ConfigurationItem,
    Partner,
    Service,
    Technology,
    UserGroup,
)

PASSWORD = "pw-for-tests"  # noqa: S105
_HASHED: dict[str, str] = {}


def _hashed() -> str:
    if PASSWORD not in _HASHED:
        _HASHED[PASSWORD] = make_password(PASSWORD)
    return _HASHED[PASSWORD]


class TechnologyFactory(factory.django.DjangoModelFactory[Technology]):
    class Meta:
        model = Technology
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Technology {n}")
    slug = factory.Sequence(lambda n: f"tech-{n}")


class UserGroupFactory(factory.django.DjangoModelFactory[UserGroup]):
    class Meta:
        model = UserGroup
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Department {n}")


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Tester"
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    phone = factory.Sequence(lambda n: f"+7 495 000-{n:04d}")
    role = Role.END_USER
    password = factory.LazyFunction(_hashed)


class SupportGroupFactory(factory.django.DjangoModelFactory[SupportGroup]):
    class Meta:
        model = SupportGroup
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Group {n}")
    level = 2
    technology = None
    manager = None

    @factory.post_generation
    def members(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.members.add(*extracted)


class ServiceFactory(factory.django.DjangoModelFactory[Service]):
    class Meta:
        model = Service
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Service {n}")


class ConfigurationItemFactory(factory.django.DjangoModelFactory[ConfigurationItem]):
    class Meta:
        model = ConfigurationItem
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"ci-{n:03d}")


class CategoryFactory(factory.django.DjangoModelFactory[Category]):
    class Meta:
        model = Category
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Category {n}")


class PartnerFactory(factory.django.DjangoModelFactory[Partner]):
    class Meta:
        model = Partner
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Partner {n}")
