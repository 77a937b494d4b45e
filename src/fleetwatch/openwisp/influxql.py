"""The subset of InfluxQL that OpenWISP Monitoring's chart configurations and callers use,
parsed into plain data so that any Fleetwatch backend can answer it.

Supported (anything else is refused with ``InfluxQLError`` naming what and where)::

    SELECT <item>[, <item>…] FROM [<rp>.]<measurement>[, …]
      [WHERE <condition> [AND|OR <condition>…]]
      [GROUP BY time(<interval>)[, <tag>] | GROUP BY <tag> | GROUP BY *]
      [fill(null|none|0)] [ORDER BY time [ASC|DESC]] [LIMIT <n>] [tz('<zone>')]

    <item>      := <expr> [AS <alias>]
    <expr>      := <call> | <field> | * , optionally followed by <op> <number> (* / + -)
    <call>      := MEAN|SUM|COUNT|MODE|MIN|MAX|LAST|FIRST|MEDIAN(<field>|*)
                 | COUNT(DISTINCT(<field>)) | DISTINCT(<field>)
                 | ROUND(<call> [<op> <number>]) | CUMULATIVE_SUM(<call>)
    <condition> := time >= '<time>' | time <= '<time>' | time > now() - <duration> …
                 | <tag or field> =|!=|<|>|<=|>=|=~|!~ '<string>'|<number>|/regex/
                 | ( <condition> OR <condition> … )
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


class InfluxQLError(ValueError):
    pass


TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<ident>"(?:[^"\\]|\\.)*")
  | (?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?:ns|u|µs|ms|s|m|h|d|w)?)
  | (?P<op>>=|<=|!=|<>|=~|!~|[=<>*/+\-(),.;])
  | (?P<word>[A-Za-z_][A-Za-z0-9_\-]*)
    """,
    re.VERBOSE,
)

AGGREGATES = {
    "MEAN",
    "SUM",
    "COUNT",
    "MODE",
    "MIN",
    "MAX",
    "LAST",
    "FIRST",
    "MEDIAN",
    "DISTINCT",
    "SPREAD",
    "STDDEV",
}
DURATION_UNITS = {
    "ns": 1e-9,
    "u": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
}


# Microseconds in one unit of an epoch time literal (``1700000000000ms``); ns is divided instead.
_EPOCH_MICROS = {"u": 1, "µs": 1, "ms": 1000, "s": 10**6, "m": 60 * 10**6, "h": 3600 * 10**6}
_EPOCH_MICROS.update(d=86400 * 10**6, w=7 * 86400 * 10**6)


@dataclass
class Token:
    kind: str
    text: str
    position: int


REGEX = re.compile(r"/(?:[^/\\]|\\.)+/")


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        # A /regex/ only follows =~ or !~ (elsewhere / is a division).
        if tokens and tokens[-1].text in ("=~", "!~"):
            while position < len(text) and text[position].isspace():
                position += 1
            match = REGEX.match(text, position)
            if match is not None:
                tokens.append(Token("regex", match.group(), position))
                position = match.end()
                continue
        match = TOKEN.match(text, position)
        if match is None:
            raise InfluxQLError(f"unexpected character {text[position]!r} at position {position}")
        if match.lastgroup != "ws":
            tokens.append(Token(match.lastgroup, match.group(), position))
        position = match.end()
    return tokens


def unquote(token: Token) -> str:
    body = token.text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


@dataclass
class Call:
    fn: str  # MEAN, SUM, COUNT_DISTINCT, MODE, … ; "" for a plain field
    field: str  # a field name or "*"
    # Arithmetic after the aggregate, in order: ``[("/", 1000000000.0)]`` (applied as InfluxDB
    # does, a division stays a division: 6e10 / 1e9 is 60.0, not 60.00000000000001).
    ops: list[tuple[str, float]] = field(default_factory=list)
    round: bool = False
    cumulative: bool = False


@dataclass
class Item:
    call: Call
    alias: str


@dataclass
class Condition:
    key: str  # "time", a tag or a field
    op: str
    value: Any  # str, number, datetime, or a compiled regex


@dataclass
class Select:
    items: list[Item]
    retention: str | None
    measurements: list[str]
    conditions: list[Condition] = field(default_factory=list)
    alternatives: list[list[Condition]] = field(default_factory=list)  # (a OR b) groups, ANDed
    group_time: str | None = None
    group_tag: str | None = None
    group_all: bool = False
    order: str = "asc"
    limit: int | None = None
    timezone: str | None = None
    # fill(): "null" (InfluxDB's default), "none", "previous", "linear" or a number as text
    fill: str = "null"

    @property
    def is_aggregate(self) -> bool:
        return any(item.call.fn for item in self.items)


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|u|µs|ms|s|m|h|d|w)", text)
    if match is None:
        raise InfluxQLError(f"invalid duration {text!r}")
    return float(match.group(1)) * DURATION_UNITS[match.group(2)]


def parse_time_literal(text: str) -> datetime:
    value = text.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InfluxQLError(f"invalid time {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text.strip().rstrip(";"))
        self.i = 0

    # ------------------------------------------------------------------ helpers

    def peek(self, offset: int = 0) -> Token | None:
        index = self.i + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text.upper() in words

    def at_op(self, *ops: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "op" and token.text in ops

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise InfluxQLError("the query ends too early")
        self.i += 1
        return token

    def expect_word(self, *words: str) -> Token:
        if not self.at_word(*words):
            raise self.error(f"expected {', '.join(words)}")
        return self.take()

    def expect_op(self, op: str) -> Token:
        if not self.at_op(op):
            raise self.error(f"expected {op}")
        return self.take()

    def error(self, message: str) -> InfluxQLError:
        """Worded as InfluxDB words its own (``found X, expected Y at line 1, char N``)."""
        token = self.peek()
        if token is None:
            return InfluxQLError(f"found EOF, {message} at line 1, char {len(self.text) + 1}")
        return InfluxQLError(f"found {token.text}, {message} at line 1, char {token.position + 1}")

    def name(self) -> str:
        token = self.take()
        if token.kind == "ident":
            return unquote(token)
        if token.kind == "word":
            return token.text
        self.i -= 1
        raise self.error("expected a name")

    # ------------------------------------------------------------------ grammar

    def parse(self) -> Select:
        self.expect_word("SELECT")
        items = [self.item()]
        while self.at_op(","):
            self.take()
            items.append(self.item())
        if self.at_word("INTO"):
            raise self.error("SELECT … INTO is not supported (queries are read-only)")
        self.expect_word("FROM")
        if self.at_op("("):
            raise self.error("subqueries are not supported")
        retention, measurements = self.sources()
        select = Select(items=items, retention=retention, measurements=measurements)
        if self.at_word("WHERE"):
            self.take()
            self.where(select)
        while self.peek() is not None:
            if self.at_word("GROUP"):
                self.take()
                self.expect_word("BY")
                self.group_by(select)
            elif self.at_word("FILL"):
                self.take()
                self.expect_op("(")
                token = self.take()
                if token.kind == "op" and token.text == "-" and self.peek() and self.peek().kind == "number":
                    token = Token("number", "-" + self.take().text, token.position)
                if token.kind == "number" or (
                    token.kind == "word" and token.text.lower() in ("null", "none", "previous", "linear")
                ):
                    select.fill = token.text.lower()
                else:
                    raise InfluxQLError(
                        f"fill() takes null, none, previous, linear or a number, not {token.text!r}"
                    )
                self.expect_op(")")
            elif self.at_word("ORDER"):
                self.take()
                self.expect_word("BY")
                if self.name().lower() != "time":
                    raise self.error("only ORDER BY time is supported")
                if self.at_word("ASC", "DESC"):
                    select.order = self.take().text.lower()
            elif self.at_word("LIMIT"):
                self.take()
                token = self.take()
                if token.kind != "number" or not token.text.isdigit():
                    raise InfluxQLError(f"LIMIT needs an integer, got {token.text!r}")
                select.limit = int(token.text)
            elif self.at_word("TZ"):
                self.take()
                self.expect_op("(")
                token = self.take()
                if token.kind != "string":
                    raise InfluxQLError("tz() needs a quoted time zone name")
                select.timezone = unquote(token)
                self.expect_op(")")
            else:
                raise self.error("unsupported clause")
        return select

    def item(self) -> Item:
        call = self.expression()
        alias = None
        if self.at_word("AS"):
            self.take()
            alias = self.name()
        if alias is None:
            alias = call.fn.lower().replace("count_distinct", "count") if call.fn else call.field
        return Item(call, alias)

    def expression(self) -> Call:
        call = self.term()
        while self.at_op("*", "/", "+", "-"):
            op = self.take().text
            token = self.take()
            if token.kind != "number":
                raise InfluxQLError(f"arithmetic needs a number after {op!r}, got {token.text!r}")
            call.ops.append((op, float(token.text)))
        return call

    def term(self) -> Call:
        if self.at_op("*"):
            self.take()
            return Call("", "*")
        if self.at_word("ROUND"):
            self.take()
            self.expect_op("(")
            inner = self.expression()
            self.expect_op(")")
            inner.round = True
            return inner
        if self.at_word("CUMULATIVE_SUM"):
            self.take()
            self.expect_op("(")
            inner = self.expression()
            self.expect_op(")")
            inner.cumulative = True
            return inner
        token = self.peek()
        if (
            token is not None
            and token.kind == "word"
            and token.text.upper() in AGGREGATES
            and self.peek(1)
            and self.peek(1).text == "("
        ):
            fn = self.take().text.upper()
            self.expect_op("(")
            if fn == "COUNT" and self.at_word("DISTINCT"):
                self.take()
                self.expect_op("(")
                argument = self.argument()
                self.expect_op(")")
                fn = "COUNT_DISTINCT"
            else:
                argument = self.argument()
            self.expect_op(")")
            return Call(fn, argument)
        return Call("", self.argument())

    def argument(self) -> str:
        if self.at_op("*"):
            self.take()
            return "*"
        return self.name()

    def sources(self) -> tuple[str | None, list[str]]:
        retention, measurements = None, []
        while True:
            first = self.name()
            if self.at_op("."):
                self.take()
                retention, first = first, self.name()
            measurements.append(first)
            if not self.at_op(","):
                return retention, measurements
            self.take()

    def where(self, select: Select) -> None:
        while True:
            if self.at_op("("):
                self.take()
                group = [self.condition()]
                while self.at_word("OR", "AND"):
                    joiner = self.take().text.upper()
                    if joiner == "AND":
                        raise self.error("only OR is supported inside parentheses")
                    group.append(self.condition())
                self.expect_op(")")
                select.alternatives.append(group)
            else:
                select.conditions.append(self.condition())
            if self.at_word("AND"):
                self.take()
                continue
            if self.at_word("OR"):
                raise self.error("OR is only supported inside parentheses")
            return

    def condition(self) -> Condition:
        key = self.name()
        token = self.take()
        if token.kind != "op" or token.text not in ("=", "!=", "<>", "<", ">", "<=", ">=", "=~", "!~"):
            raise InfluxQLError(f"unsupported operator {token.text!r} at position {token.position}")
        op = "!=" if token.text == "<>" else token.text
        value_token = self.take()
        if key.lower() == "time":
            return Condition("time", op, self.time_value(value_token))
        if value_token.kind == "string":
            value: Any = unquote(value_token)
        elif value_token.kind == "number":
            value = (
                float(value_token.text)
                if "." in value_token.text or "e" in value_token.text.lower()
                else int(value_token.text)
            )
        elif value_token.kind == "regex":
            value = re.compile(value_token.text[1:-1])
        elif value_token.kind == "word" and value_token.text.lower() in ("true", "false"):
            value = value_token.text.lower() == "true"
        else:
            raise InfluxQLError(f"unsupported value {value_token.text!r} at position {value_token.position}")
        return Condition(key, op, value)

    def time_value(self, token: Token) -> datetime:
        if token.kind == "string":
            return parse_time_literal(unquote(token))
        if token.kind == "word" and token.text.lower() == "now":
            self.expect_op("(")
            self.expect_op(")")
            moment = datetime.now(UTC)
            while self.at_op("-", "+"):
                sign = -1 if self.take().text == "-" else 1
                moment += sign * timedelta(seconds=parse_duration(self.take().text))
            return moment
        if token.kind == "number" and token.text.isdigit():
            return datetime.fromtimestamp(int(token.text) / 1e9, UTC)
        if token.kind == "number" and re.fullmatch(r"\d+(ns|u|µs|ms|s|m|h|d|w)", token.text):
            # An epoch with a unit, as Grafana's $timeFilter sends it: time >= 1700000000000ms
            number, unit = re.fullmatch(r"(\d+)(\D+)", token.text).groups()
            micros = int(number) * _EPOCH_MICROS[unit] if unit not in ("ns",) else int(number) // 1000
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
        raise InfluxQLError(f"unsupported time value {token.text!r} at position {token.position}")

    def group_by(self, select: Select) -> None:
        while True:
            if self.at_op("*"):
                self.take()
                select.group_all = True
            elif self.at_word("TIME") and self.peek(1) and self.peek(1).text == "(":
                self.take()
                self.expect_op("(")
                select.group_time = self.take().text
                if self.at_op(","):
                    raise self.error("GROUP BY time() offsets are not supported")
                self.expect_op(")")
            else:
                select.group_tag = self.name()
            if not self.at_op(","):
                return
            self.take()


def parse(text: str) -> Select:
    return Parser(text).parse()


# Statements InfluxDB has that change data, users or the schema: refused by name.
WRITING_STATEMENTS = ("DROP", "DELETE", "CREATE", "ALTER", "GRANT", "REVOKE", "KILL", "INSERT", "SET")


@dataclass
class Show:
    """A ``SHOW`` statement: what (``measurements``, ``tag keys``, ``tag values``,
    ``field keys``, ``retention policies``, ``databases``) and its clauses.

    ``key_op``/``key_value`` are SHOW TAG VALUES' ``WITH KEY`` (``=`` a name, ``!=``, ``=~``/``!~``
    a compiled regex, ``in`` a list of names); ``measurement_op``/``measurement_value`` SHOW
    MEASUREMENTS' ``WITH MEASUREMENT`` (``=`` or ``=~``); ``conditions`` the WHERE clause (ANDed).
    """

    what: str
    measurements: list[str] = field(default_factory=list)
    measurement_regex: Any = None
    measurement_op: str | None = None
    measurement_value: Any = None
    key_op: str | None = None
    key_value: Any = None
    conditions: list[Condition] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


class ShowParser(Parser):
    WHAT = {
        ("MEASUREMENTS",): "measurements",
        ("TAG", "KEYS"): "tag keys",
        ("TAG", "VALUES"): "tag values",
        ("FIELD", "KEYS"): "field keys",
        ("RETENTION", "POLICIES"): "retention policies",
        ("DATABASES",): "databases",
    }

    def parse(self) -> Show:  # type: ignore[override]
        self.expect_word("SHOW")
        words = []
        for _ in range(2):
            if self.peek() is not None and self.peek().kind == "word":
                words.append(self.peek().text.upper())
                if tuple(words) in self.WHAT:
                    break
                self.take()
        what = self.WHAT.get(tuple(words))
        if what is None:
            supported = ", ".join(f"SHOW {' '.join(k)}" for k in self.WHAT)
            raise self.error(f"only {supported} are supported")
        self.take()
        show = Show(what)
        if what == "retention policies":
            if self.at_word("ON"):
                self.take()
                self.name()
            self.finish(show, clauses=())
            return show
        if self.at_word("ON"):
            self.take()
            self.name()
        if self.at_word("FROM"):
            if what == "measurements":
                raise self.error("expected WITH, WHERE or LIMIT")
            self.take()
            if self.at_op("("):
                raise self.error("subqueries are not supported")
            if self.peek() is not None and self.peek().kind == "op" and self.peek().text == "/":
                raise self.error("FROM /regex/ is not supported")
            show.measurements = self.sources()[1]
        if self.at_word("WITH"):
            self.take()
            if what == "measurements":
                self.expect_word("MEASUREMENT")
                token = self.take()
                if token.text not in ("=", "=~"):
                    raise InfluxQLError(f"WITH MEASUREMENT takes = or =~, not {token.text!r}")
                show.measurement_op = token.text
                show.measurement_value = self.regex_or_name(token.text == "=~")
            elif what == "tag values":
                self.expect_word("KEY")
                token = self.take()
                if token.kind == "word" and token.text.upper() == "IN":
                    self.expect_op("(")
                    names = [self.name()]
                    while self.at_op(","):
                        self.take()
                        names.append(self.name())
                    self.expect_op(")")
                    show.key_op, show.key_value = "in", names
                elif token.text in ("=", "!=", "<>", "=~", "!~"):
                    show.key_op = "!=" if token.text == "<>" else token.text
                    show.key_value = self.regex_or_name(token.text in ("=~", "!~"))
                else:
                    raise InfluxQLError(f"WITH KEY takes =, !=, =~, !~ or IN, not {token.text!r}")
            else:
                raise self.error("unexpected WITH")
        elif what == "tag values":
            raise self.error("expected WITH KEY")
        self.finish(show, clauses=("WHERE", "LIMIT", "OFFSET"))
        return show

    def regex_or_name(self, regex: bool):
        if regex:
            token = self.take()
            if token.kind != "regex":
                raise InfluxQLError(f"expected a /regex/, found {token.text!r}")
            return compile_regex(token.text[1:-1])
        return self.name()

    def finish(self, show: Show, clauses: tuple[str, ...]) -> None:
        while self.peek() is not None:
            if "WHERE" in clauses and self.at_word("WHERE"):
                self.take()
                select = Select(items=[], retention=None, measurements=[])
                self.where(select)
                if select.alternatives:
                    raise InfluxQLError("(… OR …) is not supported in SHOW statements")
                show.conditions = select.conditions
            elif "LIMIT" in clauses and self.at_word("LIMIT", "OFFSET"):
                word = self.take().text.upper()
                token = self.take()
                if token.kind != "number" or not token.text.isdigit():
                    raise InfluxQLError(f"{word} needs an integer, got {token.text!r}")
                if word == "LIMIT":
                    show.limit = int(token.text)
                else:
                    show.offset = int(token.text)
            else:
                raise self.error("unsupported clause")


def compile_regex(body: str) -> re.Pattern:
    """A /regex/'s body as Python compiles it (InfluxDB's are Go's RE2: the same for what
    Grafana sends, ``^(a|b\\.c)$``), or InfluxQLError."""
    try:
        return re.compile(body)
    except re.error as exc:
        raise InfluxQLError(f"invalid regular expression /{body}/: {exc}") from None


def parse_statement(text: str) -> Select | Show:
    """One statement of a ``/query`` request: a :class:`Select` or a :class:`Show`.

    Raises :class:`InfluxQLError` for anything outside the subset, naming it: statements that
    write (``DROP``, ``DELETE``, ``CREATE``, ``ALTER``, ``GRANT`` …), ``SELECT … INTO``, subqueries.
    """
    tokens = tokenize(text.strip().rstrip(";"))
    if not tokens:
        raise InfluxQLError("empty statement")
    first = tokens[0].text.upper()
    if first in WRITING_STATEMENTS:
        raise InfluxQLError(f"{first} statements are not supported: /query is read-only")
    if first == "SHOW":
        return ShowParser(text).parse()
    if first == "SELECT":
        return parse(text)
    raise InfluxQLError(
        f"found {tokens[0].text}, expected SELECT or SHOW at line 1, char {tokens[0].position + 1}"
    )


def split_statements(text: str) -> list[str]:
    """Statements separated by ``;`` outside quotes."""
    parts, current, quote = [], [], None
    for char in text:
        if quote:
            current.append(char)
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            current.append(char)
        elif char == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]
