"""What is masked: every form of a secret, before any cut, in every field of a result."""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitorn_notify import ChannelRegistry, DeliveryResult, FakeClock, Redactor
from digitorn_notify.secrets import mask_then_cut
from digitorn_notify.testing import search_forms
from tests.helpers import ScriptedChannel, local_http_server

pytestmark = pytest.mark.anyio

SECRET = "Zq7/K2vP+xWm9=Lr4TnB8s"
# Secrets of upper-case letters and digits, in text of lower-case letters: a form of
# the secret cannot appear in the surrounding text by chance.
secrets = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789/+=", min_size=16, max_size=40)
texts = st.text(alphabet="abcdefghijklmnopqrstuvwxyz :\n", max_size=300)


def leaked(text: str, secret: str) -> list[str]:
    return [name for name, form in search_forms(secret).items() if form in text]


def test_the_default_quote_form_is_masked() -> None:
    # quote() keeps '/', so this form differs from quote(safe="") and quote_plus().
    redactor = Redactor([SECRET])
    for form in (quote(SECRET), quote(SECRET, safe=""), quote_plus(SECRET)):
        assert redactor.redact(f"GET /x?t={form}") == "GET /x?t=***"


@given(secret=secrets, user=texts, before=texts, after=texts)
def test_base64_of_the_secret_inside_anything_is_masked(
    secret: str, user: str, before: str, after: str
) -> None:
    # HTTP Basic (user:secret) and SMTP AUTH PLAIN (\0user\0secret) put the secret at
    # any byte offset of a base64 text; whatever the offset, it is masked.
    redactor = Redactor([secret])
    for credentials in (f"{user}:{secret}", f"\0{user}\0{secret}", secret + after):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(credentials.encode()).decode()
            shown = redactor.redact(f"{before} 535 rejected {encoded} {after}")
            assert leaked(shown, secret) == []


@given(secret=secrets, before=texts, after=texts, limit=st.integers(0, 400))
def test_masked_then_cut_never_leaves_a_prefix(
    secret: str, before: str, after: str, limit: int
) -> None:
    redactor = Redactor([secret])
    shown = mask_then_cut(f"{before}Authorization: Bearer {secret}{after}", limit, redactor)
    assert len(shown) <= max(limit, 1)
    assert leaked(shown, secret) == []


async def test_a_webhook_error_cut_at_200_characters_leaves_no_prefix() -> None:
    token = "sk-live-9f8e7d6c5b4a3f2e1d0c9b8a"
    clock = FakeClock(autojump=True)
    with local_http_server() as server:
        # The server echoes the Authorization header so that the token straddles the
        # webhook's 200-character cut: 19 of its 28 characters came through before.
        padding = "x" * (200 - len("Authorization: Bearer ") - 19)
        server.respond = lambda r: (
            400,
            {},
            f"{padding}Authorization: {r.headers['Authorization']}".encode(),
        )
        registry = ChannelRegistry(clock=clock, load_plugins=False, secrets={"T": token}.get)
        async with registry:
            await registry.deploy_app(
                "app",
                {
                    "hook": {
                        "type": "webhook",
                        "config": {
                            "url": server.url,
                            "headers": {"Authorization": "Bearer {{secret.T}}"},
                        },
                        "fallback": None,
                    }
                },
            )
            result = await registry.deliver("hook", "app", "x")
            health = await registry.health("hook", "app")
    assert result.error is not None
    assert result.error.endswith("Authorization: ***")
    assert token[:8] not in result.error
    assert token[:8] not in str(health.last_error)


class Echoing(ScriptedChannel):
    CHANNEL_ID = "echoing"


async def test_result_metadata_and_delivery_id_are_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = DeliveryResult(
        success=True,
        channel_id="echoing",
        delivery_id=f"msg-{SECRET}",
        metadata={"response": {"echo": f"token={quote(SECRET)}", "list": [SECRET]}, SECRET: 1},
    )
    registry = ChannelRegistry(load_plugins=False, secrets={"S": SECRET}.get)
    registry.register_type(Echoing)
    async with registry:
        await registry.deploy_app(
            "app",
            {"e": {"type": "echoing", "config": {"script": [echo]}}},
            variables={"token": "{{secret.S}}"},
        )
        result = await registry.deliver("e", "app", "x")
    assert result.success
    assert result.delivery_id == "msg-***"
    assert result.metadata == {"response": {"echo": "token=***", "list": ["***"]}, "***": 1}
    assert leaked(repr(result) + caplog.text, SECRET) == []


def test_nested_data_past_the_depth_bound_is_masked_as_text() -> None:
    data: Any = SECRET
    for _ in range(40):
        data = {"a": [data]}
    assert SECRET not in repr(Redactor([SECRET]).redact_data(data))
