"""Capability-aware delivery: plain text, dropped attachments, truncate and split."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitorn_notify import (
    BaseOutputChannel,
    ChannelCapabilities,
    ChannelPayload,
    ChannelRegistry,
    DeliveryResult,
    FakeClock,
    PayloadAttachment,
)
from digitorn_notify.channels import TRUNCATION_MARKER, adapt_payload
from digitorn_notify.channels.adapt import split_text, truncate_text
from tests.helpers import RecordingChannel, fail

PREFIX = re.compile(r"^\((\d+)/(\d+)\) ")
words = st.text(alphabet=st.sampled_from("ab \n\té€"), max_size=400)
anything = st.text(max_size=400)
base = BaseOutputChannel.format_text


@given(text=words | anything, budget=st.integers(1, 60))
def test_split_text_loses_nothing_and_respects_the_budget(text: str, budget: int) -> None:
    chunks = split_text(text, budget)
    assert "".join(chunks) == text
    assert all(len(c) <= budget for c in chunks)
    assert all(chunks[:-1])


@given(text=words | anything, limit=st.integers(1, 80))
def test_truncate_text_fits_and_marks(text: str, limit: int) -> None:
    cut = truncate_text(text, limit)
    assert len(cut) <= limit
    if len(text) <= limit:
        assert cut == text
    elif limit > len(TRUNCATION_MARKER):
        assert cut.endswith(TRUNCATION_MARKER)
    elif limit >= 2:
        assert cut.endswith("…")


def _fake_channel() -> BaseOutputChannel:
    return RecordingChannel({})


@given(
    message=words | anything,
    title=st.none() | st.text(max_size=30),
    tags=st.lists(st.text(alphabet="abc", min_size=1, max_size=5), max_size=3),
    limit=st.integers(20, 200),
)
def test_split_parts_fit_and_rejoin_to_the_text(
    message: str, title: str | None, tags: list[str], limit: int
) -> None:
    payload = ChannelPayload(message=message, title=title, tags=tags)
    caps = ChannelCapabilities(max_message_length=limit)
    fmt = _fake_channel().format_text
    adapted = adapt_payload(payload, caps, overflow="split", format_text=fmt)
    if len(fmt(payload)) <= limit:
        assert adapted is None
        return
    assert adapted is not None
    parts = adapted.payloads
    assert all(len(fmt(p)) <= limit for p in parts)
    if len(parts) == 1:
        return  # nothing to split at: truncated instead
    bodies = []
    for index, part in enumerate(parts, 1):
        match = PREFIX.match(part.message)
        assert match is not None
        assert (int(match[1]), int(match[2])) == (index, len(parts))
        assert part.metadata == {"part": index, "parts": len(parts)}
        bodies.append(part.message[match.end() :])
    folded = parts[0].title is None and parts[0].tags == [] and (title or tags)
    assert "".join(bodies) == (fmt(payload) if folded else message)


@given(message=anything, limit=st.integers(20, 200))
def test_truncated_message_fits(message: str, limit: int) -> None:
    payload = ChannelPayload(message=message, title="T", tags=["x"])
    fmt = _fake_channel().format_text
    adapted = adapt_payload(payload, ChannelCapabilities(max_message_length=limit), format_text=fmt)
    if adapted is None:
        assert len(fmt(payload)) <= limit
    else:
        (part,) = adapted.payloads
        assert len(fmt(part)) <= limit
        assert part.message.endswith((TRUNCATION_MARKER, "…"))


def test_split_prefers_line_then_word_boundaries() -> None:
    text = "first line here\nsecond line is longer than the rest of them"
    assert split_text(text, 30) == [
        "first line here\n",
        "second line is longer than ",
        "the rest of them",
    ]


def test_rich_text_and_attachments_are_dropped_where_unsupported() -> None:
    payload = ChannelPayload(
        message="report ready",
        rich_message="<b>report</b>",
        attachments=[
            PayloadAttachment("a.pdf", content=b"x"),
            PayloadAttachment("b.png", url="https://example.invalid/b.png"),
        ],
    )
    adapted = adapt_payload(payload, ChannelCapabilities())
    assert adapted is not None
    (part,) = adapted.payloads
    assert part.rich_message is None
    assert part.attachments == []
    assert (
        part.message == "report ready\n[2 attachments not delivered by this channel: a.pdf, b.png]"
    )
    assert (
        adapt_payload(
            payload, ChannelCapabilities(supports_rich_text=True, supports_attachments=True)
        )
        is None
    )


def test_rich_text_longer_than_the_limit_is_dropped() -> None:
    payload = ChannelPayload(message="short", rich_message="<p>" + "x" * 50 + "</p>")
    caps = ChannelCapabilities(supports_rich_text=True, max_message_length=20)
    adapted = adapt_payload(payload, caps)
    assert adapted is not None
    assert adapted.payloads[0].rich_message is None
    assert adapted.payloads[0].message == "short"


class SmsChannel(RecordingChannel):
    CHANNEL_ID: ClassVar[str] = "sms"

    def capabilities(self) -> ChannelCapabilities:
        return ChannelCapabilities(max_message_length=40)


class FlakySms(SmsChannel):
    CHANNEL_ID: ClassVar[str] = "flaky_sms"

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        if payload.metadata.get("part") == 2:
            return fail("gateway down", retryable=False)
        return await super().deliver(app_id, payload, config)


async def _registry(**blocks: Any) -> ChannelRegistry:
    registry = ChannelRegistry(load_plugins=False, clock=FakeClock(autojump=True))
    registry.register_type(SmsChannel)
    registry.register_type(FlakySms)
    registry.register_type(RecordingChannel)
    await registry.deploy_app("app", blocks)
    return registry


@pytest.mark.anyio
async def test_registry_splits_into_numbered_deliveries() -> None:
    registry = await _registry(sms={"type": "sms", "overflow": "split"})
    message = " ".join(f"word{i}" for i in range(20))
    result = await registry.deliver("sms", "app", ChannelPayload(message=message, title="T"))
    channel = registry.instances("app")["sms"]
    sent = [call[1] for call in channel.calls]  # type: ignore[attr-defined]
    assert result.success
    assert result.metadata["parts"] == len(sent) > 1
    assert result.metadata["parts_delivered"] == len(sent)
    assert result.metadata["delivery_ids"] == [str(i) for i in range(1, len(sent) + 1)]
    assert result.metadata["adapted"] == [f"split into {len(sent)} parts of at most 40 characters"]
    assert all(len(channel.format_text(p)) <= 40 for p in sent)
    assert "".join(PREFIX.sub("", p.message) for p in sent) == message


@pytest.mark.anyio
async def test_registry_truncates_by_default() -> None:
    registry = await _registry(sms={"type": "sms"})
    result = await registry.deliver("sms", "app", "x" * 100)
    (call,) = registry.instances("app")["sms"].calls  # type: ignore[attr-defined]
    assert result.success
    assert call[1].message.endswith(TRUNCATION_MARKER)
    assert len(call[1].message) == 40
    assert result.metadata["adapted"] == ["truncated to 40 characters"]


@pytest.mark.anyio
async def test_a_failed_part_stops_the_split_and_the_fallback_gets_the_whole_text() -> None:
    registry = await _registry(sms={"type": "flaky_sms", "overflow": "split"})
    message = " ".join(f"word{i}" for i in range(20))
    async with registry.subscribe("app") as inbox:
        result = await registry.deliver("sms", "app", message)
        note = await inbox.receive()
    assert not result.success
    assert result.metadata["parts_delivered"] == 1
    assert result.metadata["fallback"] == "llm_notification"
    assert note.payload.message == message


@pytest.mark.anyio
async def test_channels_that_render_everything_are_not_adapted() -> None:
    registry = await _registry()
    payload = ChannelPayload(
        message="m", rich_message="<b>m</b>", attachments=[{"filename": "a", "content": b"1"}]
    )
    async with registry.subscribe("app") as inbox:
        result = await registry.deliver("llm_notification", "app", payload)
        note = await inbox.receive()
    assert "adapted" not in result.metadata
    assert note.payload == payload
