"""Peer benchmark (scripts/openwisp/bench.sh, not part of the suite): the same load through
OpenWISP Monitoring's own device API, in-process (Django's test client, eager Celery), with
whatever TIMESERIES_DATABASE this run has: OpenWISP's InfluxDB client or Fleetwatch's adapter.

50 devices × 10 back-dated reports, then the device charts API 30 times; timings and the chart
answers (for a value-by-value comparison across configurations) go to $PEER_BENCH_OUT.
"""

import copy
import json
import os
import statistics
import time
from datetime import timedelta

from django.test import TestCase
from django.utils import timezone
from openwisp_monitoring.device.tests import TestDeviceMonitoringMixin

DEVICES, REPORTS, CHART_RUNS = 50, 10, 30


class PeerBench(TestDeviceMonitoringMixin, TestCase):
    def test_peer_bench(self):
        org = self._get_org()
        devices = [
            self._create_device(
                name=f"bench-{i:02d}",
                organization=org,
                mac_address=f"00:11:22:33:{i // 256:02x}:{i % 256:02x}",
            )
            for i in range(DEVICES)
        ]
        day = (timezone.now() - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
        base = self._data()
        began = time.perf_counter()
        for step in range(REPORTS):
            moment = day + timedelta(minutes=5 * step)
            for i, device in enumerate(devices):
                data = copy.deepcopy(base)
                for iface in data.get("interfaces", []):
                    stats = iface.get("statistics")
                    if stats:
                        stats["rx_bytes"] = stats.get("rx_bytes", 0) + step * 1_000_000 + i
                        stats["tx_bytes"] = stats.get("tx_bytes", 0) + step * 250_000
                response = self._post_data(
                    device.id, device.key, data, time=moment.strftime("%d-%m-%Y_%H:%M:%S.%f")
                )
                assert response.status_code == 200
        ingest_seconds = time.perf_counter() - began
        window = {
            "start": day.strftime("%Y-%m-%d %H:%M:%S"),
            "end": (day + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S"),
        }
        url = f"/api/v1/monitoring/device/{devices[0].pk}/"
        latencies, answer = [], None
        for _ in range(CHART_RUNS + 1):
            t0 = time.perf_counter()
            response = self.client.get(url, {"key": devices[0].key, "timezone": "UTC", **window})
            latencies.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
            answer = response.json()
        latencies = sorted(latencies[1:])
        result = {
            "reports": DEVICES * REPORTS,
            "reports_per_second": DEVICES * REPORTS / ingest_seconds,
            "chart_p50_ms": statistics.median(latencies),
            "chart_p95_ms": latencies[max(0, round(0.95 * len(latencies)) - 1)],
            "charts": {
                c["title"]: {"traces": c["traces"], "summary": c.get("summary")} for c in answer["charts"]
            },
            "x": answer["x"],
        }
        with open(os.environ["PEER_BENCH_OUT"], "w") as out:
            json.dump(result, out)
