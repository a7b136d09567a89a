"""How a check is judged: the options of `wm probe` and the verdict on one outcome.

Every kind of check (HTTP, TCP, DNS) that got an answer comes here with its
`Facts`; the verdict sets `ok`, and for a failed check the `error` kind, its
`error_detail` and the first failed condition. The order is fixed:

1. HTTP only: the status (`--expect-status`, else any status below 400; the
   default is dropped when an `--expect` condition reads `status`) and
   `--expect-regex` (`content_match`) judge `ok` as they always did, with no
   error kind;
2. HTTPS only: fewer than `--expect-cert-days` days left on the certificate:
   `error` `cert_expiring`, the days left in `error_detail`;
3. the conditions of the URL itself (`expect=` of tcp:// and dns://), then the
   `--expect` conditions, in order: the first that fails is `failed_condition`
   and, unless step 2 failed, `error` `condition` with the reason in `error_detail`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from website_monitor.errors import ConfigError
from website_monitor.probes.conditions import Condition, Facts, first_failure


@dataclasses.dataclass(frozen=True)
class CheckOptions:
    """How to run and judge checks."""

    timeout: float = 10.0
    expect_status: int | None = None
    expect_regex: re.Pattern[str] | None = None
    #: Fail HTTPS checks whose certificates expire in fewer days than this.
    expect_cert_days: float | None = None
    conditions: tuple[Condition, ...] = ()
    #: Recorded on every result: where the checks run.
    location: str | None = None

    def __post_init__(self) -> None:
        if self.expect_cert_days is not None and self.expect_cert_days < 0:
            raise ConfigError("--expect-cert-days must not be negative")

    @property
    def status_in_conditions(self) -> bool:
        return any("status" in condition.names() for condition in self.conditions)


@dataclasses.dataclass(frozen=True)
class Verdict:
    ok: bool
    error: str | None = None
    error_detail: str | None = None
    failed_condition: str | None = None


def compile_regex(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"invalid --expect-regex {pattern!r}: {exc}", hint="use a Python regular expression"
        ) from None


def judge(
    facts: Facts,
    options: CheckOptions,
    *,
    content_match: bool | None = None,
    own: Sequence[Condition] = (),
) -> Verdict:
    """The verdict on a check that got an answer (see the module's docstring for the order)."""
    ok = content_match is not False
    if facts.status is not None:
        if options.expect_status is not None:
            ok = ok and facts.status == options.expect_status
        elif not options.status_in_conditions:
            ok = ok and facts.status < 400
    error = detail = None
    if (
        options.expect_cert_days is not None
        and facts.cert_days is not None
        and facts.cert_days < options.expect_cert_days
    ):
        ok = False
        error = "cert_expiring"
        detail = (
            f"{max(facts.cert_days, 0.0):.1f} days left"
            f" (fewer than {options.expect_cert_days:g}, --expect-cert-days)"
        )
    failure = first_failure([*own, *options.conditions], facts)
    if failure is None:
        return Verdict(ok=ok, error=error, error_detail=detail)
    failed, why = failure
    if error is None:
        error, detail = "condition", why[:2048]
    return Verdict(ok=False, error=error, error_detail=detail, failed_condition=failed[:1024])
