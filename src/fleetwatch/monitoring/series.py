"""The tags that put a device's points in their series, the same for every writer (agent
reports in ``ingestion``, active checks in ``check_runner``) and the same as OpenWISP's: a
generic relation (``content_type``, ``object_id``) plus the organization and location."""

from __future__ import annotations

CONTENT_TYPE = "inventory.device"


def device_tags(device) -> dict[str, str]:
    """``{content_type, object_id, organization_id[, location_id]}`` of a ``Device`` or an
    ``ingestion.ReportingDevice`` (anything with ``pk``, ``organization_id``, ``location_id``)."""
    tags = {
        "content_type": CONTENT_TYPE,
        "object_id": str(device.pk),
        "organization_id": str(device.organization_id),
    }
    if device.location_id:
        tags["location_id"] = str(device.location_id)
    return tags
