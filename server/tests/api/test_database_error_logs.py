"""A database error that ends as a 500 is logged with its statement but not its parameter values
(ciphertext, token hashes, email addresses): the engine hides them."""

from __future__ import annotations

import logging
import secrets

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from memoryos_server.app import create_app
from memoryos_server.services.runtime import Runtime


def test_a_logged_database_error_carries_no_parameter_value(
    client: TestClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    # ``client``: the session's app has started, so the schema exists and the worker is quiet.
    planted = f"planted-{secrets.token_hex(8)}@example.com"
    app = create_app(runtime.settings, runtime=runtime, migrate=False)

    @app.post("/v1/test-only/db-boom")
    def db_boom() -> None:
        with runtime.db.session() as session:
            session.execute(text("INSERT INTO no_such_table_for_this_test (email) VALUES (:email)"), {"email": planted})

    with TestClient(app) as test_client, caplog.at_level(logging.INFO):
        response = test_client.post("/v1/test-only/db-boom")
    assert response.status_code == 500 and response.json()["code"] == "SRV_500"
    assert planted not in response.text
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1
    # The whole record as a handler writes it, traceback included.
    written = logging.Formatter("%(message)s").format(logged[0])
    assert "no_such_table_for_this_test" in written  # the error itself is there, with its statement
    assert "hidden due to hide_parameters" in written
    assert planted not in written and planted not in caplog.text
