"""Running channel code at deploy time without letting its secrets out.

A channel's ``__init__``, ``validate_config`` and ``on_start`` are plugin code: what
they raise may quote the config, secrets included, and may never return. The
registry turns what they raise into a :class:`ConfigError` that

- names the path (``channels.<name>.config.<field>`` for a plugin's own
  ``ConfigError``, ``channels.<name>`` otherwise),
- carries only masked text, and
- keeps no reference to the original exception: it is built inside the ``except``
  block and raised outside it, so neither ``__cause__`` nor ``__context__`` (which
  ``raise ... from None`` only hides from tracebacks) leads back to the secret.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

import anyio

from digitorn_notify.channels.builtin._http import is_sensitive_header, url_secrets
from digitorn_notify.errors import ConfigError
from digitorn_notify.secrets import Redactor, config_secrets

__all__ = ["START_TIMEOUT", "deploy_error", "guarded", "literal_secrets", "start_guarded"]

#: How long one ``on_start`` may take before the deployment is refused.
START_TIMEOUT: Final = 30.0

T = TypeVar("T")
_MAX_DEPTH: Final = 32


def literal_secrets(config: Mapping[str, Any]) -> list[str]:
    """What in a config block may be a secret written literally, before the channel
    (which knows its fields: ``sensitive_values()``) exists to say.

    Values under a sensitive-looking key (``token``, ``password``, ``api_key``,
    ``Authorization`` ...), the credentials, path and query of every URL, and the
    resolved secrets. Used to mask what a channel's constructor raised.
    """
    found = list(config_secrets(config))
    stack: list[tuple[Any, Any, int]] = [(None, config, 0)]
    while stack:
        key, value, depth = stack.pop()
        if isinstance(value, str):
            if key is not None and is_sensitive_header(str(key)):
                found.append(value)
            if "://" in value:
                found.extend(url_secrets(value))
        elif depth < _MAX_DEPTH and isinstance(value, Mapping):
            stack.extend((k, v, depth + 1) for k, v in value.items())
        elif depth < _MAX_DEPTH and isinstance(value, list | tuple):
            stack.extend((key, v, depth + 1) for v in value)
    return found


def deploy_error(
    exc: BaseException, redactor: Redactor | Callable[[str], str], path: str, what: str
) -> ConfigError:
    """The :class:`ConfigError` reporting ``exc``, raised by channel code at ``path``.

    A plugin's ``ConfigError`` keeps its reason (masked) and has its path put under
    ``path`` (``channels.<name>.config``); anything else is reported as ``what``
    with its type and masked text. Raise the result *outside* the ``except`` block.
    """
    redact = redactor.redact if isinstance(redactor, Redactor) else redactor
    if isinstance(exc, ConfigError):
        sub = exc.path
        full = path if not sub else sub if sub.startswith(f"{path}.") else f"{path}.{sub}"
        return ConfigError(redact(exc.reason), path=full)
    return ConfigError(redact(f"{what}: {type(exc).__name__}: {exc}"), path=path)


def guarded(
    call: Callable[[], T],
    redactor: Redactor | Callable[[str], str],
    *,
    config_path: str,
    path: str,
    what: str,
) -> T:
    """``call()``; what it raises becomes a detached, masked :class:`ConfigError`.

    A plugin's ``ConfigError`` is reported under ``config_path``; any other exception
    under ``path``.
    """
    error: ConfigError | None = None
    try:
        return call()
    except ConfigError as exc:
        error = deploy_error(exc, redactor, config_path, what)
    except Exception as exc:
        error = deploy_error(exc, redactor, path, what)
    raise error  # outside the except blocks: no __context__ back to the secret


async def start_guarded(
    start: Callable[[], Awaitable[None]],
    redactor: Redactor,
    *,
    name: str,
    limit: float = START_TIMEOUT,
) -> None:
    """Run channel ``name``'s ``on_start``, bounded by ``limit`` seconds.

    Raises a detached :class:`ConfigError` when it fails (at ``channels.<name>``, or
    ``channels.<name>.config.<field>`` for a plugin's own ``ConfigError``) or when it
    does not finish in time (naming the channel).
    """
    path = f"channels.{name}"
    error: ConfigError | None = None
    try:
        with anyio.move_on_after(limit) as scope:
            await start()
    except ConfigError as exc:
        error = deploy_error(exc, redactor, f"{path}.config", "on_start failed")
    except Exception as exc:
        error = deploy_error(exc, redactor, path, "on_start failed")
    else:
        if scope.cancelled_caught:
            error = ConfigError(
                f"on_start of channel {name!r} did not finish within {limit:g} s", path=path
            )
    if error is not None:
        raise error
