"""Tokenizer and recursive-descent parser for OData `$filter` text: syntax only.

BC parses URLs with Microsoft.OData.Core (ODL), so the grammar, the operator precedence (`not` binds
tighter than a comparison, as in the OData ABNF) and the error wording follow ODL: a malformed
filter fails with the message and character position BC would give. This module knows nothing of
entity types or SQL; `query` binds the tree it builds to the model.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from dataclasses import dataclass
from typing import TypeAlias

# Deeper nesting than this is refused instead of exhausting Python's stack (ODL has a limit too).
MAX_DEPTH = 100
_INT64 = 2**63

COMPARISONS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_KEYWORDS = COMPARISONS | {"and", "or", "not", "in"}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<punct>[(),])
  | (?P<string>'(?:[^']|'')*')
  | (?P<enum>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+'(?:[^']|'')*')
  | (?P<guid>[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12})(?![\w.:+-])
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
      (?![\w.:+-])
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\w.:+-])
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.:+-])
  | (?P<name>[A-Za-z_]\w*)(?![\w.:+-])
  | (?P<word>[\w.:+-]+)
  | (?P<quote>')
    """,
    re.VERBOSE | re.ASCII,
)
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:Z|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


# ODL's messages (Microsoft.OData.Core resources), filled with a position and the filter text.
SYNTAX_ERROR = "Syntax error at position {pos} in '{text}'."
UNTERMINATED = "There is an unterminated string literal at position {pos} in '{text}'."
EXPRESSION_EXPECTED = "Expression expected at position {pos} in '{text}'."
OPERATOR_EXPECTED = "')' or operator expected at position {pos} in '{text}'."
COMMA_EXPECTED = "')' or ',' expected at position {pos} in '{text}'."
PAREN_EXPECTED = "'(' expected at position {pos} in '{text}'."
TOO_DEEP = "Recursion depth exceeded allowed limit."
_EDM_DATE = "Edm.Date"
_EDM_DATETIME = "Edm.DateTimeOffset"


class FilterSyntaxError(ValueError):
    """Malformed `$filter` text; the message names the position, as ODL's messages do."""


@dataclass(frozen=True)
class Token:
    """One lexical token; `kind` is a group name of the token pattern, or `end`."""

    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class Value:
    """A literal. `kind`: string, enum, guid, date, datetime, int, decimal, bool or null.

    `inexact` marks a datetime with non-zero digits below the millisecond, which the store cannot
    hold; `type_name` is the qualifier of an enum literal (`Microsoft.NAV.x'Draft'`).
    """

    kind: str
    value: object
    pos: int
    inexact: bool = False
    type_name: str = ""


@dataclass(frozen=True)
class Ident:
    """A bare name: a property of the entity type (or a mistake the binder reports)."""

    name: str
    pos: int


@dataclass(frozen=True)
class Call:
    """A function call such as `contains(displayName,'x')`."""

    name: str
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class Not:
    """`not` applied to its operand."""

    operand: Node
    pos: int


@dataclass(frozen=True)
class Compare:
    """A comparison `left op right`, `op` one of eq ne gt ge lt le."""

    op: str
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True)
class Logical:
    """A chain of `and` or `or`; n-ary so that long chains do not nest deeply."""

    op: str
    operands: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class In:
    """`operand in (v1, v2, ...)`."""

    operand: Node
    items: tuple[Node, ...]
    pos: int


Node: TypeAlias = "Value | Ident | Call | Not | Compare | Logical | In"


def _syntax(template: str, pos: int, text: str) -> FilterSyntaxError:
    return FilterSyntaxError(template.format(pos=pos, text=text))


def tokenize(text: str) -> list[Token]:
    """Split filter text into tokens, dropping white space; the last token is `end`."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            msg = (
                f"Syntax error: character '{text[pos]}' is not valid at position {pos} in '{text}'."
            )
            raise FilterSyntaxError(msg)
        kind = match.lastgroup or ""
        if kind in {"quote", "word"}:
            raise _syntax(UNTERMINATED if kind == "quote" else SYNTAX_ERROR, pos, text)
        if kind != "space":
            tokens.append(Token(kind, match.group(kind), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unrecognized(edm_type: str, token: Token, text: str) -> FilterSyntaxError:
    return FilterSyntaxError(
        f"Unrecognized '{edm_type}' literal '{token.text}' at '{token.pos}' in '{text}'."
    )


def _datetime_value(token: Token, text: str) -> Value:
    """A datetime literal in UTC, truncated to microseconds; `inexact` if below-ms digits remain."""
    match = _DATETIME.fullmatch(token.text)
    if match is None:  # pragma: no cover - the token pattern already guarantees the shape
        raise _unrecognized(_EDM_DATETIME, token, text)
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    fraction = fraction or ""
    try:
        offset = dt.timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
        zone = dt.timezone(-offset if sign == "-" else offset)
        moment = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction + "000000")[:6]),
            tzinfo=zone,
        ).astimezone(dt.timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise _unrecognized(_EDM_DATETIME, token, text) from exc
    return Value("datetime", moment, token.pos, inexact=fraction[3:].strip("0") != "")


def _literal(token: Token, text: str) -> Value:  # noqa: PLR0911 - one return per literal kind
    """The value of a literal token."""
    if token.kind == "string":
        return Value("string", token.text[1:-1].replace("''", "'"), token.pos)
    if token.kind == "enum":
        type_name, _, quoted = token.text.partition("'")
        member = quoted[:-1].replace("''", "'")
        return Value("enum", member, token.pos, type_name=type_name)
    if token.kind == "guid":
        return Value("guid", token.text.lower(), token.pos)
    if token.kind == "date":
        try:
            return Value("date", dt.date.fromisoformat(token.text), token.pos)
        except ValueError as exc:
            raise _unrecognized(_EDM_DATE, token, text) from exc
    if token.kind == "datetime":
        return _datetime_value(token, text)
    if any(c in token.text for c in ".eE"):
        return Value("decimal", decimal.Decimal(token.text), token.pos)
    number = int(token.text)
    if -_INT64 <= number < _INT64:
        return Value("int", number, token.pos)
    return Value("decimal", decimal.Decimal(number), token.pos)


_KEYWORD_LITERALS: dict[str, tuple[str, object]] = {
    "true": ("bool", True),
    "false": ("bool", False),
    "null": ("null", None),
}
_LITERAL_KINDS = frozenset({"string", "enum", "guid", "date", "datetime", "number"})


class _Parser:
    """Precedence, loosest first: or, and, comparison (eq ... le, in), not, primary."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_keyword(self, word: str) -> bool:
        return self.token.kind == "name" and self.token.text == word

    def at_punct(self, char: str) -> bool:
        return self.token.kind == "punct" and self.token.text == char

    def error(self, template: str) -> FilterSyntaxError:
        return _syntax(template, self.token.pos, self.text)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterSyntaxError(TOO_DEEP)

    def parse(self) -> Node:
        node = self.logical("or")
        if self.token.kind != "end":
            raise self.error(OPERATOR_EXPECTED)
        return node

    def logical(self, op: str) -> Node:
        pos = self.token.pos
        operands = [self.comparison() if op == "and" else self.logical("and")]
        while self.at_keyword(op):
            self.advance()
            operands.append(self.comparison() if op == "and" else self.logical("and"))
        return operands[0] if len(operands) == 1 else Logical(op, tuple(operands), pos)

    def comparison(self) -> Node:
        left = self.unary()
        token = self.token
        if token.kind == "name" and token.text in COMPARISONS:
            self.advance()
            return Compare(token.text, left, self.unary(), token.pos)
        if self.at_keyword("in"):
            self.advance()
            if not self.at_punct("("):
                raise self.error(PAREN_EXPECTED)
            return In(left, self.arguments(), token.pos)
        return left

    def unary(self) -> Node:
        if not self.at_keyword("not"):
            return self.primary()
        pos = self.advance().pos
        self.enter()
        operand = self.unary()
        self.depth -= 1
        return Not(operand, pos)

    def primary(self) -> Node:
        token = self.token
        if self.at_punct("("):
            self.advance()
            self.enter()
            node = self.logical("or")
            self.depth -= 1
            if not self.at_punct(")"):
                raise self.error(OPERATOR_EXPECTED)
            self.advance()
            return node
        if token.kind in _LITERAL_KINDS:
            self.advance()
            return _literal(token, self.text)
        if token.kind != "name" or token.text in _KEYWORDS:
            raise self.error(EXPRESSION_EXPECTED)
        self.advance()
        if token.text in _KEYWORD_LITERALS:
            kind, value = _KEYWORD_LITERALS[token.text]
            return Value(kind, value, token.pos)
        if self.at_punct("("):
            return Call(token.text, self.arguments(), token.pos)
        return Ident(token.text, token.pos)

    def arguments(self) -> tuple[Node, ...]:
        """A parenthesised, comma-separated list; the current token is its `(`."""
        self.advance()
        self.enter()
        items: list[Node] = []
        if not self.at_punct(")"):
            items.append(self.logical("or"))
            while self.at_punct(","):
                self.advance()
                items.append(self.logical("or"))
        if not self.at_punct(")"):
            raise self.error(COMMA_EXPECTED)
        self.advance()
        self.depth -= 1
        return tuple(items)


def parse_filter(text: str) -> Node:
    """Parse `$filter` text into a tree.

    Raises:
        FilterSyntaxError: the text is not a well-formed expression.
    """
    return _Parser(text).parse()
