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
        self.expect_word("FROM")
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
                self.take()
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
