"""The configuration file: defaults, types, refusals (fleetwatch_agent.config)."""

from pathlib import Path

import pytest
from fleetwatch_agent.config import Config, ConfigError, default_serial, load, parse


def test_defaults_need_only_the_server():
    config = parse('server = "https://fleet.example.org/"\ntoken = "fwe_x"')
    assert config.server == "https://fleet.example.org"
    assert (config.channel, config.interval, config.commands) == ("http", 300.0, False)
    assert (config.poll_min, config.poll_max, config.poll_growth, config.poll_offline) == (
        90.0,
        3600.0,
        1.5,
        10.0,
    )
    assert config.queue_size == 1000
    assert config.state_dir == Path("/var/lib/fleetwatch-agent")
    assert config.restart_command == ["systemctl", "restart"]
    assert config.reboot_command == ["systemctl", "reboot"]
    assert (config.logs, config.services) == ([], [])
    assert (config.interfaces, config.skip_interfaces) == (["*"], ["lo"])


def test_serial_is_the_machine_id_else_the_hostname(tmp_path, monkeypatch):
    machine_id = tmp_path / "machine-id"
    machine_id.write_text("3d1219c7c4c5404aaa1f6d2a48adfda4\n")
    assert default_serial(machine_id) == "3d1219c7c4c5404aaa1f6d2a48adfda4"
    monkeypatch.setattr("socket.gethostname", lambda: "station-7")
    assert default_serial(tmp_path / "absent") == "station-7"
    machine_id.write_text("")
    assert default_serial(machine_id) == "station-7"


def test_state_dir_relative_to_the_file(tmp_path):
    path = tmp_path / "agent.toml"
    path.write_text(
        'server = "http://127.0.0.1:8000"\ndevice_id = "d"\nkey = "k"\nstate_dir = "state"\ninterval = 60'
    )
    config = load(path)
    assert config.state_dir == tmp_path / "state"
    assert config.interval == 60.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('server = "ftp://x"', "server: an http:// or https:// URL is required"),
        ('server = "http://x"\nchanel = "mqtt"', "chanel: unknown key"),
        ('server = "http://x"\nchannel = "smtp"', "channel: one of http, mqtt, amqp, not 'smtp'"),
        ('server = "http://x"\ncommands = "yes"', "commands: expected bool, got str"),
        ('server = "http://x"\ninterval = true', "interval: expected float, got bool"),
        ('server = "http://x"\ninterval = 0', "interval: must be more than 0"),
        ('server = "http://x"\npoll_min = 100\npoll_max = 10', "poll_max: must not be less than poll_min"),
        ('server = "http://x"\npoll_growth = 0.5', "poll_growth: must be at least 1"),
        ('server = "http://x"\nlogs = ["/var/log/syslog", 3]', "logs: expected a list of strings"),
        ('server = "http://x"\ndevice_id = "d"', "device_id and key: give both or neither"),
        ('server = "http://x"\nqueue_size = 0', "queue_size: must be at least 1"),
        ('server = "http://x"\nreboot_command = []', "reboot_command: must not be empty"),
    ],
)
def test_refused(text, message):
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert str(caught.value) == message


def test_not_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"^not valid TOML: "):
        parse("server = ")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "absent.toml")
    assert str(caught.value) == f"{tmp_path / 'absent.toml'}: No such file or directory"


def test_a_config_object_validates_itself():
    assert Config(server="http://127.0.0.1:1").validate().server == "http://127.0.0.1:1"
