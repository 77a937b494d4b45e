"""`make run` starts the worker again when it stops, instead of letting checks stop silently."""

import signal

from fleetwatch import cli


class Fake:
    def __init__(self, codes):
        self.codes = list(codes)
        self.returncode = None

    def poll(self):
        self.returncode = self.codes.pop(0) if len(self.codes) > 1 else self.codes[0]
        return self.returncode


def test_a_stopped_worker_is_started_again_at_most_every_ten_seconds(monkeypatch, capsys):
    clock = iter(range(0, 1000, 4))  # four seconds pass at every look
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(cli.time, "sleep", lambda seconds: None)
    started = []

    def popen(command, **kwargs):
        started.append(command)
        return Fake([None])  # the new worker keeps running

    monkeypatch.setattr(cli.subprocess, "Popen", popen)
    server = Fake([None] * 6 + [0])
    dead_worker = Fake([1])
    children = [server, dead_worker]
    assert cli._supervise(server, children) == 0
    assert started == [cli._worker_command(concurrency=1)]  # once, not at every look
    assert len(children) == 3
    assert "the worker stopped (exit 1); starting it again" in capsys.readouterr().err


def test_the_worker_keeps_the_device_channels_consumer_going(monkeypatch, capsys):
    clock = iter(range(0, 1000, 4))
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(cli.time, "sleep", lambda seconds: None)
    started = []

    class Child(Fake):
        def terminate(self):
            pass

        def wait(self, timeout=None):
            return self.returncode

    children = iter([Child([None] * 6 + [0]), Child([1]), Child([None])])

    def popen(command, **kwargs):
        started.append(command)
        return next(children)

    monkeypatch.setattr(cli.subprocess, "Popen", popen)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # no SIGTERM handler in the test process
    assert cli._worker_with_consumer(["celery"]) == 0
    consume = cli._consumer_command()
    assert consume[-2:] == ["fleetwatch", "consume"]
    assert started == [["celery"], consume, consume]  # the stopped consumer started again once
    assert "the consumer stopped (exit 1); starting it again" in capsys.readouterr().err
