"""The ``smtp`` channel: one plain-text e-mail per notification, with the standard library.

The subject is the alert's one-line title (``[FIRING] HighErrorRate (critical) - orders``); the
body has the text line and every structured field. ``tls`` is ``starttls`` (upgrade after
connecting), ``ssl`` (TLS from the start, usually port 465) or ``off``; certificates are
verified with the system's trust store. A delivery is one attempt: the next notification
tries again. The password is a ``Secret`` and appears in no error and no log line.
``routes`` gives a severity recipients of its own (critical to the on-call address); a severity
with no recipient gets no e-mail.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from otelkit.alerting._delivery import DeliveryError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from otelkit.alerting._alert import Alert
    from otelkit.config._parse import Secret

__all__ = ["SmtpChannel"]


class SmtpChannel:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: str,
        sender: str,
        recipients: tuple[str, ...],
        user: str | None = None,
        password: Secret | None = None,
        timeout: float = 10.0,
        routes: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.sender = sender
        self.recipients = recipients
        self.user = user
        self._password = password
        self.timeout = timeout
        self.routes = dict(routes or {})

    def recipients_for(self, severity: str) -> tuple[str, ...]:
        return self.routes.get(severity, self.recipients)

    def accepts(self, alert: Alert) -> bool:
        """Whether the alert's severity has recipients (the dispatcher skips the others)."""
        return bool(self.recipients_for(alert.severity))

    def __repr__(self) -> str:
        return f"SmtpChannel(host={self.host!r}, port={self.port}, tls={self.tls!r})"

    def message(self, alert: Alert) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = alert.subject
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients_for(alert.severity))
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        lines = [alert.text, ""]
        for key, value in alert.to_dict().items():
            if isinstance(value, dict):
                value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
            lines.append(f"{key}: {'-' if value is None or value == '' else value}")
        message.set_content("\n".join(lines) + "\n")
        return message

    def send(self, alert: Alert) -> None:
        if not self.accepts(alert):
            return
        message = self.message(alert)
        try:
            self._deliver(message)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"smtp: the server answered {exc.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError("smtp: every recipient was refused") from None
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"smtp: {type(exc).__name__}") from None
        except TimeoutError:
            raise DeliveryError("smtp: timed out") from None
        except OSError as exc:
            detail = f" ({exc.strerror})" if exc.strerror else ""
            raise DeliveryError(f"smtp: {type(exc).__name__}{detail}") from None

    def _deliver(self, message: EmailMessage) -> None:
        client: smtplib.SMTP
        if self.tls == "ssl":
            context = ssl.create_default_context()
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.tls == "starttls":
                client.starttls(context=ssl.create_default_context())
            if self.user is not None and self._password is not None:
                client.login(self.user, self._password.value)
            client.send_message(message)
