"""Device channels benchmark: simulated devices over MQTT through RabbitMQ to stored points.

Three measurements, on the RabbitMQ of scripts/services/rabbitmq.sh (a throwaway vhost, deleted
at the end) and a throwaway Fleetwatch data dir (SQLite):

1. **Reports end to end**: --devices MQTT devices (paho-mqtt, QoS 1, each its own broker account)
   publish --reports NetJSON reports each (with `time`), as fast as the broker takes them;
   `fleetwatch consume` processes (--consumers of them) store them. Reports/s from the first publish
   to the last point stored. Baseline, side by side: the same consumer's store path in-process
   without the broker (`Consumer.handle_device_message`), for the same number of reports.
2. **Simultaneous connections**: --connections MQTT connections held open at once (raw sockets,
   CONNECT/CONNACK by hand: a paho client per connection would measure Python threads), and the
   broker's memory (management API `/api/nodes`, `mem_used`) before and after: bytes per
   connection.
3. **Command round trip**: the consumer's publish of a command (`fleetwatch.<id>.commands`,
   persistent) → the device (MQTT, QoS 1) → its result on `cmdlog` → a server-side AMQP consumer;
   p50/p95 over --round-trips commands, one at a time. This is the broker's part of a command's
   life (the command queue's own writes are not included).

    .venv/bin/python bench/channels.py --devices 20 --reports 250 --connections 10000
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from bench.stats import percentile  # noqa: E402

SERVICE = ROOT / "scripts" / "services" / "rabbitmq.sh"
EVENTS_VHOST = "fleetwatch"
CREATE = """
import json
from fleetwatch.inventory.models import Device, Organization
from fleetwatch.messaging.broker import account_of
organization, _ = Organization.objects.get_or_create(slug="bench", defaults={{"name": "Bench"}})
made = []
for i in range({count}):
    device = Device.objects.create(organization=organization, name=f"{prefix}-{{i}}")
    channel = account_of(device)
    made.append([str(device.pk), channel.broker_password])
print("DEVICES " + json.dumps(made))
"""


def service_url(kind: str) -> str:
    return subprocess.run(
        ["bash", str(SERVICE), kind], check=True, capture_output=True, text=True
    ).stdout.strip()


class Bench:
    def __init__(self, args):
        self.args = args
        self.amqp = service_url("url")
        self.mqtt = urlsplit(service_url("mqtt-url"))
        self.api_url = service_url("api-url")
        self.vhost = f"fwbench-{secrets.token_hex(4)}"
        parts = urlsplit(self.amqp)
        self.admin = parts.username
        self.amqp_vhost = urlunsplit((parts.scheme, parts.netloc, "/" + quote(self.vhost, safe=""), "", ""))
        self.dir = Path(tempfile.mkdtemp(prefix="fw-bench-channels-"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_")}
        self.env.update(
            FLEETWATCH_DATA_DIR=str(self.dir),
            FLEETWATCH_CHANNELS_BROKER_URL=self.amqp_vhost,
            FLEETWATCH_CHANNELS_BROKER_API_URL=self.api_url,
            FLEETWATCH_CHANNELS_EVENTS_VHOST=EVENTS_VHOST,
            FLEETWATCH_USAGE_METRICS="false",  # no usage metrics from a benchmark (loopback only)
            DJANGO_SETTINGS_MODULE="fleetwatch.settings",
            PYTHONPATH=str(ROOT / "src"),
        )
        self.consumers: list[subprocess.Popen] = []
        # This process is Fleetwatch too (the baseline, the management API client): same data dir.
        os.environ.update({k: v for k, v in self.env.items() if k.startswith(("FLEETWATCH_", "DJANGO_"))})
        import django

        django.setup()
        from fleetwatch.messaging.broker import ManagementAPI

        self.api = ManagementAPI(self.api_url)

    # -- set-up
    def start(self):
        self.api.put_vhost(self.vhost)
        self.api.put_permissions(self.vhost, self.admin, ".*", ".*", ".*")
        self.fleetwatch("migrate", "-v", "0")

    def fleetwatch(self, *args) -> str:
        return subprocess.run(
            [sys.executable, "-m", "fleetwatch", *args],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def devices(self, count: int, prefix: str) -> list[tuple[str, str]]:
        out = self.fleetwatch("shell", "-c", CREATE.format(count=count, prefix=prefix))
        return [tuple(d) for d in json.loads(out.split("DEVICES ", 1)[1])]

    def start_consumers(self, count: int):
        log = open(self.dir / "consume.log", "a")
        for _ in range(count):
            self.consumers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "fleetwatch", "consume"], env=self.env, stdout=log, stderr=log
                )
            )

    def stop(self):
        for process in self.consumers:
            process.terminate()
        for process in self.consumers:
            process.wait(30)
        from fleetwatch.messaging.broker import BrokerUnavailable, ManagementAPI

        api = ManagementAPI(self.api_url, timeout=120)  # the node may be busy closing connections
        for _attempt in range(3):
            try:
                api.delete_vhost(self.vhost)
                api.request(
                    "DELETE", f"/queues/{EVENTS_VHOST}/fleetwatch.connections.{self.vhost}", ok=(204, 404)
                )
                return
            except BrokerUnavailable as exc:
                print(f"deleting vhost {self.vhost}: {exc}", file=sys.stderr)
                time.sleep(5)

    def stored(self) -> int:
        import sqlite3

        path = self.dir / "timeseries.sqlite3"
        if not path.exists():
            return 0
        from fleetwatch.timeseries import ReadQuery, load_backend

        backend = load_backend({"BACKEND": "sqlite", "NAME": str(path)})
        try:
            return len(backend.read(ReadQuery("cpu", ["load_1"], {})))
        except sqlite3.Error:
            return 0
        finally:
            backend.close()

    # -- 1. reports end to end
    def reports(self) -> dict:
        import paho.mqtt.client as mqtt

        devices = self.devices(self.args.devices, "bench")
        t0 = datetime.now(UTC) - timedelta(hours=6)
        bodies = {
            device: [
                json.dumps(
                    {
                        "type": "DeviceMonitoring",
                        "time": f"{t0 + timedelta(seconds=10 * i):%d-%m-%Y_%H:%M:%S.%f}",
                        "resources": {"cpus": 1, "load": [0.5, 0.25, 0.125]},
                    }
                )
                for i in range(self.args.reports)
            ]
            for device, _password in devices
        }
        total = len(devices) * self.args.reports
        self.start_consumers(self.args.consumers)
        clients = []
        for device, password in devices:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{device}")
            client.username_pw_set(f"{self.vhost}:{device}", password)
            client.max_inflight_messages_set(100)
            client.connect(self.mqtt.hostname, self.mqtt.port)
            client.loop_start()
            clients.append((device, client))
        # The consumers declared their queue (a message published before would not be routed)
        # and every client is connected, before the clock starts.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                queue = self.api.request("GET", f"/queues/{quote(self.vhost, safe='')}/fleetwatch.devices")
            except Exception:  # not declared yet (404)
                queue = {}
            if queue.get("consumers", 0) >= self.args.consumers and all(c.is_connected() for _, c in clients):
                break
            time.sleep(0.2)
        start = time.perf_counter()

        def send(device, client):
            infos = [
                client.publish(f"fleetwatch/{device}/monitoring", body, qos=1) for body in bodies[device]
            ]
            for info in infos:
                info.wait_for_publish(60)

        threads = [threading.Thread(target=send, args=pair) for pair in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        published = time.perf_counter() - start
        deadline = time.monotonic() + self.args.drain_cap
        while self.stored() < total and time.monotonic() < deadline:
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
        stored = self.stored()
        for _device, client in clients:
            client.disconnect()
            client.loop_stop()
        for process in self.consumers:
            process.terminate()
        for process in self.consumers:
            process.wait(30)
        self.consumers = []
        return {"total": total, "stored": stored, "published_s": published, "elapsed_s": elapsed}

    def baseline(self) -> dict:
        """The consumer's store path in-process, no broker: the same number of reports."""
        from fleetwatch.messaging.consumer import Consumer

        (device, _password), *_ = self.devices(1, "baseline")
        consumer = Consumer()
        t0 = datetime.now(UTC) - timedelta(hours=12)
        total = self.args.devices * self.args.reports
        bodies = [
            json.dumps(
                {
                    "type": "DeviceMonitoring",
                    "time": f"{t0 + timedelta(seconds=i):%d-%m-%Y_%H:%M:%S.%f}",
                    "resources": {"cpus": 1, "load": [0.5, 0.25, 0.125]},
                }
            ).encode()
            for i in range(total)
        ]
        start = time.perf_counter()
        for body in bodies:
            outcome = consumer.handle_device_message(f"fleetwatch.{device}.monitoring", None, body)
            assert outcome.status == "stored", outcome
        return {"total": total, "elapsed_s": time.perf_counter() - start}

    # -- 2. simultaneous connections
    def node_memory(self) -> dict:
        """The broker node's memory breakdown, computed when asked (``/api/nodes/<name>?memory=true``):
        ``erlang`` (all the VM allocated), ``rss`` (the OS's figure) and ``connections`` (the
        ``connection_*`` categories: readers, writers, channels, other), in bytes."""
        (node,) = self.api.request("GET", "/nodes")
        memory = self.api.request("GET", f"/nodes/{quote(node['name'], safe='')}?memory=true")["memory"]
        connections = sum(v for k, v in memory.items() if k.startswith("connection_"))
        return {
            "erlang": memory["total"]["erlang"],
            "rss": memory["total"]["rss"],
            "connections": connections,
        }

    def connections(self) -> dict:
        count = self.args.connections
        user = f"{self.vhost}:{self.admin}".encode()
        password = (urlsplit(self.amqp).password or "").encode()
        before = self.node_memory()
        sockets, refused = [], 0
        start = time.perf_counter()
        for i in range(count):
            client_id = f"c{i}".encode()
            payload = b"".join(struct.pack("!H", len(part)) + part for part in (client_id, user, password))
            # CONNECT: protocol "MQTT" level 4, flags username+password+clean session, keep-alive 0.
            variable = struct.pack("!H", 4) + b"MQTT" + bytes([4, 0xC2]) + struct.pack("!H", 0)
            body = variable + payload
            length, encoded = len(body), b""
            while True:
                byte, length = length % 128, length // 128
                encoded += bytes([byte | (0x80 if length else 0)])
                if not length:
                    break
            sock = socket.create_connection((self.mqtt.hostname, self.mqtt.port), timeout=30)
            sock.sendall(b"\x10" + encoded + body)
            connack = sock.recv(4)
            if connack[:2] != b"\x20\x02" or connack[3] != 0:
                refused += 1
                sock.close()
                continue
            sockets.append(sock)
        opened = time.perf_counter() - start
        after = self.node_memory()
        held = len(sockets)
        for sock in sockets:
            sock.close()
        per = {k: (after[k] - before[k]) / held if held else 0 for k in before}
        return {
            "asked": count,
            "held": held,
            "refused": refused,
            "open_s": opened,
            "per_connection": per,
            "before_mib": before["rss"] / 2**20,
            "after_mib": after["rss"] / 2**20,
        }

    # -- 3. command round trip
    def round_trips(self) -> dict:
        import paho.mqtt.client as mqtt
        import pika

        ((device, password),) = self.devices(1, "commands")
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_vhost))
        channel = connection.channel()
        results = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(results, "amq.topic", f"fleetwatch.{device}.cmdlog")
        agent = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"agent-{device}", clean_session=False
        )
        agent.username_pw_set(f"{self.vhost}:{device}", password)

        def run(client, userdata, message):  # the agent: runs the command, answers on cmdlog
            command = json.loads(message.payload)
            client.publish(
                f"fleetwatch/{device}/cmdlog",
                json.dumps({"seq": command["seq"], "status": "OK", "output": "up"}),
                qos=1,
            )

        agent.on_message = run
        subscribed = threading.Event()
        agent.on_subscribe = lambda *args: subscribed.set()
        agent.connect(self.mqtt.hostname, self.mqtt.port)
        agent.loop_start()
        agent.subscribe(f"fleetwatch/{device}/commands", qos=1)
        subscribed.wait(10)
        timings = []
        for seq in range(1, self.args.round_trips + 1):
            start = time.perf_counter()
            channel.basic_publish(
                "amq.topic",
                f"fleetwatch.{device}.commands",
                json.dumps({"seq": seq, "action": "test", "argument": ""}).encode(),
                pika.BasicProperties(delivery_mode=2),
            )
            for _method, _properties, body in channel.consume(results, auto_ack=True, inactivity_timeout=10):
                if body is None:
                    raise RuntimeError(f"no result for command {seq} within 10 s")
                if json.loads(body)["seq"] == seq:
                    break
            timings.append(time.perf_counter() - start)
        channel.cancel()
        agent.disconnect()
        agent.loop_stop()
        connection.close()
        return {
            "count": len(timings),
            "p50_ms": 1000 * statistics.median(timings),
            "p95_ms": 1000 * percentile(timings, 95),
            "max_ms": 1000 * max(timings),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--devices", type=int, default=20, help="MQTT devices reporting at once")
    parser.add_argument("--reports", type=int, default=250, help="reports per device")
    parser.add_argument("--consumers", type=int, default=1, help="`fleetwatch consume` processes")
    parser.add_argument("--connections", type=int, default=10_000, help="simultaneous MQTT connections")
    parser.add_argument("--round-trips", type=int, default=200, help="commands, one at a time")
    parser.add_argument("--drain-cap", type=float, default=600, help="seconds to wait for the consumer")
    args = parser.parse_args()
    bench = Bench(args)
    bench.start()
    try:
        end_to_end = bench.reports()
        baseline = bench.baseline()
        trips = bench.round_trips() if args.round_trips else None
        held = bench.connections() if args.connections else None
    finally:
        bench.stop()
    rate = end_to_end["stored"] / end_to_end["elapsed_s"]
    base_rate = baseline["total"] / baseline["elapsed_s"]
    print(f"reports: {args.devices} MQTT devices x {args.reports}, {args.consumers} consumer(s)")
    print(
        f"  MQTT -> RabbitMQ -> fleetwatch consume -> stored: {end_to_end['stored']}/{end_to_end['total']} "
        f"in {end_to_end['elapsed_s']:.2f} s = {rate:.0f} reports/s "
        f"(all published in {end_to_end['published_s']:.2f} s)"
    )
    print(f"  baseline, the store path in-process without the broker: {base_rate:.0f} reports/s")
    print(f"  ratio end-to-end / baseline: {rate / base_rate:.2f}")
    if held:
        print(
            f"connections: {held['held']}/{held['asked']} MQTT connections held at once "
            f"({held['refused']} refused), opened in {held['open_s']:.1f} s; broker RSS "
            f"{held['before_mib']:.0f} -> {held['after_mib']:.0f} MiB; per connection: "
            f"{held['per_connection']['rss'] / 1024:.1f} KiB RSS, "
            f"{held['per_connection']['connections'] / 1024:.1f} KiB in connection processes"
        )
    if trips:
        print(
            f"command round trip (publish -> MQTT device -> cmdlog -> server), {trips['count']} commands: "
            f"p50 {trips['p50_ms']:.1f} ms, p95 {trips['p95_ms']:.1f} ms, max {trips['max_ms']:.1f} ms"
        )
    return 0 if end_to_end["stored"] == end_to_end["total"] else 1


if __name__ == "__main__":
    sys.exit(main())
