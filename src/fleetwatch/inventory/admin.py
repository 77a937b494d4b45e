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

    def view_on_site(self, obj):
        return reverse("web:device", args=[obj.pk])  # the device's page in the web UI
