"""``manage.py bunws_publish TOPIC MESSAGE``: publish from outside any socket, through the layer."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bunws.cluster.counts import cluster_subscriber_count
from bunws.cluster.layer import cross_process_layer, layer_description
from bunws.cluster.publish import publish


class Command(BaseCommand):
    """Publish one message to a topic and print how it was delivered."""

    help = (
        "Publish MESSAGE to every subscriber of TOPIC in every daphne process that the "
        "channel layer reaches (needs a cross-process layer such as channels_redis)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare TOPIC, MESSAGE and --binary."""
        parser.add_argument("topic", help="Topic to publish to (any string).")
        parser.add_argument("message", help="Message text.")
        parser.add_argument(
            "--binary",
            action="store_true",
            help="Send the message's UTF-8 bytes as a binary frame instead of a text frame.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Publish and report the delivery path, or fail with the reason."""
        topic: str = options["topic"]
        message: str = options["message"]
        layer = layer_description()
        if cross_process_layer() is None:
            raise CommandError(
                f"not delivered: channel layer {layer} reaches only this process, which serves "
                f"no sockets. Point CHANNEL_LAYERS at Redis (channels_redis) so daphne "
                f"processes receive publishes from commands; see docs/scaling.md."
            )
        data: str | bytes = message.encode("utf-8") if options["binary"] else message
        kind = "binary" if options["binary"] else "text"
        if not message:
            raise CommandError(
                "not sent: MESSAGE is empty. bunws.publish() does send an empty message, but it "
                "returns 0 (its size, as in Bun), so this command could not tell you whether the "
                "channel layer took it; call bunws.publish(topic, '') from code if you need one."
            )
        subscribers = cluster_subscriber_count(topic)
        size = publish(topic, data)
        if size == 0:
            raise CommandError(
                f"not delivered: channel layer {layer} is unreachable (details in the log "
                f"above); check that Redis is running and CHANNEL_LAYERS points at it."
            )
        self.stdout.write(
            f"published {size} bytes ({kind}) to topic {topic!r} through channel layer "
            f"{layer}: sent once to Redis; every process with subscribers delivers it locally "
            f"({subscribers} subscribers across processes when sent)."
        )
