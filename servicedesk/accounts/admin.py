from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import ApiToken, SupportGroup, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = (
        "username",
        "get_full_name",
        "role",
        "email",
        "phone",
        "user_group",
        "manager",
        "is_active",
    )
    list_filter = ("role", "is_active", "user_group", "support_groups")
    search_fields = ("username", "first_name", "last_name", "email", "phone")
    autocomplete_fields = ("manager", "user_group")
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        (
            "ServiceDesk",
            {
                "fields": (
                    "role",
                    "phone",
                    "job_title",
                    "user_group",
                    "manager",
                    "language",
                    "time_zone",
                )
            },
        ),
    )


@admin.register(SupportGroup)
class SupportGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "level", "technology", "manager", "is_active")
    list_filter = ("level", "technology", "is_active")
    search_fields = ("name",)
    filter_horizontal = ("members",)
    autocomplete_fields = ("manager",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `servicedesk token create`; here they are listed and revoked."""

    list_display = (
        "prefix",
        "user",
        "name",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    readonly_fields = (
        "user",
        "name",
        "prefix",
        "digest",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        from .services import do_revoke_token

        for token in queryset:
            do_revoke_token(token=token)
