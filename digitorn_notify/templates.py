"""``{{...}}`` substitution in configs, resolved once at deploy time.

Three kinds of token are resolved in config values:

- ``{{env.NAME}}``: an environment variable (treated as a secret);
- ``{{secret.NAME}}``: a value from the :class:`~digitorn_notify.secrets.SecretProvider`;
- ``{{name}}`` (or ``{{name.key}}``): an entry of the app's ``variables:`` mapping.

Tokens whose root is a runtime name (``{{message}}``, ``{{title}}``,
``{{structured_data.x}}``, ``{{event.path}}``, ``{{session_id}}`` ...) are left in
place: they belong to payload templates filled in at delivery time. Any other
unknown token is a :class:`~digitorn_notify.errors.ConfigError` naming the path.

A string made from a secret becomes a :class:`~digitorn_notify.secrets.Secret`,
and every secret value is reported so the caller can redact it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from digitorn_notify.errors import ConfigError
from digitorn_notify.secrets import MIN_SECRET_LENGTH, Secret, SecretProvider

__all__ = ["RUNTIME_TEMPLATE_NAMES", "VariableResolver"]

TOKEN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_\-]+)*)\s*\}\}")

#: Roots of tokens that are filled at delivery or activation time, never at deploy time.
RUNTIME_TEMPLATE_NAMES = frozenset(
    {
        "app_id",
        "error",
        "event",
        "job_id",
        "label",
        "message",
        "metadata",
        "priority",
        "result",
        "rich_message",
        "run_count",
        "session_id",
        "structured_data",
        "tags",
        "thread_id",
        "timestamp",
        "title",
        "tool_name",
        "trigger_type",
    }
)

_MISSING = object()


class VariableResolver:
    """Resolves ``{{...}}`` tokens in nested config data and remembers the secrets it used."""

    def __init__(
        self,
        *,
        variables: Mapping[str, Any] | None = None,
        secrets: SecretProvider,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._secrets = secrets
        self._environ = os.environ if environ is None else environ
        #: Every secret value substituted so far (for redaction).
        self.secret_values: set[str] = set()
        #: Paths where a secret too short to be masked was used (worth a warning).
        self.unmaskable: list[str] = []
        self._variables: dict[str, Any] = {}
        for name, value in (variables or {}).items():
            # Variables may use env/secret tokens but not other variables: no cycles.
            self._variables[name] = self._resolve(value, f"variables.{name}", allow_vars=False)

    def resolve(self, data: Any, path: str) -> Any:
        """Return ``data`` with tokens resolved; ``path`` names it in errors."""
        return self._resolve(data, path, allow_vars=True)

    def _resolve(self, data: Any, path: str, *, allow_vars: bool) -> Any:
        if isinstance(data, str):
            return self._resolve_str(data, path, allow_vars=allow_vars)
        if isinstance(data, Mapping):
            return {
                key: self._resolve(value, f"{path}.{key}", allow_vars=allow_vars)
                for key, value in data.items()
            }
        if isinstance(data, list | tuple):
            return [
                self._resolve(value, f"{path}[{index}]", allow_vars=allow_vars)
                for index, value in enumerate(data)
            ]
        return data

    def _lookup(self, name: str, path: str, *, allow_vars: bool) -> tuple[Any, bool]:
        """The value of token ``name`` and whether it is secret; ``_MISSING`` to leave it."""
        root, _, rest = name.partition(".")
        if root == "env" and rest:
            value = self._environ.get(rest)
            if value is None:
                raise ConfigError(
                    f"environment variable {rest} is not set (used as {{{{env.{rest}}}}})",
                    path=path,
                )
            return value, True
        if root == "secret" and rest:
            secret = self._secrets.get(rest)
            if secret is None:
                raise ConfigError(
                    f"secret {rest} is not defined (used as {{{{secret.{rest}}}}})", path=path
                )
            return secret, True
        if root in RUNTIME_TEMPLATE_NAMES:
            return _MISSING, False
        if allow_vars and root in self._variables:
            value = self._variables[root]
            for step in rest.split(".") if rest else ():
                if not isinstance(value, Mapping) or step not in value:
                    raise ConfigError(f"variable {name} is not defined", path=path)
                value = value[step]
            # Secrecy is per value: only leaves made from a secret are Secret strings.
            return value, isinstance(value, Secret)
        where = "variables" if allow_vars else "environment or secrets"
        raise ConfigError(
            f"unknown variable {{{{{name}}}}}: define it under {where}, or use "
            "{{env.NAME}} / {{secret.NAME}}",
            path=path,
        )

    def _resolve_str(self, text: str, path: str, *, allow_vars: bool) -> Any:
        if "{{" not in text:
            return text
        whole = TOKEN.fullmatch(text.strip())
        if whole is not None:
            # A whole-string token keeps the variable's type (a port stays an int).
            value, secret = self._lookup(whole.group(1), path, allow_vars=allow_vars)
            if value is _MISSING:
                return text
            return self._mark(value, secret, path)

        used_secret = False

        def substitute(match: re.Match[str]) -> str:
            nonlocal used_secret
            value, secret = self._lookup(match.group(1), path, allow_vars=allow_vars)
            if value is _MISSING:
                return match.group(0)
            used_secret = used_secret or secret
            if secret:
                self._remember(str(value), path)
            return str(value)

        result = TOKEN.sub(substitute, text)
        return Secret(result) if used_secret else result

    def _remember(self, value: str, path: str) -> None:
        self.secret_values.add(value)
        if len(value) < MIN_SECRET_LENGTH and path not in self.unmaskable:
            self.unmaskable.append(path)

    def _mark(self, value: Any, secret: bool, path: str) -> Any:
        if not secret:
            return value
        self._remember(str(value), path)
        return Secret(value) if isinstance(value, str) else value
