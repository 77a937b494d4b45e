"""The command line a newcomer reads (issue 21): ``fleetwatch --help`` lists Fleetwatch's commands
by group and none of Django's, every command's ``--help`` gives its defaults and an example,
mistakes exit 2 with the nearest name, ``--format json`` prints one JSON document, and the
completion scripts are valid shell. The real command (a subprocess) where the exit status and the
streams matter, ``fleetwatch.cli.main`` otherwise."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from django.core.management import get_commands

from fleetwatch import __version__, commands
from fleetwatch.inventory.models import Device
from tests.commandline import run
from tests.test_cli_settings import ROOT
from tests.test_cli_settings import run as run_process

EXPECTED = {
    "serve": "run",
    "worker": "run",
    "demo-login": "run",
    "consume": "run",
    "org": "inventory",
    "user": "inventory",
    "device": "inventory",
    "token": "inventory",
    "timeseries": "data",
    "simulate": "data",
    "backup": "data",
    "usage": "data",
    "check": "data",
    "manage": "other",
    "completion": "other",
}


def listed(text: str) -> dict[str, str]:
    """``{command: group heading}`` of a ``fleetwatch --help`` text."""
    found, heading = {}, None
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            heading = line[:-1]
        elif heading and heading != "options" and line.startswith("  "):
            found[line.split()[0]] = heading
    return found


@pytest.mark.parametrize("argv", [["--help"], [], ["help"], ["-h"]])
def test_the_top_level_help_lists_every_fleetwatch_command_by_group_and_no_django_command(tmp_path, argv):
    result = run_process(argv, tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    shown = listed(result.stdout)
    ours = {name for name, app in get_commands().items() if app.startswith("fleetwatch.")}
    builtins = {e.name for e in commands.BUILTINS}
    assert set(shown) == ours | builtins
    headings = {key: commands.GROUPS[group] for key, group in EXPECTED.items()}
    assert {name: shown[name] for name in EXPECTED} == headings
    django_only = {name for name, app in get_commands().items() if not app.startswith("fleetwatch.")}
    assert {"migrate", "startapp", "makemessages", "squashmigrations", "shell"} <= django_only
    assert django_only & set(shown) == set()
    for name in django_only:
        assert not re.search(rf"^  {re.escape(name)} ", result.stdout, re.M), name
    assert result.stdout.startswith("usage: fleetwatch <command> [arguments]\n")
    assert f"Fleetwatch {__version__}: monitoring of routers, servers and backups." in result.stdout
    # names are padded to the longest one's width
    assert re.search(
        r"^  device +add a device to an organization and print its id and key$", result.stdout, re.M
    )
    assert result.stdout.endswith(
        "Exit status: 0 done, 1 failed, 2 usage error (unknown command, bad argument, unusable setting).\n"
    )


def test_the_version(tmp_path):
    result = run_process(["--version"], tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{__version__}\n", "")


def test_an_unknown_command_exits_2_with_the_nearest_name(tmp_path):
    result = run_process(["devcie", "create"], tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "fleetwatch: unknown command 'devcie'. Did you mean `fleetwatch device`? "
        "`fleetwatch --help` lists the commands.\n"
    )
    result = run_process(["migrat"], tmp_path)
    assert result.returncode == 2
    assert "Did you mean `fleetwatch manage migrate`?" in result.stderr
    result = run_process(["zzzzqqq"], tmp_path)
    assert (result.returncode, result.stderr) == (
        2,
        "fleetwatch: unknown command 'zzzzqqq'. `fleetwatch --help` lists the commands.\n",
    )


def test_a_usage_error_exits_2_and_a_failure_1(tmp_path):
    result = run_process(["device", "create", "--name", "ap-lobby"], tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.endswith(
        "fleetwatch device create: error: the following arguments are required: --org\n"
    )
    result = run_process(["serve", "--workers", "many"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.endswith("fleetwatch serve: error: argument --workers: invalid int value: 'many'\n")
    assert run_process(["manage", "migrate", "-v0"], tmp_path).returncode == 0
    result = run_process(["device", "create", "--org", "nowhere", "--name", "ap-lobby"], tmp_path)
    assert (result.returncode, result.stderr) == (
        1,
        "CommandError: no organization 'nowhere' (give its slug or id)\n",
    )
    result = run_process(["demo-login"], tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"fleetwatch: no demo in {tmp_path / 'var'}: `make run` (fleetwatch serve --demo) starts one\n"
    )


def test_django_commands_run_under_manage_and_still_alone(tmp_path):
    result = run_process(["manage", "showmigrations", "inventory"], tmp_path)
    assert (result.returncode, result.stdout.splitlines()[0]) == (0, "inventory")
    result = run_process(["showmigrations", "inventory"], tmp_path)  # deployment scripts' old form
    assert (result.returncode, result.stdout.splitlines()[0]) == (0, "inventory")
    result = run_process(["manage", "help"], tmp_path)
    assert result.returncode == 0
    assert "Type 'fleetwatch manage help <subcommand>' for help on a specific subcommand." in result.stdout


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_command_help_has_its_defaults_and_an_example(tmp_path, name):
    if name in ("manage", "completion", "demo-login"):
        entry = next(e for e in commands.BUILTINS if e.name == name)
        assert entry.example.startswith(("fleetwatch ", 'eval "$(fleetwatch '))
        return
    result = run_process([name, "--help"], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"usage: fleetwatch {name} ")
    assert re.search(r"\nExample: fleetwatch ", result.stdout), result.stdout


def test_a_subcommand_help_says_each_default_and_what_is_required(tmp_path):
    result = run_process(["user", "create", "--help"], tmp_path)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps to the terminal's width
    assert "--username USERNAME (required)" in text
    assert "--role {admin,member} its role in --org (default: member)" in text
    assert "(default: text)" in text
    assert (
        "Example: fleetwatch user create --username ana --password 'a long secret' --org demo --role admin"
        in text
    )
    result = run_process(["serve", "--help"], tmp_path)
    text = " ".join(result.stdout.split())
    assert "--bind BIND address:port (FLEETWATCH_BIND) (default: 127.0.0.1:8000)" in text
    assert "--workers WORKERS processes (FLEETWATCH_WORKERS) (default: 2)" in text


def test_an_undeclared_command_lands_in_its_apps_group_or_other():
    class Bare:
        help = "Do a thing. More words `fleetwatch bare run --now` here."

    assert commands.summary_of(Bare.help) == "Do a thing"
    assert commands.example_of(Bare()) == "fleetwatch bare run --now"
    assert commands.APP_GROUPS.get("fleetwatch.somethingnew", commands.DEFAULT_GROUP) == "other"
    assert commands.nearest("tokne", ["token", "org"]) == "token"
    assert commands.nearest("xyz", ["token", "org"]) is None


@pytest.mark.django_db
def test_device_create_prints_one_json_document(capsys, orgs):
    status, out, err = run(
        capsys,
        "device",
        "create",
        "--org",
        "org-a",
        "--name",
        "ap-json",
        "--mac",
        "02:00:00:00:00:09",
        "--format",
        "json",
    )
    assert (status, err) == (0, "")
    document = json.loads(out)  # exactly one document: json.loads refuses anything after it
    device = Device.objects.get(name="ap-json")
    assert document == {
        "id": str(device.pk),
        "key": device.key,
        "name": "ap-json",
        "organization": "org-a",
        "mac_address": "02:00:00:00:00:09",
        "management_ip": None,
    }
    status, out, err = run(capsys, "device", "create", "--org", "org-a", "--name", "ap-text")
    device = Device.objects.get(name="ap-text")
    assert (status, out, err) == (0, f"id: {device.pk}\nkey: {device.key}\n", "")


@pytest.mark.django_db
def test_org_user_and_token_print_json_too(capsys, orgs):
    status, out, _ = run(capsys, "org", "create", "--name", "Org A", "--slug", "org-a", "--format", "json")
    assert status == 0
    assert json.loads(out) == {"id": str(orgs[0].pk), "slug": "org-a", "name": orgs[0].name, "created": False}
    status, out, _ = run(
        capsys,
        "user",
        "create",
        "--username",
        "jo",
        "--password",
        "pw-jo-1",
        "--org",
        "org-a",
        "--format",
        "json",
    )
    document = json.loads(out)
    assert status == 0
    assert document == {
        "username": "jo",
        "token": document["token"],
        "email": "",
        "superuser": False,
        "organization": "org-a",
        "role": "member",
    }
    assert len(document["token"]) == 40
    status, out, _ = run(capsys, "token", "create", "--user", "jo", "--format", "json")
    assert (status, json.loads(out)) == (0, {"user": "jo", "token": document["token"], "created": False})
    status, out, _ = run(capsys, "token", "create", "--user", "jo")
    assert (status, out) == (0, document["token"] + "\n")


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_are_valid_and_complete_the_commands(tmp_path, shell):
    result = run_process(["completion", shell], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    script = tmp_path / f"fleetwatch.{shell}"
    script.write_text(result.stdout)
    if shell == "zsh":
        assert result.stdout.startswith("#compdef fleetwatch\n")
        assert "'device:add a device to an organization and print its id and key'" in result.stdout
        if shutil.which("zsh"):  # where zsh is installed (CI: apt-get install zsh), its parser too
            check = subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True)
            assert (check.returncode, check.stderr) == (0, "")
        return
    # bash: load it and ask it what it completes, as bash does on <Tab>
    probe = (
        f"source {script}; "
        'COMP_WORDS=(fleetwatch dev); COMP_CWORD=1; _fleetwatch; echo "${COMPREPLY[@]}"; '
        'COMP_WORDS=(fleetwatch device create --fo); COMP_CWORD=3; _fleetwatch; echo "${COMPREPLY[@]}"; '
        'COMP_WORDS=(fleetwatch manage migr); COMP_CWORD=2; _fleetwatch; echo "${COMPREPLY[@]}"; '
        "complete -p fleetwatch"
    )
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True)
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout.splitlines() == [
        "device",
        "--format",
        "migrate",
        "complete -o default -F _fleetwatch fleetwatch",
    ]


def test_the_examples_of_docs_cli_run_as_written(tmp_path):
    """Each ```sh block of docs/cli.md, in order, with bash -euo pipefail and ``fleetwatch`` on
    the PATH (this checkout's code, a fresh data directory)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "fleetwatch"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m fleetwatch.cli "$@"\n')
    shim.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": str(ROOT / "src"),
        "HOME": str(tmp_path),
        "FLEETWATCH_DATA_DIR": str(tmp_path / "var"),
    }
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "docs" / "cli.md").read_text(), re.S)
    assert len(blocks) == 4
    outputs = []
    for block in blocks:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert (result.returncode, result.stderr) == (0, ""), block
        outputs.append(result.stdout)
    assert outputs[0].startswith("usage: fleetwatch <command> [arguments]\n")
    assert "\nExample: fleetwatch device create --org demo --name ap-lobby" in outputs[0]
    assert outputs[0].endswith(f"\n{__version__}\n")
    org, device = (json.loads(line) for line in outputs[2].splitlines())
    assert (org["slug"], org["created"]) == ("acme", True)
    assert (device["name"], device["organization"], device["mac_address"]) == (
        "ap-lobby",
        "acme",
        "02:00:00:00:00:01",
    )
    assert (
        (tmp_path / ".fleetwatch-completion.bash").read_text().startswith("# bash completion for fleetwatch")
    )
