"""The conformance kit: checks a channel (built-in or plugin) can run in your own tests.

Importing it needs nothing beyond the library's own dependencies; it is not imported
by ``import digitorn_notify``.

The secret leak check makes a channel fail every way its transport can and searches
everything it left behind for each secret, raw, URL-quoted, base64-encoded and as an
8-character prefix::

    from digitorn_notify.testing import check_channel_secrets, fault_server, make_secret

    async def test_my_channel_never_leaks_its_token():
        token = make_secret()
        with fault_server([token]) as server:
            report = await check_channel_secrets(
                MyChannel,
                config=lambda target: {
                    "token": "{{secret.TOKEN}}",
                    "api_base": target.url if target else "http://127.0.0.1:9",
                },
                secrets={"TOKEN": token},
                targets=server.targets(),
            )
        report.assert_clean()

See ``docs/security.md`` for what it covers.
"""

from digitorn_notify.testing._faults import (
    CUT_LENGTHS,
    Fault,
    FaultServer,
    FaultTarget,
    fault_server,
)
from digitorn_notify.testing._kit import check_channel_secrets, make_secret
from digitorn_notify.testing._leaks import Finding, LeakProbe, LeakReport, search_forms

__all__ = [
    "CUT_LENGTHS",
    "Fault",
    "FaultServer",
    "FaultTarget",
    "Finding",
    "LeakProbe",
    "LeakReport",
    "check_channel_secrets",
    "fault_server",
    "make_secret",
    "search_forms",
]
