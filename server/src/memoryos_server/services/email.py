"""Outgoing email: one-time sign-in codes, grant notifications and organisation invitations.

Three backends (``MEMORYOS_EMAIL_BACKEND``): ``console`` logs each message, code included, for
local use (the default); ``outbox`` writes each message as an ``.eml`` file (tests read them);
``smtp`` delivers through a real SMTP server.
"""

from __future__ import annotations

import logging
import os
import secrets
import smtplib
import ssl
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from memoryos_server.errors import ServiceUnavailable
from memoryos_server.settings import Settings

log = logging.getLogger("memoryos.email")


class EmailDeliveryFailed(ServiceUnavailable):
    error = "email_delivery_failed"


class EmailBackend(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class ConsoleBackend:
    """Logs the whole message. Meant for a developer's own machine: the log holds the codes."""

    def send(self, message: EmailMessage) -> None:
        log.info(
            "email to %s — %s\n%s",
            message["To"],
            message["Subject"],
            message.get_content().strip(),
        )


class OutboxBackend:
    """Writes ``<time>-<random>.eml`` files; each appears whole (written aside, then renamed)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.eml"
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes())
            os.replace(temporary, self.directory / name)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise EmailDeliveryFailed("could not write the message to the outbox") from exc


class SmtpBackend:
    def __init__(self, settings: Settings) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self.password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        self.starttls = settings.smtp_starttls
        self.timeout = settings.smtp_timeout_seconds

    def send(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            # The recipient's address stays out of the log line: it is personal data.
            log.warning("SMTP delivery via %s:%s failed: %s", self.host, self.port, type(exc).__name__)
            raise EmailDeliveryFailed("the mail server did not accept the message") from exc


def build_backend(settings: Settings) -> EmailBackend:
    if settings.email_backend == "smtp":
        return SmtpBackend(settings)
    if settings.email_backend == "outbox":
        return OutboxBackend(settings.resolved_outbox_dir)
    return ConsoleBackend()


class EmailService:
    def __init__(self, settings: Settings, backend: EmailBackend | None = None) -> None:
        self.settings = settings
        self.backend = backend or build_backend(settings)

    def send_one_time_code(self, *, to: str, code: str, ttl_seconds: int) -> None:
        minutes = max(1, ttl_seconds // 60)
        body = (
            f"Your MemoryOS sign-in code is {code}\n\n"
            f"It works once and expires in {minutes} minutes.\n"
            "If you did not try to sign in to your Memory Passport, you can ignore this email.\n"
        )
        self.backend.send(self._message(to, "Your MemoryOS sign-in code", body))

    def send_grant_notification(
        self,
        *,
        to: str,
        agent_name: str,
        categories: Sequence[str],
        access_type: str,
        expires_at: datetime | None,
    ) -> None:
        mode = "read and add to" if access_type == "read_write" else "read"
        until = f"until {expires_at:%d %B %Y, %H:%M} UTC" if expires_at else "until you revoke it"
        shared = ", ".join(categories) if categories else "no categories"
        base = self.settings.resolved_consent_base_url
        body = (
            f"You allowed {agent_name} to {mode} these Memory Passport categories: {shared}.\n"
            f"This access lasts {until}.\n\n"
            f"Review, change or revoke it at any time: {base}/manage\n\n"
            f"If this was not you, revoke the access there, then sign out every session you don't recognise\n"
            f"(or all but your own) at {base}/manage/sessions\n"
        )
        self.backend.send(self._message(to, f"{agent_name} can now use your Memory Passport", body))

    def send_invitation(
        self, *, to: str, organisation: str, role: str, invitation_id: str, code: str, expires_at: datetime
    ) -> None:
        base = f"{self.settings.resolved_public_url}/v1/auth/invitations/{invitation_id}"
        organisation = " ".join(organisation.split())  # a line break would end the Subject header
        body = (
            f"You are invited to join {organisation} on MemoryOS as {role}.\n\n"
            f"Invitation: {invitation_id}\n"
            f"Code: {code}\n\n"
            f"Join in the dashboard: {self.settings.resolved_public_url}/dashboard/join/{invitation_id}\n"
            f"(already have an account? sign in, then see {self.settings.resolved_public_url}/dashboard/invitations)\n\n"
            "Already have a MemoryOS account with this address? Sign in, then accept:\n"
            f"  POST {base}/accept  with {{\"code\": \"<the code>\"}}\n"
            "No account yet? Create it and join in one step:\n"
            f"  POST {base}/signup  with {{\"code\": \"<the code>\", \"password\": \"<a new password>\"}}\n\n"
            f"The invitation expires on {expires_at:%d %B %Y, %H:%M} UTC and works once.\n"
            "If you did not expect it, ignore this email: nothing happens until the code is used.\n"
        )
        self.backend.send(self._message(to, f"You are invited to join {organisation} on MemoryOS", body))

    def _message(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.email_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain="memoryos.local")
        message.set_content(body)
        return message
