"""``JobSpec``: what a job does and where it reports, checked in one place.

The four ``schedule_*`` methods and ``remember`` keep explicit keyword signatures;
each turns its keywords into one :class:`JobSpec` through the one converter, so the
rules live here once and every error is an
:class:`~digitorn_notify.errors.InvalidJobError` naming the argument (``tool_params``,
``misfire_grace``) and what is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from digitorn_notify._convert import structure
from digitorn_notify._validators import identifier, json_object, non_empty, optional_identifier
from digitorn_notify.errors import InvalidJobError
from digitorn_notify.scheduler.jobs import ActionType
from digitorn_notify.timeexpr._zone import zone_named

__all__ = ["JobSpec", "job_spec"]


def _zone(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None:
        try:
            zone_named(value)
        except ValueError as exc:
            raise InvalidJobError(str(exc).split("\n")[0], path=attribute.name) from None


def _tool_params(value: Any) -> dict[str, Any]:
    return json_object(value, "tool_params")


def _output_config(value: Any) -> dict[str, Any]:
    return json_object(value, "output_config")


def _not_negative(_: Any, attribute: attrs.Attribute[Any], value: float | int | None) -> None:
    if value is not None and value < 0:
        raise InvalidJobError(f"must be >= 0, got {value!r}", path=attribute.name)


@attrs.frozen(kw_only=True)
class JobSpec:
    """The arguments every way of creating a job shares, checked.

    ``action_type`` ``tool_call`` needs ``tool_name``; ``notification`` and
    ``llm_prompt`` need ``prompt``. ``output_channel`` ``None`` means the
    scheduler's ``default_channel``. ``max_runs`` 0 is unlimited; ``misfire_grace``
    ``None`` runs a late run however late. ``timezone`` ``None`` is the scheduler's.
    ``job_id`` ``None`` draws a random id.
    """

    app_id: str = attrs.field(validator=identifier)
    session_id: str | None = attrs.field(default=None, validator=non_empty)
    action_type: ActionType = ActionType.NOTIFICATION
    tool_name: str | None = None
    tool_params: dict[str, Any] = attrs.field(factory=dict, converter=_tool_params)
    prompt: str = ""
    label: str = ""
    output_channel: str | None = attrs.field(default=None, validator=non_empty)
    output_config: dict[str, Any] = attrs.field(factory=dict, converter=_output_config)
    max_runs: int = attrs.field(default=0, validator=_not_negative)
    misfire_grace: float | None = attrs.field(default=None, validator=_not_negative)
    timezone: str | None = attrs.field(default=None, validator=_zone)
    job_id: str | None = attrs.field(default=None, validator=optional_identifier)
    replace_existing: bool = False

    def __attrs_post_init__(self) -> None:
        action = self.action_type
        if action is ActionType.TOOL_CALL:
            if not (self.tool_name or "").strip():
                raise InvalidJobError(
                    "a tool_call job needs tool_name, the host tool to run (e.g. 'http.get')",
                    path="tool_name",
                )
        else:
            if self.tool_name is not None:
                raise InvalidJobError(
                    f"only tool_call jobs take a tool_name, not {action.value} jobs",
                    path="tool_name",
                )
            if not self.prompt.strip():
                raise InvalidJobError(
                    f"a {action.value} job needs prompt, the message it carries", path="prompt"
                )


def job_spec(arguments: Mapping[str, Any]) -> JobSpec:
    """A :class:`JobSpec` from keyword arguments, or :class:`InvalidJobError`."""
    return structure(dict(arguments), JobSpec, error=InvalidJobError)
