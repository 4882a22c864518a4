"""Fuzz targets: one per parser of untrusted text or data, each stating its contract.

Every target takes the parser's input and asserts what must hold for *any* input:
only the library's own error for that input escapes (never ``RecursionError``,
``KeyError``, croniter's ``CroniterBadDateError`` ...), and what is accepted behaves
(a schedule moves forward and is deterministic, an expression evaluates to a bool,
a filled payload template is strict JSON). ``test_fuzz.py`` drives them with
hypothesis: a small budget in ``make test``, a large one in ``make fuzz``
(``DIGITORN_FUZZ_EXAMPLES``). They take plain values, so another engine (atheris)
can drive them too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import anyio

from digitorn_notify import (
    AppConfig,
    ChannelPayload,
    ChannelRegistry,
    ConfigError,
    CronSchedule,
    ExpressionError,
    IntervalSchedule,
    OneShot,
    TimeExpressionError,
    compile_expression,
    parse_time_expression,
)
from digitorn_notify.templates import PayloadTemplate, VariableResolver


def _strict_json(text: str | bytes) -> Any:
    """Parse ``text`` as strict JSON: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def time_expression(text: str, now: datetime, zone: str) -> None:
    """Any text: a schedule that moves forward, or a TimeExpressionError."""
    try:
        result = parse_time_expression(text, now=now, tz=zone)
    except TimeExpressionError:
        return
    if isinstance(result, OneShot):
        assert result.at > now
        return
    assert isinstance(result, CronSchedule | IntervalSchedule)
    _moves_forward(result, now)


def _moves_forward(schedule: CronSchedule | IntervalSchedule, after: datetime) -> None:
    try:
        first = schedule.next_after(after)
    except TimeExpressionError:
        return  # near the end of the calendar: reported in our own error tree
    assert first > after
    # Deterministic: the same question has the same answer (croniter's R would not).
    assert schedule.next_after(after) == first


def cron(expression: str, zone: str, after: datetime) -> None:
    """Any cron text: a deterministic schedule that moves forward, or TimeExpressionError."""
    try:
        schedule = CronSchedule(expression, zone)
    except TimeExpressionError:
        return
    _moves_forward(schedule, after)


def expression(text: str, names: Mapping[str, Any]) -> None:
    """Any expression text: ExpressionError, or an expression whose evaluation is a bool."""
    try:
        compiled = compile_expression(text)
    except ExpressionError:
        return
    assert isinstance(compiled.evaluate(names), bool)


def app_config(data: Any) -> None:
    """Any data as an app file: an AppConfig, or a ConfigError."""
    try:
        AppConfig.from_mapping(data)
    except ConfigError:
        return


def deploy(channels: Any, variables: Any) -> None:
    """Any channels/variables blocks: deployed, or refused with a ConfigError."""

    async def run() -> None:
        async with ChannelRegistry(load_plugins=False) as registry:
            try:
                await registry.deploy_app("fuzz", channels, variables=variables)
            except ConfigError:
                return

    anyio.run(run)


def variables(values: Mapping[str, Any], data: Any) -> None:
    """Any variables (referring to each other or not) and data: resolved, or ConfigError."""
    try:
        resolver = VariableResolver(variables=values, secrets=_NoSecrets(), environ={})
        resolver.resolve(data, "config")
    except ConfigError:
        return


class _NoSecrets:
    def get(self, name: str) -> str | None:
        return None


def payload_template(template: Any, payload: ChannelPayload) -> None:
    """Any template: a ConfigError, or one whose every filling is strict JSON."""
    try:
        compiled = PayloadTemplate(template, path="payload_template")
    except ConfigError:
        return
    _strict_json(compiled.render(payload, "app"))


def finite_json(value: Any) -> None:
    """Payload data with NaN or infinities still renders as strict JSON (null)."""
    payload = ChannelPayload(message="m", structured_data={"v": value})
    body = _strict_json(PayloadTemplate('{"v": {{structured_data.v}}}', path="t").render(payload))
    if isinstance(value, float) and not math.isfinite(value):
        assert body == {"v": None}


#: Reference instants the time targets draw from: now-ish, and near the calendar's ends.
INSTANTS = (
    datetime(2026, 3, 13, 15, 30),
    datetime(1970, 1, 1),
    datetime(2099, 12, 31, 23, 59),
    datetime(9999, 12, 30),
)
ONE_DAY = timedelta(days=1)
