"""`make run` starts the worker again when it stops, instead of letting checks stop silently."""

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
