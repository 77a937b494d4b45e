"""Remote commands: opt-in, the actions, the 1 MiB bound, each seq run at most once
(fleetwatch_agent.commands)."""

import json
import os
import socket

import pytest
from fleetwatch_agent import AGENT
from fleetwatch_agent.commands import DISABLED, INTERRUPTED, MAX_OUTPUT, CommandBook, Runner, bound
from fleetwatch_agent.config import Config


def config(tmp_path, **values) -> Config:
    return Config(server="http://127.0.0.1:1", state_dir=tmp_path, **values).validate()


@pytest.mark.parametrize("action", ["exec", "reboot", "restart", "test", "logs", "nonsense"])
def test_disabled_every_action_is_err(tmp_path, action):
    outcome = Runner(config(tmp_path)).run(action, "uptime")
    assert (outcome.status, outcome.output, outcome.after) == ("ERR", DISABLED, None)
    assert DISABLED == "remote commands are disabled"


def test_exec(tmp_path):
    runner = Runner(config(tmp_path, commands=True))
    ok = runner.run("exec", "echo out; echo err >&2")
    assert (ok.status, ok.output) == ("OK", "out\nerr\n")
    failed = runner.run("exec", "echo no; exit 3")
    assert (failed.status, failed.output) == ("ERR", "no\n\n[exit status 3]")
    assert runner.run("exec", "").output == "exec needs a command line"


def test_exec_killed_after_its_timeout(tmp_path):
    outcome = Runner(config(tmp_path, commands=True, command_timeout=0.5)).run(
        "exec", "echo started; exec sleep 60"
    )
    assert (outcome.status, outcome.output) == ("ERR", "started\n\n[killed after 0.5 s]")


def test_output_bounded_to_one_mib_its_end_kept(tmp_path):
    outcome = Runner(config(tmp_path, commands=True)).run(
        "exec", "head -c 3000000 /dev/zero | tr '\\0' a; echo END"
    )
    assert outcome.status == "OK"
    assert len(outcome.output.encode()) <= MAX_OUTPUT
    note, _, rest = outcome.output.partition("\n")
    assert note == f"[{3000004 - len(rest.encode())} bytes cut]"
    assert rest.endswith("aaaaEND\n")


def test_bound_counts_bytes_of_utf8():
    assert bound(("é" * 12).encode(), limit=20) == "[20 bytes cut]\néé"  # no half character
    assert bound(("é" * 12).encode(), limit=10) == "[24 bytes cut]\n"
    assert bound(b"abc", cut=5) == "[5 bytes cut]\nabc"
    assert bound(b"short") == "short"
    big = bound(("é" * 600_000).encode())  # 1.2 MB of 2-byte characters
    assert len(big.encode()) <= MAX_OUTPUT
    assert big.endswith("éé")


def test_restart_only_listed_services(tmp_path):
    runner = Runner(
        config(tmp_path, commands=True, services=["caddy"], restart_command=["echo", "restarted"])
    )
    assert (runner.run("restart", "caddy").status, runner.run("restart", "caddy").output) == (
        "OK",
        "restarted caddy\n",
    )
    refused = runner.run("restart", "sshd")
    assert (refused.status, refused.output) == ("ERR", "service 'sshd' may not be restarted (allowed: caddy)")


def test_logs_only_listed_files_their_last_kib(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"x" * 3000 + b"\nlast line\n")
    runner = Runner(config(tmp_path, commands=True, logs=[str(log)]))
    one = runner.run("logs", f"{log} 1")
    assert (one.status, one.output) == ("OK", "x" * (1024 - 11) + "\nlast line\n")
    assert runner.run("logs", str(log)).output == "x" * 3000 + "\nlast line\n"  # 64 KiB by default
    assert runner.run("logs", "/etc/shadow").output == f"/etc/shadow may not be read (allowed: {log})"
    assert runner.run("logs", f"{log} 2048").output == "logs: between 1 and 1024 KiB"
    assert runner.run("logs", f"{log} many").output == "logs: 'many' is not a number of KiB"
    log.unlink()
    assert runner.run("logs", str(log)).output == f"{log}: No such file or directory"


def test_reboot_answers_first_then_reboots(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr("subprocess.Popen", lambda argv, **kw: started.append(argv))
    outcome = Runner(config(tmp_path, commands=True, reboot_command=["/sbin/reboot", "-f"])).run("reboot")
    assert (outcome.status, outcome.output, started) == ("OK", "rebooting: /sbin/reboot -f", [])
    outcome.after()
    assert started == [["/sbin/reboot", "-f"]]


def test_test_and_unknown(tmp_path):
    runner = Runner(config(tmp_path, commands=True))
    outcome = runner.run("test")
    assert outcome.status == "OK"
    assert outcome.output.startswith(f"{AGENT} on {socket.gethostname()}: up ")
    assert outcome.output.endswith("; remote commands enabled")
    assert (runner.run("hotspot", "on").status, runner.run("hotspot", "on").output) == (
        "ERR",
        "unknown action 'hotspot'",
    )


def test_a_seq_runs_once_even_offered_twice(tmp_path):
    marker = tmp_path / "runs"
    book = CommandBook(tmp_path / "commands")
    runner = Runner(config(tmp_path, commands=True))
    command = {"seq": 7, "action": "exec", "argument": f"echo ran >> {marker}; echo done"}
    assert book.accept(command) is True
    assert book.run_queued(runner)[0] == 1
    assert [(r["seq"], r["status"], r["output"]) for r in book.unsent()] == [(7, "OK", "done\n")]
    book.mark_sent(7)
    assert book.unsent() == []
    # Offered again (the server never saw the result): not run, the stored result answered again.
    assert book.accept(command) is False
    assert book.run_queued(runner)[0] == 0
    assert [(r["seq"], r["status"], r["output"]) for r in book.unsent()] == [(7, "OK", "done\n")]
    # A new book on the same folder (the agent restarted) remembers it too.
    again = CommandBook(tmp_path / "commands")
    assert again.accept(command) is False
    assert again.run_queued(runner)[0] == 0
    assert marker.read_text() == "ran\n"


def test_a_command_cut_short_by_a_stop_is_never_run_again(tmp_path):
    book = CommandBook(tmp_path / "commands")
    book.accept({"seq": 3, "action": "exec", "argument": "true"})
    record = book.get(3)
    record["state"] = "running"  # what a crash of the agent mid-command leaves
    (tmp_path / "commands" / "0000000003.json").write_text(json.dumps(record))
    book = CommandBook(tmp_path / "commands")
    assert book.run_queued(Runner(config(tmp_path, commands=True)))[0] == 0
    assert [(r["seq"], r["status"], r["output"]) for r in book.unsent()] == [(3, "ERR", INTERRUPTED)]


def test_settled_results_pruned_older_seqs_taken_as_run(tmp_path):
    book = CommandBook(tmp_path / "commands", keep=2)
    runner = Runner(config(tmp_path))
    for seq in (1, 2, 3):
        book.accept({"seq": seq, "action": "test"})
    book.run_queued(runner)
    for seq in (1, 2, 3):
        book.mark_sent(seq)
    assert [r["seq"] for r in book.records()] == [2, 3]
    assert book.floor == 1
    assert book.accept({"seq": 1, "action": "test"}) is False
    assert book.get(1) is None
    assert sorted(os.listdir(tmp_path / "commands")) == ["0000000002.json", "0000000003.json", "floor"]


@pytest.mark.parametrize("command", [{}, {"seq": "x"}, {"seq": 0}, {"seq": None}])
def test_commands_without_a_seq_are_ignored(tmp_path, command):
    book = CommandBook(tmp_path / "commands")
    assert book.accept(command) is False
    assert book.records() == []
