from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone

from fleetwatch.inventory import enrollment as lifecycle
from fleetwatch.inventory.models import (
    Device,
    Enrollment,
    EnrollmentStatus,
    EnrollmentToken,
    Location,
    Membership,
    Organization,
)


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
    list_display = ("name", "organization", "address", "latitude", "longitude")  # the fleet map's
    list_filter = ("organization",)
    search_fields = ("name", "address")


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "mac_address", "is_active", "last_seen", "management_ip")
    list_filter = ("organization", "is_active")
    search_fields = ("name", "mac_address", "id", "serial")
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


@admin.register(EnrollmentToken)
class EnrollmentTokenAdmin(admin.ModelAdmin):
    """Tokens are issued through the REST API (``/api/v1/enrollment-tokens/``), which shows the
    token once; here they are listed and revoked (its hash alone is stored)."""

    list_display = ("name", "organization", "prefix", "requires_approval", "expires", "revoked", "last_used")
    list_filter = ("organization", "requires_approval")
    search_fields = ("name", "prefix")
    fields = (
        "organization",
        "name",
        "prefix",
        "requires_approval",
        "expires",
        "revoked",
        "created",
        "last_used",
    )
    readonly_fields = ("organization", "prefix", "created", "last_used")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked__isnull=True).update(revoked=timezone.now())
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    """Enrollment requests, approved or rejected in bulk. An approval here makes the device; its
    broker account is made when the device next asks (``POST /api/v1/enroll/``), or at once when
    approved through the REST API."""

    list_display = (
        "name",
        "serial",
        "organization",
        "status",
        "device",
        "created",
        "last_attempt",
        "decided",
    )
    list_filter = ("status", "organization")
    search_fields = ("name", "serial")
    readonly_fields = [f.name for f in Enrollment._meta.fields]
    actions = ["approve", "reject"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Approve the selected enrollments (makes their devices)")
    def approve(self, request, queryset):
        now = timezone.now()
        for enrollment in queryset:
            lifecycle.approve(enrollment, request.user, now)
        self.message_user(request, f"{len(queryset)} enrollment(s) approved.", messages.SUCCESS)

    @admin.action(description="Reject the selected pending enrollments")
    def reject(self, request, queryset):
        now = timezone.now()
        done = 0
        for enrollment in queryset.exclude(status=EnrollmentStatus.APPROVED, device__isnull=False):
            lifecycle.reject(enrollment, request.user, now)
            done += 1
        self.message_user(request, f"{done} enrollment(s) rejected.", messages.SUCCESS)
