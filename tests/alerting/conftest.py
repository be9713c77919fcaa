"""Real peers for the alert channels: a loopback HTTP server and an ``aiosmtpd`` mail server."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from otelkit.alerting import _callbacks
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from email.message import EmailMessage

WEBHOOK_PATH = "/services/T000/B000/s3cr3t-token"


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Answer:
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None
    """If given, the answer waits until the test sets it (at most 10 s)."""


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (a timeout test) closed the socket: nothing to report."""


class WebhookReceiver:
    """A ThreadingHTTPServer on 127.0.0.1 that records POSTs and answers from a script."""

    def __init__(self) -> None:
        self.received: list[Posted] = []
        self.script: list[Answer] = []
        """Answers to give, in order; once used up, 200."""
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with receiver._changed:
                    answer = receiver.script.pop(0) if receiver.script else Answer()
                    receiver.received.append(Posted(self.path, dict(self.headers), body))
                    receiver._changed.notify_all()
                if answer.delay:
                    time.sleep(answer.delay)
                if answer.hold is not None:
                    answer.hold.wait(10)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{WEBHOOK_PATH}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Posted]:
        """The first ``count`` requests, waiting for them up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(self.received)} webhook requests, not {count}")
                self._changed.wait(remaining)
            return list(self.received[:count])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


class Mailbox:
    """The aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.logins: list[tuple[bytes, bytes]] = []
        self._changed = threading.Condition()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._changed:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(
        self, count: int, timeout: float = 10.0
    ) -> list[tuple[str, list[str], EmailMessage]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(self.messages)} e-mails, not {count}")
                self._changed.wait(remaining)
            return list(self.messages[:count])


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox


SMTP_USER, SMTP_PASSWORD = "alerts", "hunter2-smtp"


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def _start_smtp(**options: Any) -> tuple[Controller, SmtpServer]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller, SmtpServer("127.0.0.1", port, mailbox)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real aiosmtpd server on a free loopback port, no authentication."""
    controller, server = _start_smtp()
    yield server
    controller.stop()


@pytest.fixture
def smtp_server_with_login() -> Iterator[SmtpServer]:
    """aiosmtpd offering AUTH (over plain text: it is on loopback), for one user."""
    mailbox_holder: list[Mailbox] = []

    def authenticate(
        server: object, session: object, envelope: object, mechanism: str, auth_data: object
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            mailbox_holder[0].logins.append((auth_data.login, auth_data.password))
            ok = (
                auth_data.login == SMTP_USER.encode()
                and auth_data.password == SMTP_PASSWORD.encode()
            )
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)

    controller, server = _start_smtp(authenticator=authenticate, auth_require_tls=False)
    mailbox_holder.append(server.mailbox)
    yield server
    controller.stop()


@pytest.fixture
def collected() -> Iterator[list[Any]]:
    """Every alert handed to ``on_alert`` callbacks during the test."""
    seen: list[Any] = []
    _callbacks.on_alert(seen.append)
    yield seen
    _callbacks.remove_callback(seen.append)
