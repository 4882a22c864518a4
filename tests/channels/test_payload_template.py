"""JSON-safe payload templates: no message can break the JSON or add a field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitorn_notify import ChannelPayload, ConfigError
from digitorn_notify.templates import PayloadTemplate

TEMPLATE = (
    '{"text": "[{{priority}}] {{title}}: {{message}}", "raw": {{message}}, '
    '"tags": {{tags}}, "tag_text": "{{tags}}", "x": {{structured_data.x}}, '
    '"job": "{{job_id}}", "escaped \\"{{title}}\\"": 1}'
)
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ['"', "\\", "{{message}}", '"}', '", "evil": "1', "\n\r\t", "\\u0000", "}}{{", "\u2028"]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@given(
    message=text,
    title=text,
    tags=st.lists(text, max_size=3),
    x=json_values,
    job_id=text,
)
def test_any_message_yields_the_same_fields(
    message: str, title: str, tags: list[str], x: Any, job_id: str
) -> None:
    template = PayloadTemplate(TEMPLATE, path="t")
    payload = ChannelPayload(
        message=message,
        title=title,
        tags=tags,
        structured_data={"x": x},
        metadata={"job_id": job_id},
    )
    body = json.loads(template.render(payload, "app"))
    assert set(body) == {"text", "raw", "tags", "tag_text", "x", "job", f'escaped "{title}"'}
    assert body["text"] == f"[normal] {title}: {message}"
    assert body["raw"] == message
    assert body["tags"] == tags
    assert body["tag_text"] == ", ".join(tags)
    assert body["x"] == x
    assert body["job"] == job_id


@given(message=text, tags=st.lists(text, max_size=3))
def test_parsed_templates_keep_types_and_fields(message: str, tags: list[str]) -> None:
    template = PayloadTemplate(
        {"text": "{{message}}", "tags": "{{tags}}", "nested": ["a {{message}}", 1, None]},
        path="t",
    )
    body = json.loads(template.render(ChannelPayload(message=message, tags=tags)))
    assert body == {"text": message, "tags": tags, "nested": [f"a {message}", 1, None]}


def test_missing_values_and_odd_types() -> None:
    template = PayloadTemplate(
        '{"a": {{structured_data.nope}}, "b": "{{title}}", "c": {{metadata.when}}, '
        '"d": {{structured_data.items.1}}, "e": "{{structured_data.n}}", "f": {{app_id}}}',
        path="t",
    )
    when = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    payload = ChannelPayload(
        message="m", metadata={"when": when}, structured_data={"items": [1, 2], "n": 5}
    )
    assert json.loads(template.render(payload, "app-1")) == {
        "a": None,
        "b": "",
        "c": when.isoformat(),
        "d": 2,
        "e": "5",
        "f": "app-1",
    }
    assert template.render_object(payload)["d"] == 2


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ('{"text": "{{message}}"', "not valid JSON"),
        ('{"a": 1{{message}}}', "must stand alone as a value"),
        ('{"a": -{{tags}}}', "not valid JSON"),
        ('{"a": {{event.x}}}', "unknown payload template token {{event.x}}"),
        ('{"a": "{{title.x}}"}', "{{title}} has no fields"),
    ],
)
def test_bad_templates_fail_at_compile_time(template: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        PayloadTemplate(template, path="channels.hook.config.payload_template")
    assert info.value.path == "channels.hook.config.payload_template"
    assert fragment in info.value.reason


def test_a_template_must_be_text_or_data() -> None:
    with pytest.raises(ConfigError, match="must be JSON text, a mapping or a list"):
        PayloadTemplate(42, path="t")  # type: ignore[arg-type]


def test_lone_surrogates_stay_valid_json() -> None:
    body = PayloadTemplate('{"t": "{{message}}"}', path="t").render(
        ChannelPayload(message="\ud800")
    )
    assert json.loads(body) == {"t": "\ud800"}
