"""What every channel shares: the ``Channel`` protocol and ``DeliveryError``.

A channel's ``send(alert)`` delivers one notification or raises; the dispatcher runs it on the
channel's own thread, counts the outcome and logs a failure once per kind. Messages of the
exceptions a channel raises are logged, so they never hold a secret (``DeliveryError``).

This module sits below every channel: ``_channels`` builds the concrete channels, and the
concrete ones (``_webhook``, ``_smtp``) import their error type from here, not from the module
that builds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from otelkit.alerting._alert import Alert

__all__ = ["Channel", "DeliveryError"]


class DeliveryError(Exception):
    """A notification was not delivered; the message is safe to log (no URL, no password)."""


class Channel(Protocol):
    """Delivers notifications somewhere; ``send`` raises when it could not."""

    name: str

    def send(self, alert: Alert) -> None: ...
