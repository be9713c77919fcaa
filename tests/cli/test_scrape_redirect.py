"""``otelkit scrape --token`` never carries the token through a redirect.

urllib follows a redirect with the request's headers, ``Authorization`` included: a /metrics
endpoint that answers ``302 Location: http://elsewhere/`` would receive the bearer token
elsewhere. scrape follows no redirect; it says where the answer points. Two real loopback
servers: one redirects to the other, which records every request it gets.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from tests.cli.conftest import json_of, run_otelkit

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN = "scrape-token-4f9b2c7e1d"
EXPOSITION = b"# TYPE up gauge\nup 1\n"


class Server:
    """A loopback HTTP server: ``answer(handler)`` answers each GET; headers are recorded."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.headers.append(dict(self.headers.items()))
                if redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(EXPOSITION)))
                self.end_headers()
                self.wfile.write(EXPOSITION)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/metrics"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(5)


@pytest.fixture
def elsewhere() -> Iterator[Server]:
    """Another origin (another port): it records what reaches it."""
    server = Server()
    yield server
    server.close()


@pytest.fixture
def redirecting(elsewhere: Server) -> Iterator[Server]:
    server = Server(redirect_to=elsewhere.url + "?from=redirect")
    yield server
    server.close()


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_redirect_is_not_followed_and_the_token_stays_home(
    redirecting: Server, elsewhere: Server, output: str
) -> None:
    result = run_otelkit(
        "scrape", redirecting.url, "--token", TOKEN, "--interval", "0.1", "-o", output
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert redirecting.headers[0]["Authorization"] == f"Bearer {TOKEN}"
    assert elsewhere.headers == []  # nothing reached the other origin, the token least of all
    shown = json_of(result)["error"] if output == "json" else result.stderr
    assert "answered HTTP 302, a redirect to" in shown
    assert elsewhere.url + "?from=redirect" in " ".join(shown.split())
    assert TOKEN not in result.stdout + result.stderr


def test_without_a_redirect_the_token_is_sent(elsewhere: Server) -> None:
    """The contrast: the endpoint itself gets the token, and is read."""
    result = run_otelkit("scrape", elsewhere.url, "--token", TOKEN, "--interval", "0.1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [h["Authorization"] for h in elsewhere.headers] == [f"Bearer {TOKEN}"] * 2
