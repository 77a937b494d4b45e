from django.contrib import admin

from fleetwatch.backups.models import BackupFile, BackupJob, BackupRun, JobCheck, RunnerToken


class JobCheckInline(admin.TabularInline):
    model = JobCheck
    extra = 0
    readonly_fields = ("kind", "status", "message", "since", "checked", "notified")
    can_delete = False


@admin.register(BackupJob)
class BackupJobAdmin(admin.ModelAdmin):
    list_display = ("section", "type", "datacenter", "organization", "status", "schedule", "is_active")
    list_filter = ("organization", "type", "datacenter", "status", "is_active")
    search_fields = ("section", "datacenter", "id")
    readonly_fields = ("id", "status", "created")
    inlines = [JobCheckInline]


class BackupFileInline(admin.TabularInline):
    model = BackupFile
    extra = 0
    readonly_fields = ("file_path", "file_name", "size", "file_date")
    can_delete = False
    max_num = 0


@admin.register(BackupRun)
class BackupRunAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "section", "type", "datacenter", "start_date", "end_date", "total_size")
    list_filter = ("organization", "status", "type", "datacenter", "origin")
    search_fields = ("name", "section", "host", "source")
    date_hierarchy = "start_date"
    raw_id_fields = ("job",)
    readonly_fields = ("origin", "run_id", "imported_from", "imported_id")


@admin.register(RunnerToken)
class RunnerTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "prefix", "is_active", "created", "last_used")
    list_filter = ("organization", "is_active")
    readonly_fields = ("prefix", "created", "last_used")
    fields = ("organization", "name", "is_active", "prefix", "created", "last_used")

    def has_add_permission(self, request):
        # The token is shown once when issued: `fleetwatch backup token create` or the API.
        return False
