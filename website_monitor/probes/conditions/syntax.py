"""The condition language's syntax: names, the tree, and the parser (see the package docstring).

Every operand, operator and literal is checked when the expression is parsed,
so a typo fails at start with the column it is at, not at the first check.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any, Union

from website_monitor.errors import ConfigError

MAX_EXPRESSION_LENGTH = 1000
HINT = (
    "e.g. --expect 'status == 200', 'ttfb < 200ms', 'body.json.status == \"UP\"';"
    " see docs/checks.md"
)
OPERATORS = (
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "~",
    "!~",
    "in",
    "not in",
    "contains",
    "not contains",
)
_ORDERING = ("<", "<=", ">", ">=")
_UNITS_MS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}

#: Kinds of check a name applies to.
HTTP = frozenset({"http", "https"})
ALL = frozenset({"http", "https", "tcp", "dns"})


@dataclasses.dataclass(frozen=True)
class Name:
    """An operand's root: what type its values have and which checks have it."""

    type: str  # number, duration, text, json, list
    kinds: frozenset[str]
    description: str


NAMES: dict[str, Name] = {
    "status": Name("number", HTTP, "the HTTP status"),
    "total": Name("duration", ALL, "the whole check"),
    "dns": Name("duration", ALL, "name resolution"),
    "connect": Name("duration", ALL, "the TCP connect"),
    "tls": Name("duration", HTTP, "the TLS handshake"),
    "ttfb": Name("duration", HTTP | {"tcp"}, "time to the first byte"),
    "cert_days": Name("number", frozenset({"https"}), "days left on the certificate"),
    "body": Name("text", ALL, "the body (TCP: what was received; DNS: the answers)"),
    "header": Name("text", HTTP, "a response header: header.NAME"),
    "answers": Name("list", frozenset({"dns"}), "the DNS answers"),
}


# --- the syntax tree ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Operand:
    root: str
    path: tuple[str, ...]
    text: str

    @property
    def type(self) -> str:
        return "json" if self.root == "body" and self.path else NAMES[self.root].type


@dataclasses.dataclass(frozen=True)
class Comparison:
    operand: Operand
    operator: str
    literal: Any
    #: The operator and literal as written, for reasons ("expected < 200ms").
    expected: str
    pattern: re.Pattern[str] | None = None


@dataclasses.dataclass(frozen=True)
class Not:
    term: Node


@dataclasses.dataclass(frozen=True)
class Junction:
    operator: str  # and, or
    terms: tuple[Node, ...]


Node = Union[Comparison, Not, Junction]  # noqa: UP007 - a runtime alias on Python 3.10


@dataclasses.dataclass(frozen=True)
class Condition:
    """One `--expect` expression: its text as given and its tree."""

    source: str
    tree: Node

    def names(self) -> set[str]:
        """The names (status, body, …) it reads."""
        return _names(self.tree)


def _names(node: Node) -> set[str]:
    if isinstance(node, Comparison):
        return {node.operand.root}
    if isinstance(node, Not):
        return _names(node.term)
    return set().union(*(_names(term) for term in node.terms))


# --- parsing -----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<operand>[A-Za-z_][A-Za-z0-9_-]*(?:\.(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"))*)
    |(?P<number>-?\d+(?:\.\d+)?(?:[A-Za-z]+)?)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<symbol>==|!=|<=|>=|!~|[<>~()\[\],=!])""",
    re.VERBOSE,
)
_SEGMENT = re.compile(r'\.(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)")')


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str  # operand, number, string, symbol, end
    text: str
    at: int


def _tokens(source: str) -> list[_Token]:
    found: list[_Token] = []
    at = 0
    while at < len(source):
        match = _TOKEN.match(source, at)
        if match is None:
            raise _SyntaxError(f"unexpected character {source[at]!r}", at)
        kind = match.lastgroup or ""
        if kind != "space":
            found.append(_Token(kind, match.group(), at))
        at = match.end()
    found.append(_Token("end", "", len(source)))
    return found


class _SyntaxError(Exception):
    def __init__(self, message: str, at: int) -> None:
        super().__init__(message)
        self.message = message
        self.at = at


def parse(source: str) -> Condition:
    """The condition `source` describes, or a ConfigError saying where it goes wrong."""
    text = source.strip()
    if not text:
        raise ConfigError("--expect is empty", hint=HINT)
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ConfigError(
            f"--expect is longer than {MAX_EXPRESSION_LENGTH} characters", hint="split it up"
        )
    try:
        parser = _Parser(text)
        tree = parser.expression()
        parser.expect_end()
    except _SyntaxError as exc:
        rest = text[exc.at : exc.at + 20]
        where = f"column {exc.at + 1} ({rest!r})" if rest else "end"
        raise ConfigError(
            f"invalid --expect {text!r} at {where}: {exc.message}", hint=HINT
        ) from None
    return Condition(text, tree)


def parse_all(sources: Sequence[str]) -> tuple[Condition, ...]:
    return tuple(parse(source) for source in sources)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.at = 0

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.at + offset, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.at += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token.kind == "operand" and token.text == word:
            self.at += 1
            return True
        return False

    def symbol(self, text: str) -> bool:
        token = self.peek()
        if token.kind == "symbol" and token.text == text:
            self.at += 1
            return True
        return False

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind != "end":
            raise _SyntaxError(f"expected 'and', 'or' or the end, got {token.text!r}", token.at)

    def expression(self) -> Node:
        terms = [self.disjunct()]
        while self.keyword("or"):
            terms.append(self.disjunct())
        return terms[0] if len(terms) == 1 else Junction("or", tuple(terms))

    def disjunct(self) -> Node:
        terms = [self.term()]
        while self.keyword("and"):
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else Junction("and", tuple(terms))

    def term(self) -> Node:
        if self.keyword("not"):
            return Not(self.term())
        if self.symbol("("):
            inner = self.expression()
            token = self.peek()
            if not self.symbol(")"):
                raise _SyntaxError(f"expected ')', got {token.text or 'the end'!r}", token.at)
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        operand = self.operand()
        start = self.peek().at
        operator = self.operator()
        literal_at = self.peek().at
        literal = self.literal(operand, operator)
        expected = self.source[start : self.peek().at].strip()
        pattern = None
        if operator in ("~", "!~"):
            try:
                pattern = re.compile(literal)
            except re.error as exc:
                raise _SyntaxError(f"invalid regular expression: {exc}", literal_at) from None
        return Comparison(operand, operator, literal, expected, pattern)

    def operand(self) -> Operand:
        token = self.take()
        if token.kind != "operand" or token.text in ("and", "or", "not", "in", "contains"):
            raise _SyntaxError(
                f"expected a name ({', '.join(NAMES)}), got {token.text or 'the end'!r}", token.at
            )
        root, _, _ = token.text.partition(".")
        if root not in NAMES:
            raise _SyntaxError(f"unknown name {root!r}; known: {', '.join(NAMES)}", token.at)
        path = tuple(
            _unescape(quoted) if quoted is not None else plain
            for plain, quoted in (m.groups() for m in _SEGMENT.finditer(token.text, len(root)))
        )
        if root == "header":
            if len(path) != 1:
                raise _SyntaxError("name a header: header.NAME, e.g. header.content-type", token.at)
        elif root == "body":
            if path and path[0] != "json":
                raise _SyntaxError("after body. comes json: body.json.a.b", token.at)
        elif path:
            raise _SyntaxError(f"{root!r} has no parts", token.at + len(root))
        return Operand(root, path, token.text)

    def operator(self) -> str:
        token = self.take()
        if token.kind == "symbol" and token.text in OPERATORS:
            return token.text
        if token.kind == "operand" and token.text in ("in", "contains"):
            return token.text
        if token.kind == "operand" and token.text == "not":
            following = self.take()
            if following.kind == "operand" and following.text in ("in", "contains"):
                return f"not {following.text}"
            token = following
        got = repr(token.text or "the end") + (" (did you mean '=='?)" if token.text == "=" else "")
        raise _SyntaxError(f"expected an operator ({', '.join(OPERATORS)}), got {got}", token.at)

    def literal(self, operand: Operand, operator: str) -> Any:
        token = self.peek()
        if operator in ("in", "not in"):
            if not self.symbol("["):
                raise _SyntaxError(f"{operator!r} takes a list: [a, b]", token.at)
            items: list[Any] = []
            if not self.symbol("]"):
                while True:
                    items.append(self.scalar(operand, "=="))
                    if self.symbol("]"):
                        break
                    if not self.symbol(","):
                        found = self.peek()
                        raise _SyntaxError(f"expected ',' or ']', got {found.text!r}", found.at)
            return tuple(items)
        return self.scalar(operand, operator)

    def scalar(self, operand: Operand, operator: str) -> Any:
        token = self.take()
        kind = operand.type
        value: Any
        if token.kind == "number":
            value = self.number(token, kind)
        elif token.kind == "string":
            value = _unescape(token.text[1:-1])
        elif token.kind == "operand" and token.text in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[token.text]
        else:
            raise _SyntaxError(
                f'expected a value (a number, "text", true, false or null),'
                f" got {token.text or 'the end'!r}",
                token.at,
            )
        _check_types(operand, operator, value, token.at)
        return value

    @staticmethod
    def number(token: _Token, kind: str) -> float | int:
        match = re.fullmatch(r"(-?\d+(?:\.\d+)?)([A-Za-z]*)", token.text)
        assert match is not None
        digits, unit = match.groups()
        number: float | int = float(digits) if "." in digits else int(digits)
        if unit:
            if kind not in ("duration", "json") or unit not in _UNITS_MS:
                what = "a duration" if kind == "duration" else "a plain number"
                raise _SyntaxError(f"expected {what}, got {token.text!r}", token.at)
            return number * _UNITS_MS[unit]
        return number


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")


def _unescape(text: str) -> str:
    """A quoted string's content: \\n, \\t, \\r, \\uXXXX, \\\\ and escaped quotes; a backslash
    before any other character is kept (so \\. in a pattern stays a backslash-dot)."""

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) == 5:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, "\\" + code)

    return _ESCAPE.sub(one, text)


def _check_types(operand: Operand, operator: str, value: Any, at: int) -> None:
    kind = operand.type
    if kind == "json":
        return  # decided per check, on the value found
    shown = operand.text
    if kind in ("number", "duration"):
        if operator in ("~", "!~", "contains", "not contains"):
            raise _SyntaxError(f"{operator!r} does not apply to {shown} (a {kind})", at)
        if value is None and operator in ("==", "!="):
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _SyntaxError(f"{shown} is a {kind}: compare it with a number", at)
        return
    if kind == "text":
        if operator in _ORDERING:
            raise _SyntaxError(f"{operator!r} does not apply to {shown} (text)", at)
        if not isinstance(value, str) and not (value is None and operator in ("==", "!=")):
            raise _SyntaxError(f'{shown} is text: compare it with "text"', at)
        return
    # a list (answers): contains, ~ (any element), ==/!= against one element in
    if operator in _ORDERING or operator in ("in", "not in"):
        raise _SyntaxError(f"{operator!r} does not apply to {shown} (a list)", at)
    if not isinstance(value, str):
        raise _SyntaxError(f'{shown} holds text: compare it with "text"', at)
