from django.contrib import admin

from .models import Category, ConfigurationItem, Partner, Service, Technology, UserGroup


@admin.register(Technology)
class TechnologyAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name",)


@admin.register(UserGroup)
class UserGroupAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "technology", "is_active")
    list_filter = ("technology", "is_active")
    search_fields = ("name",)


@admin.register(ConfigurationItem)
class ConfigurationItemAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "service", "technology", "location", "is_active")
    list_filter = ("technology", "service", "is_active")
    search_fields = ("name", "location")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "contact_name", "email", "phone")
    list_filter = ("kind",)
    search_fields = ("name", "contact_name")
