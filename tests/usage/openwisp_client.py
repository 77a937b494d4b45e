"""One step of an OpenWISP deployment's life, run by the openwisp-utils venv's python (never by
pytest, never importing Fleetwatch): ``python openwisp_client.py migrate|heartbeat|withdraw``
in a Django project whose settings are ``openwisp2.settings`` (tests/usage/test_openwisp_client.py
writes it).

Every step goes through openwisp-utils' own code, which builds and posts the payloads:

- ``migrate``: ``manage.py migrate``; its post_migrate receiver sends ``Install`` on a new
  database, ``Upgrade`` when a module's version went up since the stored snapshot;
- ``heartbeat``: the ``send_usage_metrics`` Celery task, as the deployment's beat runs it daily
  (eager here: the project has no broker);
- ``withdraw``: the System information page's consent form, submitted with the box unchecked
  (its pre_save receiver sends ``Consent Withdrawn``).

Prints one JSON object: what openwisp-utils collects at that moment, HTML-escaped as it sends it
(``collected``, ``installation_method``), the snapshots it stored, the consent, and every log
record of its metric collection (``log``: an ERROR there means a post failed, which
openwisp-utils only logs).
"""

import importlib.metadata
import json
import logging
import sys

import django


class Recorder(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records = []

    def emit(self, record):
        self.records.append([record.levelname, record.getMessage()])


def main(step: str) -> dict:
    django.setup()
    recorder = Recorder()
    collection_log = logging.getLogger("openwisp_utils.metric_collection")
    collection_log.addHandler(recorder)
    collection_log.setLevel(logging.INFO)

    from django.core.management import call_command
    from django.utils.html import escape
    from openwisp_utils.admin_theme.system_info import (
        get_enabled_openwisp_modules,
        get_openwisp_installation_method,
        get_openwisp_version,
        get_os_details,
    )
    from openwisp_utils.metric_collection import helper
    from openwisp_utils.metric_collection.admin import ConsentForm
    from openwisp_utils.metric_collection.models import Consent, OpenwispVersion
    from openwisp_utils.metric_collection.tasks import send_usage_metrics

    if step == "migrate":
        call_command("migrate", verbosity=0)
    elif step == "heartbeat":
        send_usage_metrics.delay()
    elif step == "withdraw":
        # What the page's form does for a superuser: the consent row (made on first use), then
        # the form posted without the checkbox (an unchecked box sends nothing).
        consent = helper.MetricCollectionAdminSiteHelper._get_consent()
        form = ConsentForm({}, instance=consent)
        if not form.is_valid():
            raise SystemExit(f"the consent form refused the opt-out: {form.errors.as_json()}")
        form.save()
    else:
        raise SystemExit(f"unknown step {step!r}: migrate, heartbeat or withdraw")

    # What send_usage_metrics() collects (models.OpenwispVersion.send_usage_metrics), as sent.
    collected = dict(get_enabled_openwisp_modules())
    collected["OpenWISP Version"] = get_openwisp_version()
    collected.update(get_os_details())
    consent = Consent.objects.first()
    return {
        "step": step,
        "openwisp_utils": importlib.metadata.version("openwisp-utils"),
        "collector_url": helper.post_metrics.__defaults__[0],
        "collected": {escape(key): escape(value) for key, value in collected.items()},
        "installation_method": escape(get_openwisp_installation_method()),
        "stored": [row.module_version for row in OpenwispVersion.objects.order_by("created")],
        "consented": consent.user_consented if consent else None,
        "log": recorder.records,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
