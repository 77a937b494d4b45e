"""The typed readers of environment variables: what each accepts, and the exact message (naming
the variable and the accepted form) for what it refuses."""

import pytest

from fleetwatch.core.env import (
    SettingsError,
    env_bool,
    env_choice,
    env_int,
    env_json,
    env_list,
    env_optional_int,
    env_seconds,
    env_str,
    env_url,
)

NAME = "FLEETWATCH_TEST_VALUE"


@pytest.fixture
def given(monkeypatch):
    monkeypatch.delenv(NAME, raising=False)
    monkeypatch.delenv(f"{NAME}_FILE", raising=False)

    def given(value):
        monkeypatch.setenv(NAME, value)

    return given


def refused(reader, *args, **kwargs) -> str:
    with pytest.raises(SettingsError) as raised:
        reader(NAME, *args, **kwargs)
    return str(raised.value)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("300", 300.0), ("0.5", 0.5), (".5", 0.5), ("86400", 86400.0), (" 60 ", 60.0), ("0", 0.0)],
)  # fmt: skip
def test_durations(given, raw, seconds):
    given(raw)
    assert env_seconds(NAME, 7) == seconds


@pytest.mark.parametrize("raw", ["5m", "300s", "1h", "1d", "5 minutes", "5x", "-5", "m", "1e3", "inf", "nan"])
def test_durations_refused(given, raw):
    given(raw)
    assert (
        refused(env_seconds, 7)
        == f"{NAME} must be a number of seconds, e.g. 300 for five minutes, not {raw!r}"
    )


def test_duration_bounds(given):
    given("0")
    assert (
        refused(env_seconds, 7, positive=True) == f"{NAME} must be a duration longer than 0 seconds, not '0'"
    )
    given("0.5")
    assert refused(env_seconds, 7, minimum=1) == f"{NAME} must be at least 1 seconds, not '0.5'"
    given("172800")
    assert refused(env_seconds, 7, maximum=86400) == f"{NAME} must be at most 86400 seconds, not '172800'"


def test_unset_and_blank_mean_the_default(given):
    assert env_seconds(NAME, 7) == 7.0
    given("  ")
    assert (env_seconds(NAME, 7), env_int(NAME, 3), env_bool(NAME, True), env_str(NAME, "d")) == (
        7.0,
        3,
        True,
        "d",
    )
    assert (env_optional_int(NAME), env_list(NAME, ["a"]), env_url(NAME, "", ("http",))) == (None, ["a"], "")


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1", True), ("true", True), ("Yes", True), ("ON", True), ("0", False), ("false", False), ("no", False),
     ("off", False)],
)  # fmt: skip
def test_booleans(given, raw, value):
    given(raw)
    assert env_bool(NAME, not value) is value


@pytest.mark.parametrize("raw", ["enabled", "2", "y", "truee"])
def test_booleans_refused(given, raw):
    given(raw)
    assert refused(env_bool) == f"{NAME} must be true or false (or 1/0, yes/no, on/off), not {raw!r}"


def test_integers(given):
    given("42")
    assert env_int(NAME, 1, minimum=1, maximum=42) == 42
    assert env_optional_int(NAME) == 42
    given("-3")
    assert env_int(NAME, 1) == -3
    assert refused(env_int, 1, minimum=0) == f"{NAME} must be at least 0, not '-3'"
    given("70000")
    assert refused(env_int, 25, minimum=1, maximum=65535) == f"{NAME} must be at most 65535, not '70000'"
    for raw in ("5.0", "ten", "0x10", "1_000"):
        given(raw)
        assert refused(env_int, 1) == f"{NAME} must be an integer, not {raw!r}"


def test_choices(given):
    given("warning")
    assert env_choice(NAME, "INFO", ("DEBUG", "INFO", "WARNING")) == "WARNING"
    given("loud")
    assert refused(env_choice, "INFO", ("DEBUG", "INFO")) == f"{NAME} must be one of DEBUG, INFO, not 'loud'"


def test_urls(given):
    given("https://fleetwatch.example.org/")
    assert env_url(NAME, "", ("http", "https")) == "https://fleetwatch.example.org/"
    given("sqlite:///var/ts.db")
    assert env_url(NAME, "", ("sqlite",), need_host=False) == "sqlite:///var/ts.db"
    given("fleetwatch.example.org")
    assert refused(env_url, "", ("http", "https")) == (
        f"{NAME} must be a URL starting with http://, https://, not 'fleetwatch.example.org'"
    )
    given("https:///path")
    assert refused(env_url, "", ("https",)) == f"{NAME} must name a host (https://host…), not 'https:///path'"


def test_url_errors_hide_the_password(given):
    given("amqp://fleetwatch:s3cret@127.0.0.1:port/vhost")
    message = refused(env_url, "", ("amqp",))
    assert (
        message
        == f"{NAME} must be a URL starting with amqp://, not 'amqp://fleetwatch:***@127.0.0.1:port/vhost'"
    )
    given("sqs://user:s3cret@queue")
    assert "s3cret" not in refused(env_url, "", ("amqp",))


def test_lists(given):
    given(" a, b ,,c ")
    assert env_list(NAME, []) == ["a", "b", "c"]


def test_json(given):
    def check(value):
        return isinstance(value, dict)

    given('{"ping": {"count": 3}}')
    assert env_json(NAME, {}, check, "an object") == {"ping": {"count": 3}}
    given("[1]")
    assert refused(env_json, {}, check, "an object") == f"{NAME} must be JSON: an object, not '[1]'"
    given("{ping: 3}")
    assert refused(env_json, {}, check, "an object") == f"{NAME} must be JSON: an object, not '{{ping: 3}}'"


def test_a_value_from_a_file(given, monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-the-file\n")
    given("from-the-variable")
    monkeypatch.setenv(f"{NAME}_FILE", str(secret))
    assert env_str(NAME) == "from-the-file"
    monkeypatch.setenv(f"{NAME}_FILE", str(tmp_path / "missing"))
    assert (
        refused(env_str)
        == f"{NAME}_FILE={str(tmp_path / 'missing')!r} cannot be read: No such file or directory"
    )


def test_text_keeps_its_spaces(given, monkeypatch, tmp_path):
    given(" pass word ")
    assert env_str(NAME) == " pass word "
    secret = tmp_path / "secret"
    secret.write_text(" pass word \n")
    monkeypatch.setenv(f"{NAME}_FILE", str(secret))
    assert env_str(NAME) == " pass word "
