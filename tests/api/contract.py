"""Machinery of the endpoint contract (``tests/api/test_contract.py`` holds the table itself).

Three pieces, independent of how the REST layer is built:

- ``api_routes()`` walks the URL resolver and returns every pattern under ``/api/v1/`` (routers'
  list/detail routes, their extra actions and format-suffix variants included), so the set of
  endpoints is never written by hand;
- ``Call`` / ``entry()`` / ``seen()`` are the vocabulary of the table: per HTTP method, the action
  and the exact status each persona gets;
- ``coverage_problems()`` compares the discovered routes with the table: a route without an entry,
  an entry without a route and an unnamed route are each one problem, worded as what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

API_PREFIX = "api/v1/"

ANONYMOUS, OUTSIDER, MEMBER, ADMIN = "anonymous", "outsider", "member", "admin"
# Every entry states a status for each of these, for every method.
PERSONAS = (ANONYMOUS, OUTSIDER, MEMBER, ADMIN)
# A user with ``is_superuser`` (and no membership): an extra persona, named by the entries of
# endpoints that treat superusers apart (the usage collector's answers), with session and token.
SUPERUSER = "superuser"
# The methods probed on every route: a method an entry does not list must be refused. HEAD is
# probed too and must answer as GET does (Django and DRF serve HEAD with the GET handler);
# OPTIONS (DRF's metadata, no object data) is not.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PROBED = ("HEAD", *METHODS)
# DRF's standard actions and their method; an extra action (``@action``) goes by its own name.
STANDARD_ACTIONS = {
    "list": "GET",
    "retrieve": "GET",
    "create": "POST",
    "update": "PUT",
    "partial_update": "PATCH",
    "destroy": "DELETE",
}


# --------------------------------------------------------------------------- discovery
@dataclass(frozen=True)
class Route:
    """One URL pattern under ``/api/v1/``.

    ``name`` is the URL name with its namespaces (``"ns:device-list"``), or ``None`` for an
    unnamed pattern; ``pattern`` is the whole pattern as written (for messages); ``params`` are
    the keyword arguments it captures (``("pk",)``, ``("pk", "format")`` for a suffix variant).
    """

    name: str | None
    pattern: str
    params: tuple[str, ...]

    @property
    def id(self) -> str:
        """A stable, readable test id: the name, plus ``.format`` for a suffix variant."""
        base = self.name or f"<unnamed {self.pattern}>"
        return f"{base}.format" if "format" in self.params else base


def _text(pattern) -> str:
    text = str(pattern)
    if isinstance(pattern, RegexPattern):
        text = text.removeprefix("^").removesuffix("$")
    return text


def _params(pattern) -> tuple[str, ...]:
    if isinstance(pattern, RoutePattern):
        return tuple(pattern.converters)
    if isinstance(pattern, RegexPattern):
        return tuple(pattern.regex.groupindex)
    return ()


def _walk(patterns, prefix: str, namespace: str, params: tuple[str, ...]) -> Iterator[Route]:
    for entry in patterns:
        text = prefix + _text(entry.pattern)
        captured = params + _params(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, text, inner, captured)
        elif isinstance(entry, URLPattern):
            yield Route(f"{namespace}{entry.name}" if entry.name else None, text, captured)


def api_routes(urlconf: Any = None) -> list[Route]:
    """Every URL pattern under ``/api/v1/`` of ``urlconf`` (default: ``ROOT_URLCONF``), in
    resolver order."""
    resolver = get_resolver(urlconf)
    return [r for r in _walk(resolver.url_patterns, "", "", ()) if r.pattern.startswith(API_PREFIX)]


# --------------------------------------------------------------------------- the table's vocabulary
World = Any  # the fixture objects of test_contract.py (organizations, users, devices, …)
Body = Callable[[World], Any]


@dataclass(frozen=True)
class Seen:
    """A list must show the world's object ``attribute`` to exactly ``personas`` (an id check
    on the list's items, paginated or not)."""

    attribute: str
    personas: frozenset[str]


def seen(attribute: str, *personas: str) -> Seen:
    """``seen("device_a", MEMBER, ADMIN)``: the list shows device_a to member and admin only."""
    return Seen(attribute, frozenset(personas))


@dataclass(frozen=True)
class Call:
    """One HTTP method of one route: the action it stands for, the exact status per persona,
    and what to send.

    ``body(world)`` is a valid body (so a status reflects permission, not validation);
    ``invalid=(body, field)`` a body an authorised caller gets a 400 for, naming ``field`` (or
    ``"detail"``); ``query(world)`` a query string (``"organization_slug=org-a"``); ``shows``
    the list checks (``seen(...)``).
    """

    action: str
    statuses: Mapping[str, int]
    body: Body | None = None
    invalid: tuple[Body, str] | None = None
    query: Callable[[World], str] | None = None
    shows: tuple[Seen, ...] = ()


def call(
    action: str,
    *,
    body: Body | None = None,
    invalid: tuple[Body, str] | None = None,
    query: Callable[[World], str] | None = None,
    shows: tuple[Seen, ...] = (),
    **statuses: int,
) -> Call:
    """``call("retrieve", anonymous=401, outsider=404, member=200, admin=200)``; personas
    beyond the four (``device_key=200``) are allowed where an entry defines them."""
    return Call(action, statuses, body, invalid, query, shows)


def refused(**statuses: int) -> dict[str, int]:
    """The statuses of every method an entry does not list (see ``NOT_ALLOWED``)."""
    return statuses


# Behind authentication, DRF checks permissions before it looks for a handler: anonymous
# callers get the authentication refusal (401), everyone else 405.
NOT_ALLOWED = refused(anonymous=401, outsider=405, member=405, admin=405)
# A view without authentication (or with its own) answers 405 to everyone.
NOT_ALLOWED_TO_ANYONE = refused(anonymous=405, outsider=405, member=405, admin=405)


@dataclass(frozen=True)
class Entry:
    """The contract of one URL name: ``calls`` per HTTP method, ``others`` for every method of
    ``METHODS`` not in ``calls``, ``kwargs(world)`` the URL's arguments; ``json_errors``: every
    error but a 400 is JSON with a ``detail`` (off for a route that serves another format, such
    as an OpenAPI document or an HTML page)."""

    calls: Mapping[str, Call]
    others: Mapping[str, int] = field(default_factory=lambda: NOT_ALLOWED)
    kwargs: Callable[[World], dict] = lambda world: {}
    json_errors: bool = True

    def personas(self) -> list[str]:
        """The four personas, then any extra one the entry names (in order of appearance)."""
        found = list(PERSONAS)
        for statuses in [c.statuses for c in self.calls.values()] + [self.others]:
            found += [p for p in statuses if p not in found]
        return found

    def expected(self, method: str) -> Mapping[str, int]:
        """Persona -> status for ``method`` (HEAD: as GET)."""
        if method == "HEAD":
            method = "GET"
        return self.calls[method].statuses if method in self.calls else self.others


def entry(
    *,
    kwargs: Callable[[World], dict] | None = None,
    others: Mapping[str, int] = NOT_ALLOWED,
    json_errors: bool = True,
    **calls: Call,
) -> Entry:
    """``entry(kwargs=pk("device_a"), GET=call(...), DELETE=call(...))``."""
    return Entry(calls, others, kwargs or (lambda world: {}), json_errors)


def pk(attribute: str) -> Callable[[World], dict]:
    """URL kwargs ``{"pk": world.<attribute>.pk}``."""
    return lambda world: {"pk": getattr(world, attribute).pk}


# --------------------------------------------------------------------------- checks of the table
def coverage_problems(routes: list[Route], contract: Mapping[str, Entry]) -> list[str]:
    """What is wrong between the routes and the table, one sentence per problem (empty: none)."""
    problems = []
    names = {r.name for r in routes if r.name}
    for route in routes:
        if route.name is None:
            problems.append(
                f"/{route.pattern} has no URL name: give it one (path(..., name=...) or a router "
                f"basename) and add CONTRACT[name] = entry(...) in tests/api/test_contract.py"
            )
    for name in sorted(names - set(contract)):
        patterns = ", ".join(f"/{r.pattern}" for r in routes if r.name == name)
        problems.append(
            f"route {name!r} ({patterns}) has no contract entry: add CONTRACT[{name!r}] = "
            f"entry(...) in tests/api/test_contract.py with the status of every method for "
            f"{', '.join(PERSONAS)}"
        )
    for name in sorted(set(contract) - names):
        problems.append(
            f"CONTRACT[{name!r}] names no route under /{API_PREFIX}: remove the entry or fix its name"
        )
    return problems


def entry_problems(name: str, item: Entry) -> list[str]:
    """Gaps in one entry: a persona without a status, an unknown method or action, a 2xx
    create/update without a body."""
    problems = []
    personas = item.personas()
    for method, statuses in [*((m, c.statuses) for m, c in item.calls.items()), ("others", item.others)]:
        missing = [p for p in personas if p not in statuses]
        if missing:
            problems.append(f"{name} {method}: no status for {', '.join(missing)}")
    for method, spec in item.calls.items():
        if method not in METHODS:
            problems.append(f"{name}: {method} is not one of {METHODS}")
            continue
        if STANDARD_ACTIONS.get(spec.action, method) != method:
            problems.append(f"{name} {method}: {spec.action!r} is a {STANDARD_ACTIONS[spec.action]} action")
        writes = method in ("PUT", "PATCH") or spec.action == "create"
        if writes and spec.body is None and any(200 <= s < 300 for s in spec.statuses.values()):
            problems.append(f"{name} {method}: a write that succeeds needs a valid body")
        if spec.shows and spec.action != "list":
            problems.append(f"{name} {method}: shows= is for list actions")
    return problems


def listed_items(body: Any) -> list[dict]:
    """The items of a list response: a bare JSON list, or a page ``{"results": [...]}``."""
    if isinstance(body, dict) and "results" in body:
        body = body["results"]
    assert isinstance(body, list), f"a list response is a list or a page with results, not {body!r}"
    return body
