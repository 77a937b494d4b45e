"""``fleetwatch consume``: store devices' MQTT/AMQP messages (fleetwatch.messaging.consumer)."""

import logging

from django.core.management.base import BaseCommand, CommandError

from fleetwatch.messaging import consumer


class Command(BaseCommand):
    help = (
        "Consume devices' messages from RabbitMQ (FLEETWATCH_CHANNELS_BROKER_URL): reports, station "
        "messages, status and command results; connection events; commands out. Stops on SIGTERM."
    )
    group = "run"
    summary = "store devices' MQTT/AMQP messages from RabbitMQ (`fleetwatch worker` runs it)"
    example = "fleetwatch consume --until-idle"

    def add_arguments(self, parser):
        parser.add_argument(
            "--until-idle", action="store_true", help="handle what is queued now, then exit (0)"
        )

    def handle(self, *args, until_idle=False, **options):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        code = consumer.main(until_idle=until_idle)
        if code == 2:
            raise CommandError(
                "FLEETWATCH_CHANNELS_BROKER_URL is not set: device channels are off", returncode=2
            )
