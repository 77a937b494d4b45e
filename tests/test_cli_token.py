"""Getting an API token never touches a password (issue 13: `fleetwatch user create` for an
existing user, then the documented way to get a token, reset the password and ended the user's
sessions). Run through ``fleetwatch.cli.main`` as the shell does: exact output and exit codes."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from fleetwatch import cli
from fleetwatch.inventory.models import Membership
from tests.commandline import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana_logged_in(client, orgs, capsys):
    """ana, created by the command, with a browser session open."""
    status, out, err = run(
        capsys,
        "user",
        "create",
        "--username",
        "ana",
        "--password",
        "first-pw",
        "--org",
        "org-a",
        "--role",
        "admin",
    )
    assert (status, err) == (0, "")
    ana = get_user_model().objects.get(username="ana")
    assert out == f"username: ana\ntoken: {Token.objects.get(user=ana).key}\n"
    client.force_login(ana)
    assert client.get("/").status_code == 200
    capsys.readouterr()  # the login's log lines
    return ana


def still_the_same(client, ana):
    ana.refresh_from_db()
    assert ana.check_password("first-pw")
    assert client.get("/").status_code == 200  # the session was not ended


def test_token_create_prints_the_existing_token_and_touches_nothing(client, ana_logged_in, capsys):
    key = Token.objects.get(user=ana_logged_in).key
    assert run(capsys, "token", "create", "--user", "ana") == (0, f"{key}\n", "")
    assert run(capsys, "token", "create", "--user", "ana") == (0, f"{key}\n", "")
    still_the_same(client, ana_logged_in)


def test_token_create_makes_one_for_a_user_without(client, ana_logged_in, capsys):
    Token.objects.filter(user=ana_logged_in).delete()
    status, out, err = run(capsys, "token", "create", "--user", "ana")
    assert (status, out, err) == (0, f"{Token.objects.get(user=ana_logged_in).key}\n", "")
    assert len(out.strip()) == 40
    still_the_same(client, ana_logged_in)


def test_rotate_replaces_the_token_and_the_old_one_stops_working(client, ana_logged_in, capsys):
    old = Token.objects.get(user=ana_logged_in).key
    status, out, err = run(capsys, "token", "create", "--user", "ana", "--rotate")
    new = Token.objects.get(user=ana_logged_in).key
    assert (status, out, err) == (0, f"{new}\n", "")
    assert new != old
    api = Client()  # no session: the token alone
    assert not Token.objects.filter(key=old).exists()  # refused from now on (401/403: the API's choice)
    assert api.get("/api/v1/inventory/devices/", HTTP_AUTHORIZATION=f"Token {new}").status_code == 200
    still_the_same(client, ana_logged_in)


def test_user_create_refuses_an_existing_user_and_changes_nothing(client, ana_logged_in, capsys):
    key = Token.objects.get(user=ana_logged_in).key
    status, out, err = run(
        capsys, "user", "create", "--username", "ana", "--password", "other", "--org", "org-b", "--superuser"
    )
    assert (status, out) == (1, "")
    assert err == (
        "CommandError: user 'ana' already exists; its password is unchanged. Get its API token with "
        "`fleetwatch token create --user ana`; change its password with `fleetwatch changepassword ana`\n"
    )
    still_the_same(client, ana_logged_in)
    ana_logged_in.refresh_from_db()
    assert (ana_logged_in.is_superuser, Token.objects.get(user=ana_logged_in).key) == (False, key)
    assert list(Membership.objects.filter(user=ana_logged_in).values_list("organization__slug", "role")) == [
        ("org-a", "admin")
    ]


def test_membership_gives_an_existing_user_a_role(client, ana_logged_in, capsys):
    assert run(capsys, "user", "membership", "--username", "ana", "--org", "org-b", "--role", "member") == (
        0,
        "username: ana\norganization: org-b\nrole: member\n",
        "",
    )
    assert sorted(
        Membership.objects.filter(user=ana_logged_in).values_list("organization__slug", "role")
    ) == [
        ("org-a", "admin"),
        ("org-b", "member"),
    ]
    still_the_same(client, ana_logged_in)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("token", "create", "--user", "nobody"),
            "CommandError: no user 'nobody' (create it with `fleetwatch user create`)\n",
        ),
        (
            ("user", "membership", "--username", "nobody", "--org", "org-a"),
            "CommandError: no user 'nobody' (create it with `fleetwatch user create`)\n",
        ),
        (
            ("user", "create", "--username", "new", "--password", "pw", "--org", "no-such-org"),
            "CommandError: no organization 'no-such-org' (give its slug or id)\n",
        ),
    ],
)
def test_errors_exit_1_with_one_line(orgs, capsys, argv, message):
    assert run(capsys, *argv) == (1, "", message)
    assert not get_user_model().objects.filter(username="new").exists()


def test_an_inactive_users_token_is_refused(orgs, capsys):
    get_user_model().objects.create_user("gone", password="pw", is_active=False)
    assert run(capsys, "token", "create", "--user", "gone") == (
        1,
        "",
        "CommandError: user 'gone' is inactive: its API token would be refused\n",
    )
    assert not Token.objects.exists()


def test_the_demo_login_keeps_its_password_and_sessions(client, orgs, capsys):
    from fleetwatch.inventory.models import Organization

    Organization.objects.create(name="Demo", slug="demo")
    cli._demo_login("demo-pw")
    demo = get_user_model().objects.get(username="demo")
    client.force_login(demo)
    cli._demo_login("demo-pw")  # the next `make run`
    assert client.get("/").status_code == 200
    assert list(Membership.objects.filter(user=demo).values_list("organization__slug", "role")) == [
        ("demo", "admin")
    ]
    cli._demo_login("new-pw")  # the password file was replaced: the printed password works
    demo.refresh_from_db()
    assert demo.check_password("new-pw")


def test_the_documented_token_commands_as_written(tmp_path):
    """docs/operations.md's "API tokens" block, run by the real command on a fresh database."""
    from tests.test_cli_settings import DOCS, doc_block
    from tests.test_cli_settings import run as fleetwatch

    assert fleetwatch(["migrate", "--verbosity", "0"], tmp_path).returncode == 0
    assert fleetwatch(["org", "create", "--name", "Community WiFi", "--slug", "cw"], tmp_path).returncode == 0
    created = fleetwatch(
        ["user", "create", "--username", "ana", "--password", "pw", "--org", "cw", "--role", "admin"],
        tmp_path,
    )
    assert created.returncode == 0
    token = created.stdout.split("token: ")[1].strip()
    lines = [
        line.split("#")[0].split()
        for line in doc_block(DOCS / "operations.md", "### API tokens").splitlines()
    ]
    assert lines == [
        ["fleetwatch", "token", "create", "--user", "ana"],
        ["fleetwatch", "token", "create", "--user", "ana", "--rotate"],
    ]
    shown = fleetwatch(lines[0][1:], tmp_path)
    assert (shown.returncode, shown.stdout, shown.stderr) == (0, f"{token}\n", "")
    rotated = fleetwatch(lines[1][1:], tmp_path)
    assert rotated.returncode == 0
    assert re.fullmatch(r"[0-9a-f]{40}\n", rotated.stdout)
    assert rotated.stdout != f"{token}\n"
    again = fleetwatch(["user", "create", "--username", "ana", "--password", "other"], tmp_path)
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr.startswith("CommandError: user 'ana' already exists; its password is unchanged. ")
