"""The fuzz targets of fuzz_targets.py, driven by hypothesis.

A small budget per target in `make test` (DIGITORN_FUZZ_EXAMPLES, default 100); `make
fuzz` runs the same targets with 20,000 examples each. Inputs mix random text with
the parsers' own vocabulary, so that examples get past the first token.
"""

from __future__ import annotations

import os
from datetime import UTC
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digitorn_notify import ChannelPayload
from tests.security import fuzz_targets as target

EXAMPLES = int(os.environ.get("DIGITORN_FUZZ_EXAMPLES", "100"))
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

ZONES = st.sampled_from(
    ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
)
INSTANTS = st.one_of(
    st.sampled_from(target.INSTANTS),
    st.datetimes(min_value=target.INSTANTS[1], max_value=target.INSTANTS[3]),
).map(lambda moment: moment.replace(tzinfo=UTC))

TIME_WORDS = [
    "in",
    "every",
    "at",
    "on",
    "the",
    "of",
    "and",
    "tomorrow",
    "today",
    "tonight",
    "next",
    "demain",
    "dans",
    "à",
    "a",
    "tous",
    "les",
    "chaque",
    "lundi",
    "lundis",
    "monday",
    "mondays",
    "friday",
    "weekday",
    "weekend",
    "week",
    "month",
    "year",
    "day",
    "days",
    "hour",
    "hours",
    "minute",
    "minutes",
    "5m",
    "1h30",
    "9am",
    "5pm",
    "9h",
    "18h30",
    "noon",
    "midnight",
    "midi",
    "minuit",
    "15th",
    "1st",
    "1er",
    "april",
    "avril",
    "du",
    "au",
    "from",
    "to",
    "every",
    "other",
    "90",
    "2",
    "15",
    "0",
    "9",
    "17:30",
    "12:00",
    "*",
    "*/5",
    "@daily",
    "@hourly",
    "2026-03-30T09:00:00+02:00",
    "2026-03-30",
    "-",
    ",",
    ":",
    "/",
    "#",
]
time_texts = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(TIME_WORDS), min_size=1, max_size=8).map(" ".join),
)

CRON_ALPHABET = "0123456789*/,-LW#?RH JANFEBMONSUTHRIWDjanfebmonsuthriwd"
cron_fields = st.one_of(
    st.text(alphabet=CRON_ALPHABET, min_size=1, max_size=8),
    st.builds(
        lambda low, high, step: f"{low}-{high}/{step}",
        st.integers(0, 70),
        st.integers(0, 70),
        st.integers(0, 40),
    ),
    st.sampled_from(["*", "*/15", "59/15", "R", "L", "1W", "mon#2", "?", "H", "sun", "7", "0"]),
)
cron_texts = st.one_of(
    st.lists(cron_fields, min_size=3, max_size=7).map(" ".join),
    st.sampled_from(["@daily", "@yearly", "@reboot", "0 9 R R *", "0 0 31 2 0", "0 0 30 2 *"]),
)

EXPRESSION_WORDS = [
    "result",
    "result.a",
    "result.items[0]",
    "result.a.b",
    "==",
    "!=",
    ">",
    "<",
    ">=",
    "<=",
    "and",
    "or",
    "not",
    "in",
    "(",
    ")",
    "[",
    "]",
    ",",
    "null",
    "true",
    "false",
    "1",
    "1.5",
    "-2",
    "1e999",
    "'x'",
    '"y"',
    "'a\\'b'",
    "len(",
    "contains(",
    "lower(",
    "abs(",
    "startswith(",
    "x.y",
]
expression_texts = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(EXPRESSION_WORDS), min_size=1, max_size=12).map(" ".join),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


TEMPLATE_PIECES = [
    "{",
    "}",
    "[",
    "]",
    '"',
    ":",
    ",",
    "{{message}}",
    "{{title}}",
    "{{tags}}",
    "{{structured_data.v}}",
    "{{metadata.x}}",
    "{{job_id}}",
    "{{unknown}}",
    "{{message.x}}",
    "null",
    "1",
    "\\",
    "\\n",
]
templates = st.one_of(
    st.lists(st.sampled_from(TEMPLATE_PIECES), min_size=1, max_size=14).map("".join),
    st.text(max_size=30),
    json_values,
)
payloads = st.builds(
    ChannelPayload,
    message=st.text(max_size=20),
    title=st.none() | st.text(max_size=10),
    tags=st.lists(st.text(max_size=5), max_size=3),
    structured_data=st.dictionaries(st.sampled_from(["v", "w"]), json_values, max_size=2),
)

CHANNEL_TYPES = st.sampled_from(["webhook", "log", "email", "llm_notification", "nope"])
channel_blocks = st.fixed_dictionaries(
    {"type": CHANNEL_TYPES},
    optional={
        "config": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"url": st.sampled_from(["http://127.0.0.1:9/x", "ftp://x", "{{nope}}", "x"])},
                optional={
                    "headers": json_values,
                    "timeout": json_values,
                    "allowed_hosts": json_values,
                    "payload_template": templates,
                },
            ),
        ),
        "fallback": st.none() | st.text(max_size=6),
        "delivery_timeout": json_values,
        "overflow": json_values,
        "bogus": json_values,
    },
)
variable_values = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d"]),
    st.one_of(
        json_values,
        st.lists(
            st.sampled_from(["{{a}}", "{{b}}", "{{c.x}}", "x", "{{env.NOPE}}"]), max_size=3
        ).map("".join),
    ),
    max_size=4,
)


@fuzz
@given(text=time_texts, now=INSTANTS, zone=ZONES)
def test_time_expressions(text: str, now: Any, zone: str) -> None:
    target.time_expression(text, now, zone)


@fuzz
@given(expression=cron_texts, zone=ZONES, after=INSTANTS)
@example(expression="0 9 R R *", zone="UTC", after=target.INSTANTS[0].replace(tzinfo=UTC))
@example(expression="0 0 * * *", zone="UTC", after=target.INSTANTS[3].replace(tzinfo=UTC))
def test_cron(expression: str, zone: str, after: Any) -> None:
    target.cron(expression, zone, after)


@fuzz
@given(text=expression_texts, names=st.dictionaries(st.just("result"), json_values))
def test_expressions(text: str, names: dict[str, Any]) -> None:
    target.expression(text, names)


@fuzz
@given(
    data=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {},
            optional={
                "channels": st.one_of(
                    json_values, st.dictionaries(st.text(max_size=6), channel_blocks)
                ),
                "variables": json_values,
                "execution": json_values,
            },
        ),
    )
)
@example(data={"channels": {"x": {"type": "log", "config": nested(70)}}})
def test_app_config(data: Any) -> None:
    target.app_config(data)


@fuzz
@given(
    channels=st.one_of(
        json_values, st.dictionaries(st.text(max_size=6), channel_blocks, max_size=2)
    ),
    variables=st.one_of(st.none(), variable_values),
)
@example(channels={"deep": {"type": "log", "config": nested(70)}}, variables=None)
@example(channels={}, variables={"a": "{{b}}", "b": "{{a}}"})
def test_deploy(channels: Any, variables: Any) -> None:
    target.deploy(channels, variables)


@fuzz
@given(values=variable_values, data=json_values)
@example(values={"a": "{{b}}", "b": "{{c.x}}", "c": {"x": "{{a}}"}}, data="{{a}}")
@example(values={}, data=nested(70))
def test_variables(values: dict[str, Any], data: Any) -> None:
    target.variables(values, data)


@fuzz
@given(template=templates, payload=payloads)
@example(template="Infinity", payload=ChannelPayload(message=""))  # found by make fuzz
@example(template='{"v": NaN}', payload=ChannelPayload(message=""))
def test_payload_templates(template: Any, payload: ChannelPayload) -> None:
    target.payload_template(template, payload)


@fuzz
@given(value=st.one_of(st.floats(), json_values))
@example(value=float("nan"))
@example(value=float("-inf"))
def test_payload_json_is_strict(value: Any) -> None:
    target.finite_json(value)
