"""Choosing the output channel of a job or a watcher: the default, and the check at creation.

One rule for every component (see ``docs/conventions.md``):

* a call that names an ``output_channel`` the app does not have is refused when the
  job or watcher is created (:func:`check_output_channel`), so a typo is learnt at once;
* a channel that disappears later (a redeploy without it) is not an error: at fire
  time the registry falls back to ``llm_notification`` and says so in the result;
* a call that names no channel gets the component's ``default_channel``: a channel
  name, or a function of the app id returning one (``None`` means ``llm_notification``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeAlias

from digitorn_notify._convert import unknown_key
from digitorn_notify.channels.registry import FALLBACK_CHANNEL, ChannelRegistry
from digitorn_notify.errors import ConfigError

__all__ = [
    "DefaultChannel",
    "check_default_channel",
    "check_output_channel",
    "default_channel_for",
]

logger = logging.getLogger("digitorn_notify.channels")

#: Where jobs and watchers that name no channel report: a channel name, or a function
#: of the app id that returns one (``None`` means ``llm_notification``).
DefaultChannel: TypeAlias = str | Callable[[str], str | None]


def check_default_channel(value: object) -> DefaultChannel:
    """``value`` if it is a channel name or a function, else :class:`ConfigError`."""
    if isinstance(value, str) and value.strip():
        return value
    if callable(value) and not isinstance(value, str):
        return value
    raise ConfigError(
        "must be a channel name, or a function of the app id returning one (or None)",
        path="default_channel",
    )


def default_channel_for(default: DefaultChannel, app_id: str) -> str:
    """The default channel of ``app_id``; a function that fails means ``llm_notification``."""
    if isinstance(default, str):
        return default
    try:
        name = default(app_id)
    except Exception:
        logger.exception("default_channel(%r) failed; using %s", app_id, FALLBACK_CHANNEL)
        return FALLBACK_CHANNEL
    return name if isinstance(name, str) and name else FALLBACK_CHANNEL


def check_output_channel(
    registry: ChannelRegistry,
    app_id: str,
    name: str,
    *,
    error: type[ConfigError] = ConfigError,
) -> str:
    """``name`` if ``app_id`` has a channel by that name, else ``error`` on ``output_channel``."""
    names = registry.channel_names(app_id)
    if name not in names:
        raise error(unknown_key(name, names, noun="channel"), path="output_channel")
    return name
