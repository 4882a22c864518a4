"""A local server that fails in every way a network transport can, for leak tests.

:class:`FaultServer` listens on 127.0.0.1 only (never any other address) and offers
one :class:`FaultTarget` per way of failing:

- ``refused``: a port nothing listens on;
- ``http-4xx`` and ``http-5xx``: an HTTP server answering 401 and 500 with the
  request echoed in the body (request line, headers, body), as careless servers do;
  the echo is padded so that the first secret it carries straddles a different
  common cut length on each request (100, 128, 200 ... characters), which is where a
  text cut before it was masked leaves a prefix behind;
- ``timeout``: a TCP port that accepts connections and never answers;
- ``tls``: the HTTP port spoken to with TLS (``https://``): the handshake fails.

Targets are base URLs (``http://127.0.0.1:PORT/http-5xx``); a channel that appends a
path to a base URL (``{api_base}/bot{token}/sendMessage``) keeps the fault, because
the server picks it by the path's first segment. Non-HTTP transports (SMTP) use the
``refused``, ``timeout`` and ``tls`` targets' host and port.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final, Literal

import attrs

from digitorn_notify.testing._leaks import PREFIX_LENGTH, search_forms

__all__ = ["CUT_LENGTHS", "Fault", "FaultServer", "FaultTarget", "fault_server"]

Fault = Literal["refused", "http-4xx", "http-5xx", "timeout", "tls"]
#: Lengths texts are commonly cut to: each echo puts a secret across one of them.
CUT_LENGTHS: Final = (100, 128, 150, 200, 256, 300, 500, 512, 1000, 1024)
_HOST: Final = "127.0.0.1"


@attrs.frozen
class FaultTarget:
    """Where to point a channel so that it fails in the way ``fault`` names."""

    fault: str
    url: str
    host: str
    port: int

    @property
    def scheme(self) -> str:
        """``http`` or ``https`` (the ``tls`` target)."""
        return self.url.partition("://")[0]


@attrs.define
class FaultServer:
    """The running fault servers (see the module docstring); made by :func:`fault_server`."""

    http_port: int
    silent_port: int
    refused_port: int
    #: Requests received by the HTTP server, as raw text, in order.
    requests: list[str] = attrs.field(factory=list)

    def targets(self, faults: Iterable[str] | None = None) -> list[FaultTarget]:
        """One target per fault (all of them by default)."""
        table = {
            "refused": FaultTarget(
                "refused", f"http://{_HOST}:{self.refused_port}", _HOST, self.refused_port
            ),
            "http-4xx": FaultTarget(
                "http-4xx", f"http://{_HOST}:{self.http_port}/http-4xx", _HOST, self.http_port
            ),
            "http-5xx": FaultTarget(
                "http-5xx", f"http://{_HOST}:{self.http_port}/http-5xx", _HOST, self.http_port
            ),
            "timeout": FaultTarget(
                "timeout", f"http://{_HOST}:{self.silent_port}/timeout", _HOST, self.silent_port
            ),
            "tls": FaultTarget(
                "tls", f"https://{_HOST}:{self.http_port}/tls", _HOST, self.http_port
            ),
        }
        chosen = list(table) if faults is None else list(faults)
        unknown = [name for name in chosen if name not in table]
        if unknown:
            raise ValueError(f"unknown faults {unknown} (known: {', '.join(table)})")
        return [table[name] for name in chosen]


def _padded_echo(raw: str, secrets: list[str], cut: int) -> str:
    """``raw`` behind padding that puts the first secret form it holds across ``cut``."""
    intro = "request rejected; you sent:\n"
    for secret in secrets:
        for form in search_forms(secret).values():
            position = raw.find(form) if len(form) >= 8 else -1
            if position >= 0:
                # A few characters more than the searched prefix before the cut, the
                # rest after: a cut made before masking leaves a findable prefix.
                target = cut - (PREFIX_LENGTH + 2)
                pad = max(0, target - len(intro) - position)
                return "." * pad + intro + raw
    return intro + raw


@contextmanager
def fault_server(secrets: Iterable[str] = ()) -> Iterator[FaultServer]:
    """Run the fault servers for the block's duration (threads on 127.0.0.1).

    ``secrets`` tells the echoing HTTP server which values to place across the cut
    lengths (see the module docstring); the server never needs them otherwise.
    """
    known = list(secrets)
    state = FaultServer(http_port=0, silent_port=0, refused_port=0)
    counter = iter(range(1 << 30))

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            raw = f"{self.requestline}\r\n{self.headers}{body}"
            state.requests.append(raw)
            fault = self.path.lstrip("/").partition("/")[0]
            status = 401 if fault == "http-4xx" else 500
            cut = CUT_LENGTHS[next(counter) % len(CUT_LENGTHS)]
            echo = _padded_echo(raw, known, cut).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(echo)))
            self.end_headers()
            self.wfile.write(echo)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the leak search captures logs, and these are the test's own."""

    http = ThreadingHTTPServer((_HOST, 0), Handler)
    http.daemon_threads = True
    silent = socket.create_server((_HOST, 0))
    closed = socket.create_server((_HOST, 0))
    state.http_port = http.server_address[1]
    state.silent_port = silent.getsockname()[1]
    state.refused_port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more: connections are refused
    held: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:
        # Accept and say nothing: the client waits until its own timeout.
        silent.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = silent.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(connection)

    threads = [
        threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True),
        threading.Thread(target=hold, daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        yield state
    finally:
        stop.set()
        http.shutdown()
        http.server_close()
        for thread in threads:
            thread.join(timeout=5)
        silent.close()
        for connection in held:
            connection.close()
