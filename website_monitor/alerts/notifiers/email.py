"""email: a message through an SMTP server, with STARTTLS and authentication.

`tls = "starttls"` (the default, port 587) upgrades the connection before
logging in; `"ssl"` connects over TLS (port 465); `"none"` sends in clear (a
local relay on port 25) and then refuses to log in. The password comes from the
environment variable named by `password_env`, read when sending; it is never
printed. `ca_file` names the CA that signed the server's certificate when it is
not in the system's trust store. The message has a `Message-ID` made from the
dedup key, so a repeat after a crash is recognisably the same message.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from website_monitor.alerts.notifiers import (
    Notification,
    Notifier,
    NotifyError,
    environment_secret,
    timeout_of,
    title,
)
from website_monitor.alerts.tables import Table

PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def compose(notification: Notification, sender: str, recipients: list[str]) -> EmailMessage:
    incident = notification.incident
    message = EmailMessage()
    message["Subject"] = title(notification)[:200]
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(usegmt=True)
    key = "".join(c if c.isalnum() or c in "-." else "." for c in notification.dedup_key)
    message["Message-ID"] = f"<{key}@website-monitor>"
    message["X-WM-Dedup-Key"] = notification.dedup_key
    lines = [notification.summary, ""]
    for label in (
        "id",
        "alert",
        "kind",
        "url",
        "source",
        "severity",
        "state",
        "started_at",
        "resolved_at",
        "failures",
        "last_error",
        "maintenance",
    ):
        value = incident.get(label)
        if value not in (None, ""):
            lines.append(f"{label}: {value}")
    lines += ["", f"dedup key: {notification.dedup_key}", "-- website-monitor"]
    message.set_content("\n".join(lines))
    return message


class EmailNotifier(Notifier):
    type = "email"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        tls: str = "starttls",
        username: str | None = None,
        password_env: str | None = None,
        ca_file: str | None = None,
        timeout: float = 10.0,
        where: str = "",
    ) -> None:
        super().__init__(name, timeout)
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = recipients
        self.tls = tls
        self.username = username
        self.password_env = password_env
        self.ca_file = ca_file
        self.where = where or f"notifier {name!r}"

    def _password(self) -> str | None:
        if self.password_env is None:
            return None
        return environment_secret(self.where, "password", self.password_env)

    def check_ready(self) -> None:
        self._password()

    def secrets(self) -> tuple[str, ...]:
        return (os.environ.get(self.password_env, ""),) if self.password_env else ()

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def send(self, notification: Notification) -> None:
        message = compose(notification, self.sender, self.recipients)
        password = self._password()
        server = f"{self.host}:{self.port}"
        try:
            client: smtplib.SMTP
            if self.tls == "ssl":
                client = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                client.ehlo()
                if self.tls == "starttls":
                    client.starttls(context=self._context())
                    client.ehlo()
                if self.username is not None:
                    client.login(self.username, password or "")
                refused = client.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyError(
                f"{server} refused the login of {self.username} ({exc.smtp_code})"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise NotifyError(f"{server} does not offer STARTTLS or AUTH") from None
        except smtplib.SMTPResponseException as exc:
            said = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise NotifyError(f"{server} answered {exc.smtp_code}: {said[:200]}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotifyError(
                f"{server} refused every recipient: {', '.join(exc.recipients)}"
            ) from None
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            raise NotifyError(
                f"sending through {server} failed: {type(exc).__name__}: {exc}"
            ) from None
        if refused:
            raise NotifyError(f"{server} refused {', '.join(sorted(refused))}")


def from_table(name: str, table: Table) -> EmailNotifier:
    tls = table.choice("tls", tuple(PORTS), default="starttls")
    host = table.required_text("host")
    port = table.integer("port", default=PORTS[tls])
    if port > 65535:
        raise table.error("port", f"{port} is not a port number")
    recipients = list(table.texts("to"))
    if not recipients:
        raise table.error("to", "is missing", hint='to = ["oncall@example.org"]')
    username = table.text("username")
    password_env = table.text("password_env")
    if table.has("password"):
        raise table.error(
            "password",
            "is not read from the file",
            hint="put it in an environment variable and name it with password_env",
        )
    if username and not password_env:
        raise table.error(
            "password_env", "is missing (username is set)", hint='password_env = "WM_SMTP_PASSWORD"'
        )
    if tls == "none" and username:
        raise table.error("tls", "a password is never sent in clear", hint='use tls = "starttls"')
    return EmailNotifier(
        name,
        host=host,
        port=port,
        sender=table.required_text("from"),
        recipients=recipients,
        tls=tls,
        username=username,
        password_env=password_env,
        ca_file=table.text("ca_file"),
        timeout=timeout_of(table),
        where=table.where,
    )
