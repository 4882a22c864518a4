"""Capability-aware delivery: fit a payload to what its channel declares it can render.

The registry calls :func:`adapt_payload` before delivering. For a channel that

- does not support rich text, ``rich_message`` is dropped (``message`` is the plain
  text every payload carries);
- does not support attachments, they are dropped and a note naming them is appended to
  the message, so the reader knows something is missing;
- has a ``max_message_length``, a longer message is handled by the instance's overflow
  policy: ``truncate`` (cut on a word boundary, ending with a visible marker) or
  ``split`` (several numbered parts, cut on line or word boundaries; joined back
  without their ``(i/n)`` prefixes they give the message exactly).

The limit applies to the text the channel sends, ``format_text(payload)``: the title
and tags the channel adds are counted. When they leave less than half the limit for
the message, they are folded into the message and the parts carry no title or tags.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

import attrs

from digitorn_notify.payload import ChannelCapabilities, ChannelPayload

__all__ = [
    "TRUNCATION_MARKER",
    "Adapted",
    "OverflowPolicy",
    "adapt_payload",
    "part_prefix",
    "split_text",
    "truncate_text",
]

OverflowPolicy = Literal["truncate", "split"]
OVERFLOW_POLICIES: tuple[OverflowPolicy, ...] = ("truncate", "split")

#: Ends a truncated message, so the reader sees that text is missing.
TRUNCATION_MARKER = " [… truncated]"
#: The marker when the limit leaves no room for the long one.
SHORT_MARKER = "…"

_LINE_BREAK = re.compile(r"\n")
_SPACE = re.compile(r"\s")


@attrs.frozen
class Adapted:
    """The payload(s) to deliver instead of the original, and what was changed."""

    payloads: list[ChannelPayload]
    changes: list[str]


def _cut(text: str, budget: int) -> int:
    """Where to end a chunk of at most ``budget`` characters: after a line break, else
    after a space, else at ``budget`` (a word longer than the budget has to be cut)."""
    if len(text) <= budget:
        return len(text)
    window = text[:budget]
    # Prefer a boundary in the second half, so parts do not come out tiny.
    floor = budget // 2
    for pattern in (_LINE_BREAK, _SPACE):
        last = -1
        for match in pattern.finditer(window):
            last = match.end()
        if last > floor:
            return last
    return budget


def truncate_text(text: str, limit: int, marker: str = TRUNCATION_MARKER) -> str:
    """``text`` cut to at most ``limit`` characters, ending with ``marker`` when cut.

    When ``limit`` leaves no room for ``marker``, a lone ``…`` marks the cut instead.
    """
    if len(text) <= limit:
        return text
    if limit <= len(marker):
        if limit < 2:
            return text[:limit]
        marker = SHORT_MARKER
    end = _cut(text, limit - len(marker))
    return text[:end].rstrip() + marker


def split_text(text: str, budget: int) -> list[str]:
    """Chunks of at most ``budget`` characters whose concatenation is exactly ``text``.

    Cuts fall after a line break when one is in reach, else after a space, else
    mid-word. Whitespace stays with the chunk before the cut, so nothing is lost.
    """
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    chunks = []
    while len(text) > budget:
        end = _cut(text, budget)
        chunks.append(text[:end])
        text = text[end:]
    chunks.append(text)
    return chunks


def part_prefix(index: int, count: int) -> str:
    """The marker that starts part ``index`` (1-based) of ``count``: ``(2/3) ``."""
    return f"({index}/{count}) "


def _split_numbered(text: str, budget: int) -> list[str] | None:
    """Numbered parts of at most ``budget`` characters, prefixes included."""
    digits = 1
    while True:
        room = budget - len(part_prefix(10**digits - 1, 10**digits - 1))
        if room < 1:
            return None
        chunks = split_text(text, room)
        if len(str(len(chunks))) <= digits:
            return [part_prefix(i, len(chunks)) + c for i, c in enumerate(chunks, 1)]
        digits = len(str(len(chunks)))


def _attachment_note(payload: ChannelPayload) -> str:
    names = ", ".join(a.filename for a in payload.attachments)
    count = len(payload.attachments)
    noun = "attachment" if count == 1 else f"{count} attachments"
    return f"\n[{noun} not delivered by this channel: {names}]"


def adapt_payload(
    payload: ChannelPayload,
    capabilities: ChannelCapabilities,
    *,
    overflow: OverflowPolicy = "truncate",
    format_text: Callable[[ChannelPayload], str] | None = None,
) -> Adapted | None:
    """Fit ``payload`` to ``capabilities``; ``None`` when it already fits.

    ``format_text`` is the channel's (it measures what the limit applies to); the
    default counts the message alone.
    """
    changes: list[str] = []
    if payload.rich_message is not None and not capabilities.supports_rich_text:
        payload = attrs.evolve(payload, rich_message=None)
        changes.append("rich_message dropped: the channel renders plain text")
    if payload.attachments and not capabilities.supports_attachments:
        changes.append(f"{len(payload.attachments)} attachment(s) dropped with a note")
        payload = attrs.evolve(
            payload, message=payload.message + _attachment_note(payload), attachments=[]
        )
    limit = capabilities.max_message_length
    if limit is not None and limit > 0:
        measure = format_text or (lambda p: p.message)
        if len(measure(payload)) > limit:
            return _fit(payload, limit, overflow, measure, changes)
        if payload.rich_message is not None and len(payload.rich_message) > limit:
            payload = attrs.evolve(payload, rich_message=None)
            changes.append(f"rich_message dropped: longer than {limit} characters")
    return Adapted([payload], changes) if changes else None


def _fit(
    payload: ChannelPayload,
    limit: int,
    overflow: OverflowPolicy,
    measure: Callable[[ChannelPayload], str],
    changes: list[str],
) -> Adapted:
    overhead = len(measure(attrs.evolve(payload, message="")))
    if limit - overhead < limit // 2 or limit - overhead < 1:
        # Title and tags leave too little room: send them as part of the text instead.
        payload = attrs.evolve(payload, message=measure(payload), title=None, tags=[])
        overhead = len(measure(attrs.evolve(payload, message="")))
    budget = max(limit - overhead, 1)
    # Rich text cannot be cut safely (markup); the plain text is what gets cut.
    payload = attrs.evolve(payload, rich_message=None)
    if overflow == "split":
        parts = _split_numbered(payload.message, budget)
        if parts is not None and len(parts) > 1:
            changes.append(f"split into {len(parts)} parts of at most {limit} characters")
            return Adapted(
                [
                    attrs.evolve(
                        payload,
                        message=part,
                        metadata={**payload.metadata, "part": i, "parts": len(parts)},
                    )
                    for i, part in enumerate(parts, 1)
                ],
                changes,
            )
    changes.append(f"truncated to {limit} characters")
    return Adapted([attrs.evolve(payload, message=truncate_text(payload.message, budget))], changes)
