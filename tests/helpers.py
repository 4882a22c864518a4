"""Channels and servers shared by the tests."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import anyio
import attrs

from digitorn_notify import (
    BaseOutputChannel,
    ChannelPayload,
    DeliveryResult,
    RecipientContext,
    RetryPolicy,
)


class RecordingChannel(BaseOutputChannel):
    """Succeeds, and remembers what it was given."""

    CHANNEL_ID: ClassVar[str] = "recording"
    CHANNEL_NAME: ClassVar[str] = "Recording"
    CHANNEL_VERSION: ClassVar[str] = "1.0.0"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, ChannelPayload, dict[str, Any]]] = []
        self.started = 0
        self.stopped = 0

    async def on_start(self) -> None:
        self.started += 1

    async def on_stop(self) -> None:
        self.stopped += 1

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        self.calls.append((app_id, payload, config))
        return DeliveryResult(
            success=True, channel_id=self.CHANNEL_ID, delivery_id=str(len(self.calls))
        )


class ScriptedChannel(BaseOutputChannel):
    """Returns the results (or raises the exceptions) of ``channel_config['script']`` in turn."""

    CHANNEL_ID: ClassVar[str] = "scripted"
    CHANNEL_NAME: ClassVar[str] = "Scripted"
    CHANNEL_VERSION: ClassVar[str] = "1.0.0"
    POLICY: ClassVar[RetryPolicy] = RetryPolicy()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.script: list[Any] = list(self.channel_config.get("script", []))
        self.attempts = 0

    def retry_policy(self) -> RetryPolicy:
        return self.channel_config.get("policy", self.POLICY)  # type: ignore[no-any-return]

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        self.attempts += 1
        step = self.script.pop(0) if self.script else DeliveryResult(True, self.CHANNEL_ID)
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return await step()  # type: ignore[no-any-return]
        return step  # type: ignore[no-any-return]


def fail(
    error: str = "boom", *, retryable: bool = True, retry_after: float | None = None
) -> DeliveryResult:
    return DeliveryResult(
        False, "scripted", error=error, retryable=retryable, retry_after=retry_after
    )


class SlowChannel(BaseOutputChannel):
    CHANNEL_ID: ClassVar[str] = "slow"
    CHANNEL_NAME: ClassVar[str] = "Slow"
    CHANNEL_VERSION: ClassVar[str] = "1.0.0"

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        await anyio.sleep(float(self.channel_config.get("seconds", 10)))
        return DeliveryResult(True, self.CHANNEL_ID)


class LookupChannel(RecordingChannel):
    """Resolves the recipient from the session, like the spec's SmartSMS example."""

    CHANNEL_ID: ClassVar[str] = "lookup"

    async def resolve_recipient(self, context: RecipientContext) -> dict[str, Any]:
        if not context.session_id:
            return context.output_config
        resolved = {"to_number": f"+33-{context.session_id}", "source": "lookup"}
        resolved.update(context.output_config)
        return resolved


@attrs.define
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@attrs.define
class LocalHTTPServer:
    """A real HTTP server on 127.0.0.1 whose answers the test scripts."""

    url: str
    requests: list[Recorded]
    #: ``(request) -> (status, headers, body)``; the default answers 200 ``{}``.
    respond: Callable[[Recorded], tuple[int, dict[str, str], bytes]]


@contextmanager
def local_http_server(tls: ssl.SSLContext | None = None) -> Iterator[LocalHTTPServer]:
    """The server; with ``tls`` (a server-side context) it speaks HTTPS."""
    state = LocalHTTPServer(url="", requests=[], respond=lambda r: (200, {}, b"{}"))

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            record = Recorded(self.command, self.path, dict(self.headers), self.rfile.read(length))
            state.requests.append(record)
            status, headers, body = state.respond(record)
            self.log_request(status)
            # send_response_only: a scripted Date header replaces the automatic one.
            self.send_response_only(status)
            if "Date" not in headers:
                self.send_header("Date", self.date_time_string())
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = _handle

        def handle(self) -> None:
            # The client may leave before the answer (a test's timeout, a cancelled
            # delivery): expected here, and not worth socketserver's traceback.
            with contextlib.suppress(ConnectionError):
                super().handle()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    state.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    # A short poll interval: shutdown() waits up to one interval.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def scripted(
    *steps: tuple[int, dict[str, str], bytes] | float,
) -> Callable[[Recorded], tuple[int, dict[str, str], bytes]]:
    """A ``respond`` that answers with ``steps`` in turn (then 200); a float sleeps first.

    ``scripted(0.5, (200, {}, b"{}"))`` answers the first request after half a second.
    """
    queue = list(steps)
    lock = threading.Lock()

    def respond(_: Recorded) -> tuple[int, dict[str, str], bytes]:
        while True:
            with lock:
                step = queue.pop(0) if queue else (200, {}, b"{}")
            if isinstance(step, float | int):
                time.sleep(step)
                continue
            return step

    return respond
