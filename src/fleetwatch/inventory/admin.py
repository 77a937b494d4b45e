from django.contrib import admin
from django.urls import reverse

from fleetwatch.inventory.models import Device, Location, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_active", "created")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "address")
    list_filter = ("organization",)
    search_fields = ("name", "address")


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "mac_address", "is_active", "last_seen", "management_ip")
    list_filter = ("organization", "is_active")
    search_fields = ("name", "mac_address", "id")
    readonly_fields = ("id", "last_seen", "created")

    def get_readonly_fields(self, request, obj=None):
        # The add form would show the Id of an unsaved instance, and saving makes another one
        # (issue 13: an agent configured with the shown UUID got 404): no Id before saving.
        if obj is None:
            return ("last_seen", "created")
        return self.readonly_fields

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return [f for f in fields if f != "id"] if obj is None else fields

    def view_on_site(self, obj):
        return reverse("web:device", args=[obj.pk])  # the device's page in the web UI
