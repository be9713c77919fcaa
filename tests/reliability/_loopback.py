"""Real servers on loopback for the secrets tests, and a client that sends a target verbatim.

``wsgi_server`` (the standard library's wsgiref) and ``uvicorn_server`` (uvicorn with h11) are
generators: the first ``next()`` starts the server and gives its port, the second stops it.
``get`` writes the request line itself, so an absolute-form target reaches the server as
written (HTTP clients would turn it into origin-form).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import uvicorn

from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def wsgi_server(app: Callable[..., Any]) -> Iterator[int]:
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def uvicorn_server(app: Any) -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http="h11", ws="none", lifespan="off", log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def get(port: int, target: str, headers: str = "") -> bytes:
    """One request with the target exactly as written, the response once the server closes."""
    request = f"GET {target} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n{headers}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request.encode("latin-1"))
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    return response
