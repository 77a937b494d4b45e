"""The embedded broker: kombu's filesystem transport, with messages that appear whole.

kombu's filesystem channel creates a message file and then writes it; a worker polling the
folder can take the file in between, read nothing, and stop with "Unrecoverable error:
JSONDecodeError" (seen after minutes of `make run`, more often with a short polling interval).
Here a message is written under a name no reader looks at, then renamed into place, which is
atomic within a folder; and a message that still cannot be decoded is logged and dropped
instead of stopping the worker.
"""

from __future__ import annotations

import logging
import os
import uuid
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

log = logging.getLogger(__name__)


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Write the message to a hidden temporary file, then rename it to its queue name."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        # Readers take only "<id>.<queue>.msg" names; this one ends in ".tmp".
        temporary = os.path.join(self.data_folder_out, f".{uuid.uuid4()}.tmp")
        try:
            with open(temporary, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(temporary, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc

    def _get(self, queue):
        try:
            return super()._get(queue)
        except ValueError as exc:  # a message left half-written by an older sender
            log.error("dropped an undecodable message of queue %s: %s", queue, exc)
            raise Empty() from None


class Transport(filesystem.Transport):
    Channel = Channel
