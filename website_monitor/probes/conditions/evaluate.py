"""Judging a parsed condition against what one check observed (`Facts`).

Three-valued: a name that does not apply to the kind of check, or a phase that
did not happen, gives None (skipped); `and`/`or` ignore skipped parts.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from website_monitor.probes.conditions.syntax import (
    _ORDERING,
    NAMES,
    Comparison,
    Condition,
    Node,
    Not,
    Operand,
)


@dataclasses.dataclass
class Facts:
    """What one check observed; the body is decoded and parsed only if a condition reads it."""

    kind: str
    status: int | None = None
    total_ms: float | None = None
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    body: bytes = b""
    charset: str = "utf-8"
    headers: Mapping[str, str] | None = None
    cert_days: float | None = None
    answers: Sequence[str] | None = None

    @functools.cached_property
    def text(self) -> str:
        if self.answers is not None:
            return "\n".join(self.answers)
        return self.body.decode(self.charset, errors="replace")

    @functools.cached_property
    def json(self) -> tuple[bool, Any]:
        """(True, the body as JSON) or (False, None) when it is not JSON."""
        try:
            return True, orjson.loads(self.text)
        except orjson.JSONDecodeError:
            return False, None


_MISSING = object()


def first_failure(conditions: Sequence[Condition], facts: Facts) -> tuple[str, str] | None:
    """(the expression, why) of the first condition that does not hold, or None."""
    for condition in conditions:
        holds, why = evaluate(condition, facts)
        if holds is False:
            return condition.source, why
    return None


def evaluate(condition: Condition, facts: Facts) -> tuple[bool | None, str]:
    """(True, "") when it holds, (False, why) when not, (None, "") when nothing applied."""
    return _evaluate(condition.tree, facts)


def _evaluate(node: Node, facts: Facts) -> tuple[bool | None, str]:
    if isinstance(node, Comparison):
        return _compare(node, facts)
    if isinstance(node, Not):
        holds, _ = _evaluate(node.term, facts)
        if holds is None:
            return None, ""
        return (not holds), ("" if holds is False else f"{_describe(node.term)} held")
    results = [_evaluate(term, facts) for term in node.terms]
    judged = [(holds, why) for holds, why in results if holds is not None]
    if not judged:
        return None, ""
    if node.operator == "and":
        for holds, why in judged:
            if not holds:
                return False, why
        return True, ""
    if any(holds for holds, _ in judged):
        return True, ""
    return False, "; ".join(why for _, why in judged)


def _describe(node: Node) -> str:
    if isinstance(node, Comparison):
        return f"{node.operand.text} {node.expected}"
    return "the negated condition"


def _value(operand: Operand, facts: Facts) -> Any:
    """The operand's value in this check; None where it did not happen, _MISSING if absent."""
    root = operand.root
    if root == "status":
        return facts.status
    if root in ("total", "dns", "connect", "tls", "ttfb"):
        return getattr(facts, f"{root}_ms")
    if root == "cert_days":
        return facts.cert_days
    if root == "answers":
        return list(facts.answers or ())
    if root == "header":
        value = (facts.headers or {}).get(operand.path[0])
        return _MISSING if value is None else value
    if not operand.path:
        return facts.text
    is_json, document = facts.json
    if not is_json:
        raise _Unjudged("body is not JSON")
    for segment in operand.path[1:]:  # (after "json")
        if isinstance(document, dict) and segment in document:
            document = document[segment]
        elif isinstance(document, list) and segment.isdigit() and int(segment) < len(document):
            document = document[int(segment)]
        else:
            return _MISSING
    return document


class _Unjudged(Exception):
    """The value cannot be read at all (a body that is not JSON): the condition fails."""


def _compare(node: Comparison, facts: Facts) -> tuple[bool | None, str]:
    operand = node.operand
    if facts.kind not in NAMES[operand.root].kinds:
        return None, ""
    try:
        value = _value(operand, facts)
    except _Unjudged as exc:
        return False, str(exc)
    kind = operand.type
    if value is None and kind == "duration":
        return None, ""  # a phase that did not happen (a reused connection)
    operator, literal = node.operator, node.literal
    if value is _MISSING or value is None:
        if operator in ("==", "!="):
            holds = (literal is None) == (operator == "==")
            return holds, "" if holds else f"{operand.text} is {_shown(value, kind)}"
        return False, f"{operand.text} is {_shown(value, kind)}"
    try:
        holds = _apply(operator, value, literal, node.pattern)
    except TypeError as exc:
        return False, f"{operand.text} is {_shown(value, kind)}: {exc}"
    if holds:
        return True, ""
    if operand.root == "answers":
        return False, f"answers are {_shown(value, kind)} (expected {node.expected})"
    if operand.root == "body" and not operand.path:  # (a body is not shown: it may be large)
        verb = {
            "contains": "does not contain",
            "not contains": "contains",
            "~": "does not match",
            "!~": "matches",
        }.get(operator)
        if verb is not None:
            return False, f"{operand.text} {verb} {_shown(literal, 'text')}"
    return False, f"{operand.text} is {_shown(value, kind)} (expected {node.expected})"


def _apply(operator: str, value: Any, literal: Any, pattern: re.Pattern[str] | None) -> bool:
    if operator in ("==", "!="):
        equal = (
            any(_equal(item, literal) for item in value)
            if isinstance(value, list) and not isinstance(literal, (list, tuple))
            else _equal(value, literal)
        )
        return equal == (operator == "==")
    if operator in ("in", "not in"):
        found = any(_equal(value, item) for item in literal)
        return found == (operator == "in")
    if operator in _ORDERING:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("not a number")
        return bool(_ORDER[operator](value, literal))
    if operator in ("~", "!~"):
        assert pattern is not None
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in items):
            raise TypeError("not text")
        found = any(pattern.search(item) for item in items)
        return found == (operator == "~")
    # contains, not contains
    if isinstance(value, str):
        if not isinstance(literal, str):
            raise TypeError("text contains only text")
        found = literal in value
    elif isinstance(value, list):
        found = any(_equal(item, literal) for item in value)
    elif isinstance(value, dict):
        found = literal in value
    else:
        raise TypeError("not text, a list or an object")
    return found == (operator == "contains")


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 200 is 200.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _shown(value: Any, kind: str) -> str:
    if value is _MISSING:
        return "missing"
    if value is None:
        return "null"
    if kind == "duration" and isinstance(value, (int, float)):
        return f"{value:g}ms"
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, float) else f"{value:g}"
    return text if len(text) <= 80 else text[:79] + "…"
