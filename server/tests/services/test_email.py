"""The three email backends, with a real SMTP server on loopback for the smtp one."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from memoryos_server.services.email import ConsoleBackend, EmailDeliveryFailed, EmailService, OutboxBackend, build_backend
from memoryos_server.settings import Settings
from tests.fixtures.app import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 — aiosmtpd's hook name
        self.messages.append(BytesParser(policy=policy.default).parsebytes(envelope.original_content))
        return "250 OK"


def _authenticator(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"mailer" and data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=_authenticator, auth_require_tls=False
    )
    controller.start()
    yield inbox, port
    controller.stop()


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(data_dir=tmp_path, consent_base_url="https://consent.example.com", **values)


def test_smtp_delivers_the_code(tmp_path: Path, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    service = EmailService(
        _settings(tmp_path, email_backend="smtp", smtp_port=port, smtp_username="mailer", smtp_password="s3cret")
    )
    service.send_one_time_code(to="ada@example.com", code="123456", ttl_seconds=600)
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "ada@example.com" and "sign-in code" in message["Subject"]
    assert "123456" in message.get_content() and "10 minutes" in message.get_content()


def test_smtp_with_wrong_credentials_or_no_server_fails_cleanly(tmp_path: Path, smtp_server: tuple[Inbox, int]) -> None:
    _, port = smtp_server
    wrong = EmailService(
        _settings(tmp_path, email_backend="smtp", smtp_port=port, smtp_username="mailer", smtp_password="nope")
    )
    with pytest.raises(EmailDeliveryFailed):
        wrong.send_one_time_code(to="ada@example.com", code="123456", ttl_seconds=600)
    nobody = EmailService(_settings(tmp_path, email_backend="smtp", smtp_port=free_port(), smtp_timeout_seconds=2))
    with pytest.raises(EmailDeliveryFailed):
        nobody.send_one_time_code(to="ada@example.com", code="123456", ttl_seconds=600)


def test_outbox_writes_one_eml_per_message(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    service = EmailService(_settings(tmp_path, email_backend="outbox", email_outbox_dir=outbox))
    assert isinstance(service.backend, OutboxBackend)
    service.send_grant_notification(
        to="ada@example.com", agent_name="Tutor", categories=["goal", "fact"], access_type="read_write", expires_at=None
    )
    files = list(outbox.glob("*.eml"))
    assert len(files) == 1 and not list(outbox.glob(".*"))
    message = BytesParser(policy=policy.default).parsebytes(files[0].read_bytes())
    text = message.get_content()
    assert "Tutor" in message["Subject"] and "read and add to" in text and "goal, fact" in text
    assert "https://consent.example.com/manage" in text and "until you revoke it" in text
    assert "https://consent.example.com/manage/sessions" in text  # where "sign out" is done


def test_console_is_the_default_and_logs_the_code(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert isinstance(build_backend(Settings(data_dir=tmp_path)), ConsoleBackend)
    code = f"{secrets.randbelow(10**6):06d}"
    with caplog.at_level(logging.INFO, logger="memoryos.email"):
        EmailService(_settings(tmp_path)).send_one_time_code(to="ada@example.com", code=code, ttl_seconds=600)
    assert code in caplog.text and "ada@example.com" in caplog.text


def test_a_mail_outage_is_reported_not_raised_by_send_code(runtime, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.fixtures.passport import passport_service

    from tests.fixtures.passport import latest_code

    address = f"x-{secrets.token_hex(4)}@example.com"
    services = client.app.state.services
    assert services.passport.send_code(email=address, ip=None).sent
    first = latest_code(runtime.settings.email_outbox_dir, address)

    down = EmailService(_settings(tmp_path, email_backend="smtp", smtp_port=free_port(), smtp_timeout_seconds=2))
    result = passport_service(services, email=down).send_code(email=address, ip=None)
    assert (result.sent, result.reason) == (False, "delivery_failed")
    # Nothing half-done: the code in the person's inbox still signs them in.
    assert services.passport.verify_code(email=address, code=first, ip=None).session_token
