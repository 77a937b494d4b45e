"""The embedded broker never shows a worker a message before it is whole."""

import os
from queue import Empty

import pytest
from kombu import Connection

from fleetwatch.core import broker


@pytest.fixture
def connection(tmp_path):
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    with Connection(transport="fleetwatch.core.broker:Transport", transport_options=options) as conn:
        yield conn


def test_a_message_appears_under_its_queue_name_only_once_written(connection, tmp_path, monkeypatch):
    """kombu's own channel creates `<id>.celery.msg` empty and then writes it: a worker polling
    at that moment read nothing and stopped ("Unrecoverable error: JSONDecodeError")."""
    seen_while_writing = []
    real_open = open

    class Watching:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

        def write(self, data):
            seen_while_writing.extend(name for name in os.listdir(tmp_path) if name.endswith(".msg"))
            return self.handle.write(data)

    monkeypatch.setattr(broker, "open", lambda *a, **k: Watching(real_open(*a, **k)), raising=False)
    queue = connection.SimpleQueue("celery")
    queue.put({"task": "x"})
    assert seen_while_writing == []
    assert [n for n in os.listdir(tmp_path) if n.endswith(".celery.msg")] != []
    assert queue.get(timeout=1).payload == {"task": "x"}


def test_an_undecodable_message_is_dropped_not_fatal(connection, tmp_path, caplog):
    (tmp_path / "1_junk.celery.msg").write_bytes(b"")
    channel = connection.default_channel
    with pytest.raises(Empty):
        channel._get("celery")
    assert "dropped an undecodable message of queue celery" in caplog.text
    assert not (tmp_path / "1_junk.celery.msg").exists()
