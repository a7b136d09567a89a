"""Conditions on a check's outcome (`--expect`): a small expression language, parsed, never run.

    expression := disjunct ("or" disjunct)*
    disjunct   := term ("and" term)*
    term       := "not" term | "(" expression ")" | comparison
    comparison := operand operator literal
    operand    := NAME ("." segment)*          status, total, body.json.items.0.id, header.etag
    operator   := == | != | < | <= | > | >= | ~ | !~ | in | not in | contains | not contains
    literal    := NUMBER [ms|s|m|h] | "text" | 'text' | true | false | null | "[" literal, … "]"

Every operand, operator and literal is checked when the expression is parsed
(`parse` raises one ConfigError naming the column), so a typo fails at start,
not at the first check. Evaluation is three-valued: a name that does not apply
to a kind of check (`status` on a TCP check, `cert_days` on plain HTTP) or a
phase that did not happen (`connect` on a reused connection) is skipped, never
a failure; `and`/`or` ignore skipped parts and an expression with nothing left
holds.
"""

from website_monitor.probes.conditions.evaluate import Facts, evaluate, first_failure
from website_monitor.probes.conditions.syntax import (
    NAMES,
    OPERATORS,
    Condition,
    parse,
    parse_all,
)

__all__ = [
    "NAMES",
    "OPERATORS",
    "Condition",
    "Facts",
    "evaluate",
    "first_failure",
    "parse",
    "parse_all",
]
