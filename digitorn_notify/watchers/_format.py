"""The ``[WATCHER UPDATE]`` notification: its text and its :class:`ChannelPayload`.

The text is the spec's, line for line::

    [WATCHER UPDATE] watcher_id=a1b2c3d4e5f6, label="API health check", tool=http.get
    Check #42 (interval: 30s, 3 notification(s) so far, strategy: on_error)
    Error: Connection refused

followed, when the strategy has something to add, by one sentence ("Recovered after 3
failed check(s)."). The label is written as a JSON string and continuation lines of an
error are indented, so text a tool or a user controls can never start a line that looks
like another update.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

from digitorn_notify.payload import ChannelPayload, Priority
from digitorn_notify.watchers._strategies import BatchItem, Notice

__all__ = ["MAX_NOTICE_CHARS", "WatcherNotice", "build_payload", "render_text"]

#: Results and summaries longer than this are cut in notifications (history has them whole).
MAX_NOTICE_CHARS: Final = 2000

_HIGH = frozenset({"error", "still_failing", "threshold", "crashed"})


class WatcherNotice:
    """What one notification says: the watcher, the check and the strategy's notice."""

    __slots__ = (
        "app_id",
        "check",
        "checked_at",
        "interval",
        "label",
        "notice",
        "notification_count",
        "ok",
        "strategy",
        "text",
        "tool_name",
        "watcher_id",
    )

    def __init__(
        self,
        *,
        watcher_id: str,
        app_id: str,
        label: str,
        tool_name: str,
        interval: float,
        strategy: str,
        check: int,
        notification_count: int,
        ok: bool,
        text: str,
        checked_at: float,
        notice: Notice,
    ) -> None:
        self.watcher_id = watcher_id
        self.app_id = app_id
        self.label = label
        self.tool_name = tool_name
        self.interval = interval
        self.strategy = strategy
        self.check = check
        self.notification_count = notification_count
        self.ok = ok
        self.text = text
        self.checked_at = checked_at
        self.notice = notice


def format_interval(seconds: float) -> str:
    """``30s``, ``7.5s``: how the spec writes an interval."""
    return f"{seconds:g}s"


def _one_block(text: str) -> str:
    # Continuation lines are indented so that nothing a tool says can pose as a new
    # "[WATCHER UPDATE]" line to the reader.
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\n  ")


def _cut(kind: str, body: str, watcher_id: str) -> str:
    if len(body) <= MAX_NOTICE_CHARS:
        return f"{kind}: {body}"
    return (
        f"{kind} (truncated): {body[:MAX_NOTICE_CHARS]}... ({len(body)} chars total)\n"
        f'Use watch_history(watcher_id="{watcher_id}") to get the full output.'
    )


def _batch_text(batch: tuple[BatchItem, ...]) -> str:
    parts = [
        f'{{"check": {item.check}, "result": {item.text}}}'
        if item.ok
        else f'{{"check": {item.check}, "error": {json.dumps(item.text, ensure_ascii=False)}}}'
        for item in batch
    ]
    return "[" + ", ".join(parts) + "]"


def render_text(note: WatcherNotice) -> str:
    """The ``[WATCHER UPDATE]`` text of ``note``."""
    label = json.dumps(note.label, ensure_ascii=False)
    lines = [
        f"[WATCHER UPDATE] watcher_id={note.watcher_id}, label={label}, tool={note.tool_name}",
        f"Check #{note.check} (interval: {format_interval(note.interval)}, "
        f"{note.notification_count} notification(s) so far, strategy: {note.strategy})",
    ]
    notice = note.notice
    if notice.batch:
        lines.append(
            _cut(
                f"Summary ({len(notice.batch)} checks)", _batch_text(notice.batch), note.watcher_id
            )
        )
    elif notice.reason != "crashed":
        if note.ok:
            lines.append(_cut("Result", note.text, note.watcher_id))
        else:
            lines.append(_cut("Error", _one_block(note.text), note.watcher_id))
    if notice.detail:
        lines.append(_one_block(notice.detail))
    return "\n".join(lines)


def _structured_value(ok: bool, text: str) -> dict[str, Any]:
    if not ok:
        return {"ok": False, "error": text}
    if len(text) > MAX_NOTICE_CHARS:
        return {"ok": True, "result_preview": text[:MAX_NOTICE_CHARS], "result_chars": len(text)}
    return {"ok": True, "result": json.loads(text)}


def build_payload(note: WatcherNotice) -> ChannelPayload:
    """The payload delivered to the watcher's output channel."""
    notice = note.notice
    data: dict[str, Any] = {
        "watcher_id": note.watcher_id,
        "label": note.label,
        "tool_name": note.tool_name,
        "strategy": note.strategy,
        "reason": notice.reason,
        "check": note.check,
        "interval": note.interval,
        "notification_count": note.notification_count,
        "checked_at": datetime.fromtimestamp(note.checked_at, UTC).isoformat(),
    }
    if notice.batch:
        data["batch"] = [
            {"check": item.check, **_structured_value(item.ok, item.text)} for item in notice.batch
        ]
    elif notice.reason != "crashed":
        data.update(_structured_value(note.ok, note.text))
    if notice.detail:
        data["detail"] = notice.detail
    return ChannelPayload(
        message=render_text(note),
        title=f"Watcher update: {note.label or note.tool_name}",
        structured_data=data,
        metadata={
            "source": "watcher",
            "trigger_type": "watcher",
            "watcher_id": note.watcher_id,
            "app_id": note.app_id,
            "reason": notice.reason,
            "check": note.check,
        },
        priority=Priority.HIGH if notice.reason in _HIGH else Priority.NORMAL,
        tags=["watcher", note.strategy, notice.reason],
    )
