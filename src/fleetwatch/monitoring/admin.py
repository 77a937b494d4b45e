from django.contrib import admin

from fleetwatch.monitoring.models import Chart, DeviceState, Metric


class ChartInline(admin.TabularInline):
    model = Chart
    extra = 0


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ("name", "device", "configuration", "key", "field_name", "is_healthy")
    list_filter = ("configuration", "is_healthy")
    search_fields = ("name", "device__name")
    inlines = [ChartInline]


@admin.register(DeviceState)
class DeviceStateAdmin(admin.ModelAdmin):
    list_display = ("device", "data_time", "counters_time")
    readonly_fields = ("device", "data", "data_time", "counters", "counters_time", "series_seen")
