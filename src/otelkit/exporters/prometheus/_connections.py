"""The metrics listener's connections: one waiting thread, a bounded pool of handler threads.

One thread (``otelkit-metrics``) waits on the listening socket and on every open connection,
and reads each request's line and headers as they arrive, without blocking; a connection whose
request head is complete goes to one of at most ``MAX_WORKERS`` handler threads, which answers
it and hands the connection back. An idle connection costs a file descriptor, not a thread (one
thread per connection took 369 threads for 800 idle connections), and so does a client that
trickles its request in: a handler thread never waits for a client's bytes (when handler
threads read the heads, 20 clients sending a byte a second held all 16 for the 5 s deadline,
and a scrape among them waited 3.5 s). Bounds, all constants of this module:

* ``MAX_WORKERS`` handler threads, started when requests need them, kept until close;
* ``MAX_CONNECTIONS`` open connections: one more closes the connection idle for longest (a
  scraper reconnects; refusing the newcomer instead would let idle sockets lock Prometheus out);
* ``IDLE_TIMEOUT``: a new connection must start its request (TLS handshake included) within
  it, and every write of a response must progress within it;
* ``HEADER_DEADLINE``: a request's line and headers must have arrived within it of its first
  byte, however steadily they trickle in; ``MAX_HEAD`` bytes at most;
* ``KEEPALIVE_TIMEOUT``: a kept-alive connection idle longer is closed (above the usual 15 s to
  1 min scrape intervals, so Prometheus keeps its connection).

Each response leaves in one ``sendall`` and connections set ``TCP_NODELAY``: headers and body
written separately waited ~40 ms for the delayed ACK on a kept-alive connection (Nagle).

With a TLS context (``OTELKIT_PROMETHEUS_TLS_CERT`` / ``_KEY``) every accepted connection is
wrapped before anything is read; the waiting thread makes the handshake as the client's bytes
arrive, within ``IDLE_TIMEOUT``, so a client that connects and never completes it costs no more
than an idle one.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import selectors
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed import ReadableBuffer

logger = logging.getLogger("otelkit")

MAX_WORKERS = 16
MAX_CONNECTIONS = 256
IDLE_TIMEOUT = 5.0
HEADER_DEADLINE = 5.0
MAX_HEAD = 64 * 1024
KEEPALIVE_TIMEOUT = 75.0
_ACCEPTS_PER_WAKE = 64  # then look at the connections again: a flood of connects cannot starve them


class _SocketWriter(io.BufferedIOBase):
    """Each write is one ``sendall`` (a raw socket file may write only part of it)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        self._sock.sendall(data)
        with memoryview(data) as view:
            return view.nbytes


class RequestHandler(BaseHTTPRequestHandler):
    """Answers one request at a time of one connection (``handle_one_request``), never loops."""

    protocol_version = "HTTP/1.1"  # keep-alive, as Prometheus reuses its connection

    def __init__(  # no super().__init__(): that would serve the connection to its end
        self, connection: socket.socket, client_address: Any
    ) -> None:
        self.request = self.connection = connection
        self.client_address = client_address
        self.close_connection = True
        self.rfile: io.BufferedIOBase = io.BytesIO()
        self.wfile = _SocketWriter(connection)

    def answer(self, head: bytes) -> None:
        """Answer the request whose line and headers are ``head`` (already read)."""
        self.rfile = io.BytesIO(head)
        self.connection.settimeout(IDLE_TIMEOUT)  # the waiting thread reads without blocking
        self.handle_one_request()

    def send_whole(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Status line, headers and body in one write."""
        self.log_request(status)
        reason = self.responses.get(status, ("",))[0]
        lines = [
            f"{self.protocol_version} {status} {reason}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            *(f"{name}: {value}" for name, value in headers),
        ]
        if not any(name.lower() == "content-length" for name, _ in headers):
            lines.append(f"Content-Length: {len(body)}")
        head = "\r\n".join(lines).encode("latin-1", "strict") + b"\r\n\r\n"
        self.wfile.write(head + body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("otelkit metrics endpoint: " + format, *args)


class _Connection:
    __slots__ = ("deadline", "handler", "handshaken", "received", "sock")

    def __init__(self, sock: socket.socket, handler: RequestHandler) -> None:
        self.sock = sock
        self.handler = handler
        self.deadline = time.monotonic() + IDLE_TIMEOUT
        self.handshaken = not isinstance(sock, ssl.SSLSocket)
        self.received = bytearray()  # of the requests not yet answered

    def next_head(self) -> bytes | None:
        """The line and headers of the next request, taken from ``received``, once complete."""
        end = _head_end(self.received)
        if end is None:
            return None
        head = bytes(self.received[:end])
        del self.received[:end]
        return head


def _head_end(received: bytearray) -> int | None:
    """Where the request head at the start of ``received`` ends (its blank line included)."""
    ends = [i for i in (received.find(b"\r\n\r\n"), received.find(b"\n\n")) if i >= 0]
    if not ends:
        return None
    end = min(ends)
    return end + (4 if received.startswith(b"\r\n\r\n", end) else 2)


def _close(sock: socket.socket) -> None:
    # shutdown() first: the peer sees the end even if a forked process still holds the socket.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class ConnectionServer:
    """Serves ``listening`` (non-blocking, possibly shared with other processes)."""

    def __init__(
        self,
        listening: socket.socket,
        make_handler: Callable[[socket.socket, Any], RequestHandler],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.socket = listening
        self._tls = tls
        self._make_handler = make_handler
        self._closing = False
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()  # every connection, idle or being served
        self._idle: dict[socket.socket, _Connection] = {}  # poller thread only; oldest first
        self._returned: list[_Connection] = []  # handed back by workers, under _lock
        self._ready: queue.SimpleQueue[_Connection | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._waiting_workers = 0
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.socket, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)

    # -- the waiting thread ------------------------------------------------------------------

    def serve_forever(self) -> None:
        while not self._closing:
            timeout = self._expire_idle(time.monotonic())
            for key, _ in self._selector.select(timeout):
                try:
                    if key.fileobj is self.socket:
                        self._accept()
                    elif key.fileobj is self._wake_r:
                        self._take_returned()
                    elif self._idle.get(key.fileobj) is key.data:  # type: ignore[call-overload]
                        self._receive(key.data)  # (not dropped earlier in this turn)
                except Exception:  # the listener must outlive any one connection
                    logger.debug("otelkit metrics endpoint: serving loop error", exc_info=True)

    def _accept(self) -> None:
        for _ in range(_ACCEPTS_PER_WAKE):
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return  # another process sharing the socket took it, or none left
            except OSError:
                logger.debug("otelkit metrics endpoint: accept failed", exc_info=True)
                return
            if not self._make_room():
                _close(sock)
                continue
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
                if self._tls is not None:  # the handshake: as the client's bytes arrive
                    sock = self._tls.wrap_socket(
                        sock, server_side=True, do_handshake_on_connect=False
                    )
                connection = _Connection(sock, self._make_handler(sock, address))
            except OSError:
                _close(sock)
                continue
            with self._lock:
                self._open.add(sock)
            self._wait_for_request(connection)

    def _make_room(self) -> bool:
        with self._lock:
            if len(self._open) < MAX_CONNECTIONS:
                return True
        if not self._idle:
            return False
        oldest = next(iter(self._idle.values()))
        self._drop(oldest)
        return True

    def _wait_for_request(self, connection: _Connection) -> None:
        connection.sock.setblocking(False)
        self._idle[connection.sock] = connection
        self._selector.register(connection.sock, selectors.EVENT_READ, connection)

    def _receive(self, connection: _Connection) -> None:
        """Read what the client sent, without waiting; a complete request head goes to a
        handler thread, a closed or failed connection is dropped."""
        sock, received = connection.sock, connection.received
        try:
            if not connection.handshaken:
                sock.do_handshake()  # type: ignore[attr-defined]
                connection.handshaken = True
            while True:
                data = sock.recv(65536)
                if not data:
                    self._drop(connection)  # the client closed its end
                    return
                if not received:  # a request starts: its head has HEADER_DEADLINE to arrive
                    connection.deadline = time.monotonic() + HEADER_DEADLINE
                received += data
                if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                    break
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass  # nothing (more) to read yet
        except OSError:  # a reset, a failed handshake
            self._drop(connection)
            return
        if _head_end(received) is not None:
            self._dispatch(connection)
        elif len(received) > MAX_HEAD:
            self._drop(connection)

    def _dispatch(self, connection: _Connection) -> None:
        self._selector.unregister(connection.sock)
        del self._idle[connection.sock]
        with self._lock:
            start_worker = self._waiting_workers == 0 and len(self._workers) < MAX_WORKERS
            if start_worker:
                worker = threading.Thread(
                    target=self._work, name="otelkit-metrics-handler", daemon=True
                )
                self._workers.append(worker)
        if start_worker:
            worker.start()
        self._ready.put(connection)

    def _take_returned(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        with self._lock:
            returned, self._returned = self._returned, []
        for connection in returned:
            self._wait_for_request(connection)
            if _head_end(connection.received) is not None:  # pipelined past the turns
                self._dispatch(connection)

    def _expire_idle(self, now: float) -> float:
        """Close connections idle too long; the seconds until the next one expires (≤ 1)."""
        expired = [c for c in self._idle.values() if c.deadline <= now]
        for connection in expired:
            self._drop(connection)
        upcoming = min((c.deadline for c in self._idle.values()), default=now + 1)
        return max(0.0, min(upcoming - now, 1.0))

    def _drop(self, connection: _Connection) -> None:
        self._selector.unregister(connection.sock)
        del self._idle[connection.sock]
        self._forget(connection.sock)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        _close(sock)

    # -- the handler threads -----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._lock:
                self._waiting_workers += 1
            connection = self._ready.get()
            with self._lock:
                self._waiting_workers -= 1
            if connection is None or self._closing:
                if connection is not None:
                    self._forget(connection.sock)
                return
            self._serve(connection)

    def _serve(self, connection: _Connection) -> None:
        handler = connection.handler
        try:
            for _ in range(100):  # pipelined requests already read: bounded, then back in line
                head = connection.next_head()
                if head is None:
                    break
                handler.answer(head)
                if handler.close_connection or self._closing:
                    self._forget(connection.sock)
                    return
        except Exception:  # a scraper that hangs up mid-response is routine: no traceback
            logger.debug(
                "otelkit metrics endpoint: error serving %s",
                handler.client_address,
                exc_info=True,
            )
            self._forget(connection.sock)
            return
        started = bool(connection.received)  # the start of a next request: its head is due
        connection.deadline = time.monotonic() + (HEADER_DEADLINE if started else KEEPALIVE_TIMEOUT)
        with self._lock:
            self._returned.append(connection)
        with contextlib.suppress(OSError):  # full: the waiting thread is awake anyway
            self._wake_w.send(b"\0")
        if self._closing:
            self._forget(connection.sock)

    # -- closing -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Make ``serve_forever`` return (within a loop turn)."""
        self._closing = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def close(self) -> None:
        """After ``serve_forever`` returned: close the listening socket and every connection."""
        self._closing = True
        self._selector.close()
        with contextlib.suppress(OSError):
            self.socket.close()
        with self._lock:
            connections, self._open = self._open, set()
            workers = list(self._workers)
        for sock in connections:
            _close(sock)
        for _ in workers:
            self._ready.put(None)
        self._wake_r.close()
        self._wake_w.close()

    def abandon(self) -> None:
        """In a forked child: drop this process's copies of the parent's connections.

        Closing the copies only (no ``shutdown()``, nothing unregistered from the selector,
        whose kernel object the parent shares): the parent keeps serving them.
        """
        for sock in list(self._open):
            with contextlib.suppress(OSError):
                sock.close()
        self._open = set()
        self._idle = {}
        with contextlib.suppress(OSError):
            self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
