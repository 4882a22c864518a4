"""The data model: validation at the boundary and cattrs round trips."""

from __future__ import annotations

import pytest

from digitorn_notify import (
    ChannelCapabilities,
    ChannelPayload,
    DeliveryResult,
    PayloadAttachment,
    Priority,
)
from digitorn_notify._convert import converter


def test_defaults() -> None:
    payload = ChannelPayload(message="hi")
    assert payload.priority == Priority.NORMAL
    assert Priority.NORMAL == "normal"  # type: ignore[comparison-overlap]  # a str enum
    assert payload.tags == []
    assert payload.attachments == []
    assert payload.structured_data == {}
    assert payload.title is None
    caps = ChannelCapabilities()
    assert caps.supported_formats == ["text"]
    assert not caps.supports_rich_text
    assert caps.max_message_length is None
    result = DeliveryResult(success=True, channel_id="x")
    assert (result.retryable, result.buffered, result.metadata) == (False, False, {})


def test_message_is_required_and_a_string() -> None:
    with pytest.raises(TypeError):
        ChannelPayload(message=None)  # type: ignore[arg-type]


def test_priority_is_validated() -> None:
    assert ChannelPayload(message="m", priority="critical").priority is Priority.CRITICAL
    with pytest.raises(ValueError, match="not one of: low, normal, high, critical"):
        ChannelPayload(message="m", priority="urgent")


def test_attachment_needs_exactly_one_source() -> None:
    PayloadAttachment("a.txt", content=b"x")
    with pytest.raises(ValueError, match="exactly one of content, path or url"):
        PayloadAttachment("a.txt")
    with pytest.raises(ValueError, match="got content, url"):
        PayloadAttachment("a.txt", content=b"x", url="https://example.invalid/a")


def test_round_trip_through_json_types() -> None:
    payload = ChannelPayload(
        message="m",
        title="t",
        rich_message="<b>m</b>",
        structured_data={"a": [1, 2]},
        attachments=[PayloadAttachment("r.bin", content=b"\x00\xff", content_type="application/x")],
        metadata={"job_id": "j"},
        thread_id="th",
        priority="high",
        tags=["x", "y"],
    )
    data = converter.unstructure(payload)
    assert data["attachments"][0]["content"] == "AP8="
    assert data["priority"] == "high"
    assert converter.structure(data, ChannelPayload) == payload


def test_structure_from_dict_with_attachment_dicts() -> None:
    payload = converter.structure(
        {"message": "m", "attachments": [{"filename": "a", "url": "https://example.invalid/a"}]},
        ChannelPayload,
    )
    assert payload.attachments == [PayloadAttachment("a", url="https://example.invalid/a")]


def test_strict_strings_still_structure_str_enums() -> None:
    assert converter.structure({"message": "m", "priority": "low"}, ChannelPayload).priority is Priority.LOW
    assert converter.structure("critical", Priority) is Priority.CRITICAL
    with pytest.raises(ValueError, match=r"'urgent' is not one of: 'low', 'normal', 'high', 'critical'"):
        converter.structure("urgent", Priority)
    with pytest.raises(TypeError, match="expected a string, got null"):
        converter.structure(None, str)
