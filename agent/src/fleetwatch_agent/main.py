"""The agent's loop and its command line.

Every ``interval`` seconds a report is collected into the on-disk queue and the queue is sent,
oldest first. Over HTTP the agent also polls for commands with the Sensorgnome hub agent's
adaptive period: ``poll_min``, ×``poll_growth`` after each quiet poll up to ``poll_max``, back
to ``poll_min`` after a command, ``poll_offline`` while the server cannot be reached. Over MQTT
and AMQP commands are pushed; reports the broker did not take are retried every
``poll_offline`` seconds. SIGTERM or SIGINT end the loop cleanly (the broker hears ``offline``).

Exit status: 0 done; 75 (EX_TEMPFAIL) ``--once`` left reports queued or enrollment awaits
approval; 77 (EX_NOPERM) enrollment refused; 78 (EX_CONFIG) unusable configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from fleetwatch_agent import AGENT, collect
from fleetwatch_agent.broker import Inbox
from fleetwatch_agent.commands import CommandBook, Runner
from fleetwatch_agent.config import DEFAULT_PATH, Config, ConfigError, load
from fleetwatch_agent.enroll import Credentials, EnrollmentPending, EnrollmentRefused, credentials
from fleetwatch_agent.http import DROPPED, SENT, HttpChannel
from fleetwatch_agent.queue import ReportQueue

log = logging.getLogger("fleetwatch_agent")

EX_OK, EX_TEMPFAIL, EX_NOPERM, EX_CONFIG = 0, 75, 77, 78


class PollPeriod:
    """The hub agent's adaptive period (sensor-stations.md B.3), in seconds."""

    def __init__(self, minimum: float, maximum: float, growth: float, offline: float):
        self.minimum, self.maximum, self.growth, self.offline = minimum, maximum, growth, offline
        self.current = minimum

    def after(self, reached: bool, command: bool) -> float:
        """The wait before the next poll, given how this one went; a command resets the growth,
        an unreachable server means ``offline`` (the growth resumes where it was)."""
        if not reached:
            return self.offline
        if command:
            self.current = self.minimum
        else:
            self.current = min(self.maximum, self.current * self.growth)
        return self.current


class Agent:
    """One device's agent: configuration, credentials, queue, command book and channel."""

    def __init__(self, config: Config, creds: Credentials, channel=None, clock=time.monotonic):
        self.config = config
        self.creds = creds
        self.features = "c" if config.commands else ""
        self.queue = ReportQueue(config.state_dir / "queue", config.queue_size)
        self.book = CommandBook(config.state_dir / "commands")
        self.runner = Runner(config)
        self.inbox = Inbox(self.book.accept)
        self.channel = channel or self._channel()
        self.stop = threading.Event()
        self.poll = PollPeriod(config.poll_min, config.poll_max, config.poll_growth, config.poll_offline)
        self.clock = clock  # monotonic seconds (tests move it by hand)
        now = clock()
        self._next = {"report": now, "poll": now, "retry": now}  # when each is due (monotonic)

    def _channel(self):
        config, creds = self.config, self.creds
        if config.channel != "http" and not creds.broker:
            log.warning("the server gave this device no broker account (channels are off there): using HTTP")
        elif config.channel == "mqtt":
            from fleetwatch_agent.mqtt import MqttChannel

            return MqttChannel(
                creds.broker, creds.device_id, self.features, self.inbox, config.timeout, config.ca_file
            )
        elif config.channel == "amqp":
            from fleetwatch_agent.amqp import AmqpChannel

            return AmqpChannel(
                creds.broker, creds.device_id, self.features, self.inbox, config.timeout, config.ca_file
            )
        return HttpChannel(
            creds.url, creds.device_id, creds.key, self.features, config.timeout, config.ca_file
        )

    @property
    def over_http(self) -> bool:
        return self.channel.name == "http"

    def collect(self, moment: datetime | None = None) -> None:
        """Put a fresh report in the queue."""
        report = collect.report(self.config.interfaces, self.config.skip_interfaces)
        self.queue.put(report, moment or datetime.now(UTC))

    def flush(self) -> bool:
        """Send queued reports oldest first, by the retry rules: sent or refused for good
        (400) leave the queue; at the first kept one the rest wait too. True if none is left."""
        sent = 0
        for entry in self.queue.entries():
            if self.stop.is_set():
                return False
            outcome = self.channel.send_report(entry.report, entry.wire_time)
            if outcome not in (SENT, DROPPED):
                log.debug("queue kept: %d report(s) wait", len(self.queue))
                return False
            self.queue.remove(entry)
            sent += outcome == SENT
        log.debug("queue sent: %d report(s) over %s", sent, self.channel.name)
        return True

    def commands(self) -> bool:
        """Take the commands the channel received, run the new ones, offer results the server
        has not acknowledged; True if a command was run."""
        for command in self.channel.take_commands():
            self.book.accept(command)
        ran, afters = self.book.run_queued(self.runner)
        for record in self.book.unsent():
            if not self.channel.send_result(record["seq"], record["status"], record["output"]):
                break  # kept for the next round
            self.book.mark_sent(record["seq"])
        for after in afters:
            after()
        return ran > 0

    def once(self) -> int:
        """Collect, send, run what came, and end: EX_OK, or EX_TEMPFAIL if reports wait."""
        try:
            self.channel.connect()
            self.collect()
            empty = self.flush()
            if self.over_http:
                _, command = self.channel.poll(self.poll.minimum)
                if command is not None:
                    self.book.accept(command)
            self.commands()
        finally:
            self.channel.close()
        return EX_OK if empty else EX_TEMPFAIL

    def run(self) -> int:
        """Report every ``interval`` until stopped; EX_OK. An unexpected error in one round is
        logged and the round tried again ``poll_offline`` seconds later: a station far away
        must not stop reporting for one bad reading."""
        self.channel.connect()
        try:
            while not self.stop.is_set():
                try:
                    came = self._round(self.clock())
                except Exception:
                    log.exception("this round failed; trying again in %g s", self.config.poll_offline)
                    self.channel.wait(self.config.poll_offline, self.stop)
                    continue
                if came:
                    continue  # commands may come in a row: look again before sleeping
                due = self._next
                wake = min(due["report"], due["poll"] if self.over_http else due["report"])
                if len(self.queue):
                    wake = min(wake, due["retry"])
                self.channel.wait(max(0.0, wake - self.clock()), self.stop)
        finally:
            self.channel.close()
        return EX_OK

    def _round(self, now: float) -> bool:
        """What is due at ``now`` (monotonic seconds): collect, send, poll, run commands; True
        if a command ran."""
        due = self._next
        if now >= due["report"]:
            self.collect()
            due["report"] += self.config.interval
            if due["report"] <= now:  # late (the machine slept): no burst of reports to catch up
                due["report"] = now + self.config.interval
            due["retry"] = now
        if now >= due["retry"] and len(self.queue):
            due["retry"] = now if self.flush() else now + self.config.poll_offline
        came = self.commands()
        if self.over_http and now >= due["poll"]:
            reached, command = self.channel.poll(self.poll.current)
            if command is not None:
                self.book.accept(command)
                came = self.commands() or True
            due["poll"] = self.clock() + self.poll.after(reached, came)
            if reached and len(self.queue):
                due["retry"] = now
        elif came and self.over_http:
            due["poll"] = self.clock() + self.poll.after(True, True)
        return came

    def request_stop(self, *_args) -> None:
        """The SIGTERM/SIGINT handler: end after the current step."""
        self.stop.set()
        self.inbox.wake.set()


def obtain_credentials(config: Config, stop: threading.Event, wait: bool) -> Credentials | None:
    """Credentials, enrolling if needed; while approval is pending, ask again after the server's
    ``Retry-After`` (``wait``) or give up (None)."""
    while not stop.is_set():
        try:
            return credentials(config)
        except EnrollmentPending as exc:
            log.warning("enrollment: %s", exc)
            if not wait:
                return None
            stop.wait(max(1.0, exc.retry_after))
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fleetwatch-agent", description="Report this host to Fleetwatch.")
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=Path(os.environ.get("FLEETWATCH_AGENT_CONFIG", DEFAULT_PATH)),
        help=f"configuration file (default: $FLEETWATCH_AGENT_CONFIG or {DEFAULT_PATH})",
    )
    parser.add_argument(
        "--once", action="store_true", help="collect and send one report, run what came, exit"
    )
    parser.add_argument("--print", action="store_true", help="print the report this host would send, exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging details")
    parser.add_argument("--version", action="version", version=AGENT)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """The ``fleetwatch-agent`` command; returns the exit status."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pika").setLevel(logging.WARNING)
    if args.print:
        print(json.dumps(collect.report(), indent=2))
        return EX_OK
    try:
        config = load(args.config)
    except ConfigError as exc:
        log.error("configuration %s: %s", args.config, exc)
        return EX_CONFIG
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        creds = obtain_credentials(config, stop, wait=not args.once)
    except EnrollmentRefused as exc:
        log.error("%s", exc)
        return EX_NOPERM
    except ValueError as exc:
        log.error("configuration %s: %s", args.config, exc)
        return EX_CONFIG
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if creds is None:
        return EX_OK if stop.is_set() else EX_TEMPFAIL
    agent = Agent(config, creds)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, agent.request_stop)
    log.info(
        "%s: device %s over %s, commands %s",
        AGENT,
        creds.device_id,
        agent.channel.name,
        "enabled" if config.commands else "disabled",
    )
    return agent.once() if args.once else agent.run()
