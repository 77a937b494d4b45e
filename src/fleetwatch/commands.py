"""The catalogue of ``fleetwatch`` commands: what ``fleetwatch --help`` lists, how a command's own
``--help`` reads, the nearest name to a mistyped one, and the shell completion scripts.

Two kinds of commands:

* built into ``fleetwatch.cli`` (:data:`BUILTINS`): ``serve``, ``worker``, ``demo-login``,
  ``completion``, ``manage``;
* Django management commands of Fleetwatch's apps (``fleetwatch.*/management/commands/``),
  discovered at run time: a new one is listed without editing this module. A command class may
  declare ``group`` (one of :data:`GROUPS`), ``summary`` (its one line in the list) and
  ``example`` (a command line, shown under its ``--help``); without them the group follows the
  app (:data:`APP_GROUPS`, else ``other``), the summary is the help's first sentence and the
  example the first ```fleetwatch …``` quoted in the help.

Django's own commands (``migrate``, ``shell`` …) are not listed: ``fleetwatch manage …`` runs them.
"""

from __future__ import annotations

import argparse
import difflib
import re
import shlex
from dataclasses import dataclass

# The groups of `fleetwatch --help`, in their order, with their headings.
GROUPS = {
    "run": "Run Fleetwatch",
    "inventory": "Organizations, users, devices and their credentials",
    "data": "Data, checks and operations",
    "other": "Other",
}
# The group of a command that declares none, by its app.
APP_GROUPS = {
    "fleetwatch.inventory": "inventory",
    "fleetwatch.protocols": "inventory",
    "fleetwatch.messaging": "run",
    "fleetwatch.timeseries": "data",
    "fleetwatch.monitoring": "data",
    "fleetwatch.backups": "data",
    "fleetwatch.usage": "data",
    "fleetwatch.core": "data",
}
DEFAULT_GROUP = "other"


@dataclass(frozen=True)
class Entry:
    """One command of the list: ``name``, its ``group`` (a key of :data:`GROUPS`), ``summary``
    (one line), ``example`` (a command line or ""), and ``app`` (the Django app that provides it;
    "" for a built-in)."""

    name: str
    group: str
    summary: str
    example: str = ""
    app: str = ""


BUILTINS = (
    Entry(
        "serve",
        "run",
        "migrate, then serve the web pages and the API (gunicorn); --demo adds a demo fleet",
        "fleetwatch serve --bind 0.0.0.0:8000 --workers 4",
    ),
    Entry(
        "worker",
        "run",
        "run checks, alert evaluation, notifications and their schedule (Celery)",
        "fleetwatch worker --concurrency 4",
    ),
    Entry(
        "demo-login",
        "run",
        "print the address and login of the demo started by `make run`",
        "fleetwatch demo-login",
    ),
    Entry(
        "manage",
        "other",
        "Django's own commands (migrate, shell, createsuperuser …): `fleetwatch manage help` lists them",
        "fleetwatch manage migrate",
    ),
    Entry(
        "completion",
        "other",
        "print a shell completion script (bash or zsh)",
        'eval "$(fleetwatch completion bash)"',
    ),
)

_EXAMPLE = re.compile(r"`(fleetwatch [^`]+)`")


def summary_of(help_text: str) -> str:
    """The first sentence of ``help_text`` (its first line, up to the first ". " or ": `"),
    without reStructuredText/Markdown quotes, at most 90 characters."""
    text = " ".join((help_text or "").split()).replace("``", "`")
    for stop in (". ", ": `", "; "):
        if stop in text:
            text = text.split(stop, 1)[0]
    text = text.rstrip(".")
    return text if len(text) <= 90 else text[:89].rstrip() + "…"


def example_of(command) -> str:
    """The command's ``example`` attribute, else the first ```fleetwatch …``` in its help, else ""."""
    example = getattr(command, "example", "")
    if example:
        return example
    found = _EXAMPLE.search((command.help or "").replace("``", "`"))
    return found.group(1) if found else ""


def fleetwatch_commands() -> dict[str, str]:
    """``{name: app}`` of the management commands of Fleetwatch's apps (Django set up)."""
    from django.core.management import get_commands

    return {name: app for name, app in get_commands().items() if app.startswith("fleetwatch.")}


def django_commands() -> list[str]:
    """The names of the management commands ``fleetwatch manage`` runs (all of them)."""
    from django.core.management import get_commands

    return sorted(get_commands())


def load(name: str, app: str):
    """The command object of management command ``name`` of ``app``."""
    from django.core.management import load_command_class

    return load_command_class(app, name)


def entries() -> list[Entry]:
    """Every command of ``fleetwatch --help``: the built-ins and Fleetwatch's management
    commands, sorted by group (in :data:`GROUPS` order), then as declared (built-ins first), then
    by name."""
    found = list(BUILTINS)
    for name, app in sorted(fleetwatch_commands().items()):
        command = load(name, app)
        group = getattr(command, "group", "") or APP_GROUPS.get(app, DEFAULT_GROUP)
        if group not in GROUPS:
            group = DEFAULT_GROUP
        summary = getattr(command, "summary", "") or summary_of(command.help)
        found.append(Entry(name, group, summary, example_of(command), app))
    order = list(GROUPS)
    return sorted(found, key=lambda e: (order.index(e.group), e.app != "", e.name))


def top_level_help(version: str) -> str:
    """The text of ``fleetwatch --help`` (and of ``fleetwatch`` alone)."""
    listed = entries()
    width = max(len(e.name) for e in listed) + 2
    lines = [
        "usage: fleetwatch <command> [arguments]",
        "       fleetwatch <command> --help    (the command's arguments, their defaults, an example)",
        "",
        f"Fleetwatch {version}: monitoring of routers, servers and backups.",
    ]
    for group, heading in GROUPS.items():
        members = [e for e in listed if e.group == group]
        if not members:
            continue
        lines += ["", f"{heading}:"]
        lines += [f"  {e.name.ljust(width)}{e.summary}" for e in members]
    lines += [
        "",
        "options:",
        f"  {'--version'.ljust(width)}print the version and exit",
        f"  {'-h, --help'.ljust(width)}print this list and exit",
        "",
        "Exit status: 0 done, 1 failed, 2 usage error (unknown command, bad argument, unusable setting).",
    ]
    return "\n".join(lines) + "\n"


def nearest(name: str, names: list[str]) -> str | None:
    """The name in ``names`` closest to the mistyped ``name`` (difflib), or None."""
    found = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    return found[0] if found else None


# ---------------------------------------------------------------- a command's own --help


def annotate(parser: argparse.ArgumentParser, example: str) -> argparse.ArgumentParser:
    """Make ``parser``'s help say each option's default (or that it is required) and end with
    ``Example: …``; the same for its subcommands' parsers. Returns ``parser``."""
    if example and not parser.epilog:
        parser.epilog = f"Example: {example}"
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                annotate(sub, example)
            continue
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        text = action.help or ""
        if action.required:
            if "required" not in text:
                action.help = f"{text} (required)".strip()
        elif _shown_default(action) and "%(default)" not in text and "default" not in text.lower():
            action.help = f"{text} (default: %(default)s)".strip()
    return parser


def _shown_default(action: argparse.Action) -> bool:
    default = action.default
    if default is None or default is argparse.SUPPRESS or isinstance(default, bool):
        return False
    return default not in ("", [], ())


def friendly(command, example: str):
    """``command`` (a management command object) whose parser :func:`annotate` has gone over."""
    original = command.create_parser

    def create_parser(prog_name, subcommand, **kwargs):
        return annotate(original(prog_name, subcommand, **kwargs), example)

    command.create_parser = create_parser
    return command


# ---------------------------------------------------------------- shell completion


def words(parser: argparse.ArgumentParser) -> tuple[list[str], dict[str, list[str]]]:
    """``(options, {subcommand: its options})`` of ``parser``, for completion."""
    options, subcommands = [], {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                subcommands[name] = words(sub)[0]
        else:
            options += [o for o in action.option_strings if o.startswith("--")]
    return sorted(set(options)), subcommands


def completion_table(parsers: dict[str, argparse.ArgumentParser]) -> dict[str, list[str]]:
    """``{command: words}`` and ``{"command subcommand": words}`` for every command parser."""
    table = {}
    for name, parser in parsers.items():
        options, subcommands = words(parser)
        table[name] = sorted(subcommands) + options
        for sub, sub_options in subcommands.items():
            table[f"{name} {sub}"] = sub_options
    return table


def bash_script(listed: list[Entry], table: dict[str, list[str]], django: list[str]) -> str:
    """A bash completion script for ``fleetwatch``: commands, then each command's subcommands and
    options (``fleetwatch manage`` completes Django's command names)."""
    cases = []
    for key, candidates in sorted(table.items()):
        cases.append(f"        {shlex.quote(key)}) words={shlex.quote(' '.join(candidates))} ;;")
    commands = " ".join(e.name for e in listed)
    return f"""# bash completion for fleetwatch (generated by `fleetwatch completion bash`)
_fleetwatch() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} key words
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W {shlex.quote(commands + " --help --version")} -- "$cur"))
        return
    fi
    if [ "${{COMP_WORDS[1]}}" = manage ] && [ "$COMP_CWORD" -eq 2 ]; then
        COMPREPLY=($(compgen -W {shlex.quote(" ".join(django))} -- "$cur"))
        return
    fi
    key=${{COMP_WORDS[1]}}
    if [ "$COMP_CWORD" -ge 3 ] && [[ ${{COMP_WORDS[2]}} != -* ]]; then
        key="${{COMP_WORDS[1]}} ${{COMP_WORDS[2]}}"
    fi
    case "$key" in
{chr(10).join(cases)}
        *) words="" ;;
    esac
    COMPREPLY=($(compgen -W "$words --help" -- "$cur"))
}}
complete -o default -F _fleetwatch fleetwatch
"""


def zsh_script(listed: list[Entry], table: dict[str, list[str]], django: list[str]) -> str:
    """A zsh completion script for ``fleetwatch`` (commands with their descriptions, then each
    command's subcommands and options), to be ``eval``'d or saved as ``_fleetwatch`` on $fpath."""

    def quoted(text: str) -> str:
        return "'" + text.replace("'", "'\\''") + "'"

    described = " ".join(quoted(f"{e.name}:{e.summary}") for e in listed)
    cases = []
    for key, candidates in sorted(table.items()):
        cases.append(f"        {quoted(key)}) candidates=({' '.join(map(quoted, candidates))}) ;;")
    return f"""#compdef fleetwatch
# zsh completion for fleetwatch (generated by `fleetwatch completion zsh`)
_fleetwatch() {{
    local -a commands candidates
    local key
    if (( CURRENT == 2 )); then
        commands=({described})
        _describe 'fleetwatch command' commands
        return
    fi
    if [[ $words[2] == manage && CURRENT -eq 3 ]]; then
        candidates=({" ".join(map(quoted, django))})
        compadd -a candidates
        return
    fi
    key=$words[2]
    if (( CURRENT >= 4 )) && [[ $words[3] != -* ]]; then
        key="$words[2] $words[3]"
    fi
    case $key in
{chr(10).join(cases)}
        *) candidates=() ;;
    esac
    compadd -a candidates
    compadd -- --help
}}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _fleetwatch "$@"
else
    compdef _fleetwatch fleetwatch
fi
"""
