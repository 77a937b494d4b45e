from django.contrib import admin

from fleetwatch.protocols.models import AccessToken


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    """Tokens are listed and revoked here; they are issued through the API (shown once)."""

    list_display = ("name", "prefix", "organization", "can_write", "can_read", "is_active", "last_used")
    list_filter = ("organization", "can_write", "can_read", "is_active")
    search_fields = ("name", "prefix")
    readonly_fields = ("key_hash", "prefix", "created", "created_by", "last_used")

    def has_add_permission(self, request) -> bool:
        return False
