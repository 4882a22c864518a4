"""The per-channel secret leak check: make a channel fail every way, then search.

:func:`check_channel_secrets` deploys a channel type in a fresh registry (SQLite
notification buffer, a fake clock so retries do not wait), points it at each
:class:`~digitorn_notify.testing.FaultTarget` in turn and delivers; then it makes the
channel's own code fail: ``__init__``, ``validate_config`` and ``on_start`` raising
with the secret in their text (a ``ConfigError`` and other exceptions), ``deliver``
raising it (plain, URL-quoted and base64), and ``deliver`` returning it in a result's
error and metadata. Every result, health record, channel ``repr``, deploy error
(its whole chain), log record and row of the SQLite buffer is searched for each
secret in the forms of :func:`~digitorn_notify.testing.search_forms`.
"""

from __future__ import annotations

import base64
import secrets as _random
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from digitorn_notify.channels.base import BaseOutputChannel
from digitorn_notify.channels.registry import ChannelRegistry
from digitorn_notify.clock import FakeClock
from digitorn_notify.errors import ConfigError
from digitorn_notify.payload import ChannelPayload, DeliveryResult
from digitorn_notify.retry import RetryPolicy
from digitorn_notify.storage.sqlite import SQLiteStore
from digitorn_notify.testing._faults import CUT_LENGTHS, FaultTarget
from digitorn_notify.testing._leaks import LeakProbe, LeakReport

__all__ = ["check_channel_secrets", "make_secret"]

_APP = "leak-check"
#: The ways the channel's own code is made to fail, with the secret in its text.
_PLUGIN_FAULTS = (
    "deliver-raises",
    "deliver-oserror",
    "deliver-echoes",
    "init-config-error",
    "init-error",
    "validate-error",
    "start-error",
)
_NAME = "probe"


def make_secret() -> str:
    """A random secret for leak tests: 40 characters with ``/``, ``+`` and ``=`` inside,
    so that its URL-quoted and base64 forms differ from it and from each other."""
    return f"{_random.token_urlsafe(15)}/{_random.token_urlsafe(9)}+{_random.token_urlsafe(6)}="


def _probe_type(
    channel_type: type[BaseOutputChannel], behaviour: str, values: list[str]
) -> type[BaseOutputChannel]:
    """A subclass of ``channel_type`` whose code fails as ``behaviour`` says.

    The texts it raises or returns carry ``values`` (the secrets) raw, URL-quoted
    and base64-encoded, as plugin code quoting its own config would.
    """
    quoted = [quote(v, safe="") for v in values] + [quote(v) for v in values]
    encoded = [base64.b64encode(f"user:{v}".encode()).decode() for v in values]
    text = f"token {' '.join(values)} quoted {' '.join(quoted)} basic {' '.join(encoded)}"

    class Probe(channel_type):  # type: ignore[valid-type, misc]
        CHANNEL_ID: ClassVar[str] = f"{channel_type.CHANNEL_ID}_probe"

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if behaviour == "init-config-error":
                raise ConfigError(f"invalid {text}", path="token")
            if behaviour == "init-error":
                raise RuntimeError(f"cannot build with {text}")
            super().__init__(*args, **kwargs)

        def validate_config(self) -> Any:
            if behaviour == "validate-error":
                raise ValueError(f"bad config {text}")
            return super().validate_config()

        async def on_start(self) -> None:
            if behaviour == "start-error":
                raise ConnectionError(f"login failed for {text}")
            await super().on_start()

        def retry_policy(self) -> RetryPolicy:
            # One retry: the retry path logs too, and more would only take time.
            return RetryPolicy(max_retries=1, backoff_base=0.1, backoff_max=0.1)

        async def deliver(
            self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
        ) -> DeliveryResult:
            if behaviour == "deliver-raises":
                raise RuntimeError(f"request failed: {text}")
            if behaviour == "deliver-oserror":
                raise OSError(f"connection reset while sending {text}")
            if behaviour == "deliver-echoes":
                return DeliveryResult(
                    success=False,
                    channel_id=self.CHANNEL_ID,
                    delivery_id=values[0],
                    error=f"server said: {text}",
                    retryable=True,
                    metadata={"echo": text, "nested": [{"token": v} for v in values]},
                )
            result: DeliveryResult = await super().deliver(app_id, payload, config)
            return result

    Probe.__name__ = Probe.__qualname__ = f"{channel_type.__name__}Probe"
    return Probe


async def check_channel_secrets(
    channel_type: type[BaseOutputChannel],
    *,
    config: Callable[[FaultTarget | None], Mapping[str, Any]],
    secrets: Mapping[str, str],
    targets: Iterable[FaultTarget] = (),
    variables: Mapping[str, Any] | None = None,
    per_delivery: Mapping[str, Any] | None = None,
    delivery_timeout: float = 1.0,
    echo_rounds: int = len(CUT_LENGTHS),
    ignore_loggers: Iterable[str] = (),
) -> LeakReport:
    """Make ``channel_type`` fail every way, and search everything it left for secrets.

    ``config(target)`` returns the channel's config block pointed at ``target`` (or
    at anything, for ``None``: the plugin-code scenarios never reach a server); put
    secrets in it as ``{{secret.NAME}}`` tokens, resolved from ``secrets``
    (``NAME -> value``; make values with :func:`make_secret`). ``variables`` is the
    app's ``variables:`` mapping, ``per_delivery`` the per-delivery config.
    HTTP ``http-4xx``/``http-5xx`` targets get ``echo_rounds`` deliveries, so that the
    echoed secret lands across each of the :data:`CUT_LENGTHS`. Records of
    ``ignore_loggers`` (the test's own servers, such as aiosmtpd's ``mail.log``) are
    not searched.

    Returns the :class:`LeakReport`; call its ``assert_clean()``.
    """
    values = list(secrets.values())
    probe = LeakProbe(values, ignore_loggers=ignore_loggers)
    with tempfile.TemporaryDirectory() as work, probe.capture_logs():
        buffer_path = Path(work) / "buffer.db"
        async with SQLiteStore(buffer_path) as buffer:
            scenarios: list[tuple[str, FaultTarget | None, int]] = []
            for fault in targets:
                echoes = fault.fault.startswith("http-")
                scenarios.append((fault.fault, fault, echo_rounds if echoes else 1))
            scenarios.extend((behaviour, None, 1) for behaviour in _PLUGIN_FAULTS)
            for behaviour, target, rounds in scenarios:
                probe.add_text("scenario", behaviour)
                await _run_scenario(
                    _probe_type(channel_type, behaviour, values),
                    behaviour,
                    config(target),
                    probe,
                    buffer=buffer,
                    secrets=secrets,
                    variables=variables,
                    per_delivery=per_delivery,
                    delivery_timeout=delivery_timeout,
                    rounds=rounds,
                )
        probe.add_sqlite("notification buffer", buffer_path)
    return probe.report()


async def _run_scenario(
    probe_type: type[BaseOutputChannel],
    label: str,
    block: Mapping[str, Any],
    probe: LeakProbe,
    *,
    buffer: SQLiteStore,
    secrets: Mapping[str, str],
    variables: Mapping[str, Any] | None,
    per_delivery: Mapping[str, Any] | None,
    delivery_timeout: float,
    rounds: int,
) -> None:
    registry = ChannelRegistry(
        clock=FakeClock(autojump=True),
        buffer=buffer,
        secrets=dict(secrets).get,
        load_plugins=False,
        start_timeout=max(5.0, delivery_timeout * 5),
    )
    registry.register_type(probe_type)
    async with registry:
        channels = {
            _NAME: {
                "type": probe_type.CHANNEL_ID,
                "config": dict(block),
                "delivery_timeout": delivery_timeout,
            }
        }
        try:
            await registry.deploy_app(_APP, channels, variables=variables)
        except Exception as exc:  # a deploy error is expected in some scenarios: searched
            probe.add_exception(f"{label}: deploy error", exc)
            return
        for number in range(rounds):
            payload = ChannelPayload(
                message=f"leak check {label} #{number}",
                title="leak check",
                structured_data={"scenario": label},
            )
            result = await registry.deliver(_NAME, _APP, payload, per_delivery)
            probe.add(f"{label}: result #{number}", result)
        probe.add(f"{label}: health", await registry.health(_NAME, _APP))
        probe.add(f"{label}: health_all", await registry.health_all(_APP))
        for name, channel in registry.instances(_APP).items():
            probe.add(f"{label}: repr of {name}", channel)
