"""The ``webhook`` channel: a JSON POST that a Slack incoming webhook accepts as it is.

The body is ``{"text": "<one line>", ...}`` (Slack shows ``text``) followed by the alert's
structured fields (``status``, ``alertname``, ``severity``, ``value``, ``labels``, …) for any
other receiver. Each attempt has a time limit; a network error, a 5xx or a 429 is retried with
exponential backoff (``Retry-After`` is honoured up to ``MAX_DELAY``), other answers are final.
The URL is a secret (Slack's carries the credentials in its path): it appears in no error and
no log line. ``routes`` sends each severity to a URL of its own (critical to a pager, warning to
a team channel); a severity with no URL is not sent on this channel.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from otelkit._version import __version__
from otelkit.alerting._delivery import DeliveryError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from otelkit.alerting._alert import Alert
    from otelkit.config._parse import Secret

__all__ = ["WebhookChannel"]

MAX_DELAY = 30.0
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class WebhookChannel:
    name = "webhook"

    def __init__(
        self,
        url: Secret | None,
        *,
        timeout: float,
        retries: int,
        backoff: float = 0.5,
        sleep: Callable[[float], object] = time.sleep,
        routes: Mapping[str, Secret] | None = None,
    ) -> None:
        self._url = url
        self._routes = dict(routes or {})
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        """How to wait between attempts (the dispatcher passes one that stops at shutdown)."""

    def __repr__(self) -> str:
        return f"WebhookChannel(url='***', timeout={self.timeout}, retries={self.retries})"

    def _url_for(self, severity: str) -> Secret | None:
        return self._routes.get(severity, self._url)

    def accepts(self, alert: Alert) -> bool:
        """Whether the alert's severity has a URL (the dispatcher skips the others)."""
        return self._url_for(alert.severity) is not None

    @staticmethod
    def payload(alert: Alert) -> bytes:
        body = {"text": alert.text, **alert.to_dict()}
        return json.dumps(body, allow_nan=False).encode("utf-8")

    def send(self, alert: Alert) -> None:
        url = self._url_for(alert.severity)
        if url is None:
            return
        body = self.payload(alert)
        attempts = self.retries + 1
        problem = ""
        for attempt in range(attempts):
            status, retry_after, problem = self._post(url, body)
            if status is not None and 200 <= status < 300:
                return
            final = status is not None and status not in _RETRY_STATUSES
            if final or attempt == attempts - 1:
                break
            delay = self.backoff * 2**attempt
            if retry_after is not None:
                delay = max(delay, retry_after)
            self.sleep(min(delay, MAX_DELAY))
        tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
        raise DeliveryError(f"webhook: {problem} ({tries})")

    def _post(self, url: Secret, body: bytes) -> tuple[int | None, float | None, str]:
        """One attempt: (HTTP status or None, Retry-After seconds, a safe description)."""
        request = urllib.request.Request(
            url.value,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": f"otelkit/{__version__}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
                return response.status, None, f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            retry_after = _seconds(exc.headers.get("Retry-After") if exc.headers else None)
            exc.close()
            return exc.code, retry_after, f"HTTP {exc.code}"
        except urllib.error.URLError as exc:
            return None, None, _describe(exc.reason)
        except (OSError, http.client.HTTPException) as exc:
            return None, None, _describe(exc)


def _describe(reason: object) -> str:
    """An error's kind and errno text, never its arguments (which may hold the URL)."""
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return f"{type(reason).__name__} ({reason.strerror})"
    if isinstance(reason, BaseException):
        return type(reason).__name__
    return "network error"


def _seconds(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())
