"""The agent's loop in process, on a scripted channel: what it sends, and how long it waits
(the hub agent's adaptive period, a command resetting it, the offline rhythm, a failed round)."""

from __future__ import annotations

import pytest
from fleetwatch_agent import main
from fleetwatch_agent.config import Config
from fleetwatch_agent.enroll import Credentials
from fleetwatch_agent.http import KEPT, SENT


class Scripted:
    """An HTTP-like channel: ``polls`` are the (reached, command) answers in order; the loop
    is stopped at its ``rounds``-th wait."""

    name = "http"

    def __init__(self, polls, rounds=1, report=SENT):
        self.polls, self.rounds, self.report = list(polls), rounds, report
        self.reports, self.results, self.waits = [], [], []
        self.now = 1000.0  # the loop's clock: a wait moves it

    def clock(self):
        return self.now

    def connect(self):
        return True

    def send_report(self, report, wire_time):
        self.reports.append(wire_time)
        return self.report

    def poll(self, next_in):
        return self.polls.pop(0) if self.polls else (True, None)

    def send_result(self, seq, status, output):
        self.results.append((seq, status, output))
        return True

    def take_commands(self):
        return []

    def wait(self, seconds, stop):
        self.waits.append(round(seconds, 2))
        self.now += seconds
        if len(self.waits) >= self.rounds:
            stop.set()

    def close(self):
        pass


@pytest.fixture
def agent(tmp_path, monkeypatch):
    monkeypatch.setattr(main.collect, "report", lambda include, skip: {"type": "DeviceMonitoring"})

    def make(channel, **values):
        config = Config(server="http://127.0.0.1:1", state_dir=tmp_path, **values).validate()
        return main.Agent(
            config, Credentials("d", "k", "http://127.0.0.1:1"), channel=channel, clock=channel.clock
        )

    return make


def test_a_quiet_poll_grows_the_period_reports_every_interval(agent):
    channel = Scripted([], rounds=5)
    assert agent(channel, interval=300).run() == main.EX_OK
    # Polls at 0, 135, 337.5, 641.25 (quiet: 135 = 90 × 1.5, then 202.5, 303.75 …) and
    # reports at 0, 300, 600: the loop wakes for whichever comes first.
    assert channel.waits == [135, 165, 37.5, 262.5, 41.25]
    assert len(channel.reports) == 3


def test_a_command_resets_the_period_and_its_result_is_sent(agent):
    channel = Scripted([(True, {"seq": 1, "action": "exec", "argument": "echo hi"})])
    assert agent(channel, commands=True).run() == main.EX_OK
    assert channel.results == [(1, "OK", "hi\n")]
    assert channel.waits == [90]


def test_offline_every_poll_offline_seconds_and_reports_kept(agent):
    channel = Scripted([(False, None)], report=KEPT)
    a = agent(channel)
    a.run()
    assert channel.waits == [10]
    assert len(a.queue) == 1


def test_a_failed_round_is_logged_and_tried_again(agent, monkeypatch, caplog):
    calls = []

    def flaky(include, skip):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("sensor read failed")
        return {"type": "DeviceMonitoring"}

    monkeypatch.setattr(main.collect, "report", flaky)
    channel = Scripted([], rounds=2)
    agent(channel).run()
    assert channel.waits == [10, 135]  # the failed round again after 10 s, then a quiet poll
    assert len(channel.reports) == 1
    assert len(calls) == 2
    assert "this round failed; trying again in 10 s" in caplog.text
