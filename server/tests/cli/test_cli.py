"""The `memoryos` command as a user runs it."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from memoryos_server.storage.migrate import head_revision
from tests.fixtures.app import free_port

MEMORYOS = str(Path(sys.executable).parent / "memoryos")


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYOS_")}
    env.update({"MEMORYOS_DATA_DIR": str(data_dir), "MEMORYOS_EMBEDDER": "hashing", **extra})
    return env


def _serve(data_dir: Path, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [MEMORYOS, "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _wait_healthy(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


def _stop(process: subprocess.Popen[str]) -> str:
    """Everything the server wrote. On SIGINT uvicorn lets every request task finish before the
    process exits, and the access line is logged at the end of that task (the middleware's
    ``finally``), so the output holds a line for every request already answered: no sleep."""
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    return output


def test_serve_with_no_configuration_just_works(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}"
    first = _serve(data_dir, port, _env(data_dir))
    try:
        _wait_healthy(url, first)
        signup = httpx.post(
            f"{url}/v1/auth/signup",
            json={"email": "first@example.com", "password": "a long password", "organization_name": "Acme"},
        )
        assert signup.status_code == 201
        # The passport as a remote MCP server, beside the API: an OAuth-protected resource.
        mcp = httpx.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert mcp.status_code == 401 and f'resource_metadata="{url}/.well-known/oauth-protected-resource/mcp"' in mcp.headers["www-authenticate"]
    finally:
        output = _stop(first)
    assert "starting for the first time" in output
    assert f"{url}/login" in output and "/v1/auth/signup" in output and f"{url}/mcp" in output
    assert f"{url}/dashboard/signup" in output  # a new user creates their account in the dashboard
    key_file = data_dir / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (data_dir / "memoryos.db").exists()

    second = _serve(data_dir, port, _env(data_dir))
    try:
        _wait_healthy(url, second)
        login = httpx.post(f"{url}/v1/auth/login", json={"email": "first@example.com", "password": "a long password"})
        assert login.status_code == 200  # data survived the restart
    finally:
        output = _stop(second)
    assert "starting for the first time" not in output


def test_migrate_and_create_operator(tmp_path: Path, test_database, client) -> None:  # type: ignore[no-untyped-def]
    env = _env(tmp_path, MEMORYOS_DATABASE_URL=test_database.url)
    migrated = subprocess.run([MEMORYOS, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert migrated.returncode == 0 and f"revision {head_revision()}" in migrated.stdout
    email = f"ops-{os.getpid()}-{time.monotonic_ns()}@example.com"
    created = subprocess.run(
        [MEMORYOS, "admin", "create-operator", "--email", email, "--password", "operator password"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert created.returncode == 0, created.stderr
    login = client.post("/v1/auth/login", json={"email": email, "password": "operator password"})
    assert login.status_code == 200
    me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['data']['access_token']}"})
    assert me.json()["data"]["platform_role"] == "admin" and me.json()["data"]["tenant_id"] is None
    short = subprocess.run(
        [MEMORYOS, "admin", "create-operator", "--email", "x@example.com", "--password", "short"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert short.returncode != 0


@pytest.mark.parametrize("flag", ["--help"])
def test_help_lists_the_commands(flag: str) -> None:
    result = subprocess.run([MEMORYOS, flag], capture_output=True, text=True, timeout=30)
    for command in ("serve", "migrate", "admin"):
        assert command in result.stdout


def _send_code_and_open_secret_links(url: str) -> str:
    sent = httpx.post(f"{url}/v1/uui/otp/send", json={"email": "local-user@example.com"})
    assert sent.status_code == 200 and sent.json()["data"]["sent"] is True
    httpx.get(f"{url}/connect", params={"agent_id": "some-agent", "link_token": "plink_secretXYZ"})
    httpx.get(f"{url}/consent", params={"agent_id": "some-agent", "state": "state_secretXYZ", "categories": "fact"})
    httpx.get(f"{url}/connect?plink_bare_secret_token_given_without_a_name")
    return sent.json()["request_id"]


def test_serve_prints_the_sign_in_code_and_no_query_secrets(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(data_dir, port, _env(data_dir))
    try:
        _wait_healthy(url, server)
        _send_code_and_open_secret_links(url)
    finally:  # stopping waits for the access lines of the requests above (see _stop)
        output = _stop(server)
    found = re.search(r"sign-in code is (\d{6})", output)
    assert found, output  # the console email backend's message reaches the server's output
    code_seen = found.group(1)
    assert "secretXYZ" not in output and "bare_secret" not in output
    assert '"GET /connect?agent_id&link_token"' in output  # the path and the parameter names stay
    assert '"GET /consent?agent_id&state&categories"' in output
    assert '"GET /connect?[redacted]"' in output
    # The code in the log is the real one: it signs in (on a fresh server over the same data).
    again = _serve(data_dir, port, _env(data_dir))
    try:
        _wait_healthy(url, again)
        verified = httpx.post(f"{url}/v1/uui/otp/verify", json={"email": "local-user@example.com", "otp": code_seen})
        assert verified.status_code == 200, verified.text
    finally:
        _stop(again)


def test_serve_with_json_logs_writes_one_json_object_per_line(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(data_dir, port, _env(data_dir, MEMORYOS_LOG_JSON="1"))
    try:
        _wait_healthy(url, server)
        request_id = _send_code_and_open_secret_links(url)
    finally:  # stopping waits for the access lines of the requests above (see _stop)
        output = _stop(server)
    records = [json.loads(line) for line in output.splitlines() if line.strip()]  # every line parses
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any("starting for the first time" in r["message"] for r in records)  # the greeting too
    email = next(r for r in records if r["logger"] == "memoryos.email")
    assert re.search(r"sign-in code is \d{6}", email["message"]) and email["request_id"] == request_id
    access = [r for r in records if r["logger"] == "memoryos.access"]
    sent = next(r for r in access if r["target"] == "/v1/uui/otp/send")
    assert sent["request_id"] == request_id and sent["status"] == 200 and sent["method"] == "POST"
    assert "secretXYZ" not in output


# --- the first-run message names commands as the person can type them ----------------------


def _first_run_output(argv0: str, cwd: Path, path_env: str, tmp_path: Path) -> tuple[str, str]:
    """Start ``memoryos serve`` as ``argv0`` from ``cwd`` with ``PATH=path_env`` on a fresh data
    dir; sign up and run the greeting's API-key curl with the token; return (output, key answer)."""
    data_dir, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [argv0, "serve", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=cwd, env=_env(data_dir, PATH=path_env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    greeting: list[str] = []
    try:
        assert server.stdout is not None
        for line in server.stdout:  # the greeting comes before the server starts listening
            greeting.append(line)
            if line.startswith("Start here:"):
                break
        _wait_healthy(url, server)
        signup = httpx.post(
            f"{url}/v1/auth/signup",
            json={"email": "first@example.com", "password": "a long password", "organization_name": "Acme"},
        )
        token = signup.json()["data"]["access_token"]
        curl = next(line.strip() for line in greeting if "/v1/tenant/api-keys" in line)
        answer = subprocess.run(
            ["bash", "-c", curl.replace("ACCESS_TOKEN", token)], capture_output=True, text=True, timeout=30
        ).stdout
        # The operator command as printed (it asks for a password: given here), from the same
        # place, with nothing but what it says: it must reach this very server's database.
        operator = next(line.strip() for line in greeting if "admin create-operator" in line)
        plain = {k: v for k, v in _env(data_dir, PATH=path_env).items() if k != "MEMORYOS_DATA_DIR"}
        made = subprocess.run(
            ["bash", "-c", operator + " --password 'operator password'"], cwd=cwd, env=plain, capture_output=True, text=True, timeout=60
        )
        assert made.returncode == 0, made.stderr
        signed_in = httpx.post(f"{url}/v1/auth/login", json={"email": "ops@example.com", "password": "operator password"})
        assert signed_in.status_code == 200, signed_in.text
    finally:
        rest = _stop(server)
    return "".join(greeting) + rest, answer


def _path_without(directory: Path) -> str:
    return os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != directory)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_first_run_after_make_serve_names_the_venv_command_and_its_curl_works(tmp_path: Path) -> None:
    """``make serve`` runs ``.venv/bin/memoryos serve`` from the checkout, venv not on PATH."""
    bin_dir = Path(MEMORYOS).parent
    checkout = bin_dir.parent.parent
    relative = str(Path(MEMORYOS).relative_to(checkout))  # .venv/bin/memoryos
    output, answer = _first_run_output(relative, checkout, _path_without(bin_dir), tmp_path)
    assert f"{relative} admin create-operator --email" in output
    assert " memoryos admin" not in output  # nothing the person cannot run as written
    created = json.loads(answer)["data"]
    assert created["raw_api_key"].startswith("mem_") and created["name"] == "default"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_first_run_of_an_installed_memoryos_names_the_bare_command(tmp_path: Path) -> None:
    bin_dir = Path(MEMORYOS).parent
    on_path = f"{bin_dir}{os.pathsep}{_path_without(bin_dir)}"
    output, answer = _first_run_output(shutil.which("memoryos", path=on_path) or "", tmp_path, on_path, tmp_path)
    assert "  memoryos admin create-operator --email ops@example.com --data-dir" in output
    assert str(bin_dir) not in output
    assert json.loads(answer)["data"]["raw_api_key"].startswith("mem_")


def test_command_as_run_prefers_the_name_only_when_path_finds_this_program(tmp_path: Path) -> None:
    from memoryos_server.cli.firstrun import command_as_run

    venv_bin, other_bin = tmp_path / "repo" / ".venv" / "bin", tmp_path / "elsewhere" / "bin"
    for directory in (venv_bin, other_bin):
        directory.mkdir(parents=True)
        (directory / "memoryos").write_text("#!/bin/sh\n")
        (directory / "memoryos").chmod(0o755)
    ours = str(venv_bin / "memoryos")

    def which_in(*dirs: Path):  # type: ignore[no-untyped-def]
        return lambda name: shutil.which(name, path=os.pathsep.join(map(str, dirs)))

    repo = tmp_path / "repo"
    assert command_as_run(".venv/bin/memoryos", which=which_in(), cwd=repo) == ".venv/bin/memoryos"
    assert command_as_run(ours, which=which_in(), cwd=repo) == ".venv/bin/memoryos"
    assert command_as_run(ours, which=which_in(), cwd=tmp_path / "elsewhere") == ours
    assert command_as_run(ours, which=which_in(venv_bin), cwd=tmp_path) == "memoryos"
    # Another memoryos first on PATH: the bare name would run that one, so the path is kept.
    assert command_as_run(ours, which=which_in(other_bin, venv_bin), cwd=repo) == ".venv/bin/memoryos"
    assert command_as_run("/usr/lib/python3/some/__main__.py", which=which_in()) == "memoryos"


def _otp_sends(url: str, count: int) -> list[bool]:
    """``count`` code requests from this machine, each claiming another address and email."""
    sent = []
    for n in range(count):
        answer = httpx.post(
            f"{url}/v1/uui/otp/send",
            json={"email": f"forged-{n}-{secrets.token_hex(3)}@example.com"},
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
        )
        assert answer.status_code == 200
        sent.append(bool(answer.json()["data"]["sent"]))
    return sent


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"], ids=["no-proxy-trusted", "loopback-proxy-trusted"])
def test_forwarded_addresses_count_only_from_a_trusted_proxy(tmp_path: Path, trusted: str) -> None:
    data_dir, port = tmp_path / "data", free_port()
    env = _env(data_dir, MEMORYOS_OTP_SEND_PER_IP_PER_HOUR="2", MEMORYOS_TRUSTED_PROXIES=trusted)
    server = _serve(data_dir, port, env)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", server)
        sent = _otp_sends(f"http://127.0.0.1:{port}", 4)
    finally:
        _stop(server)
    if trusted:
        assert sent == [True] * 4  # four addresses, as the trusted proxy says
    else:
        assert sent == [True, True, False, False]  # one address, this machine's: a forged header changes nothing


def test_a_postgresql_where_pgvector_cannot_be_enabled_is_one_clear_line(tmp_path: Path, test_database) -> None:  # type: ignore[no-untyped-def]
    """A database role that may not create the extension: the command says what is missing and
    how to fix it, in one line, and exits non-zero (no SQLAlchemy traceback)."""
    if test_database.backend != "postgresql":
        pytest.skip("pgvector is PostgreSQL's")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from tests.fixtures.databases import PG_ADMIN_URL

    role, database = f"noext_{secrets.token_hex(4)}", f"noext_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        connection.execute(text(f'CREATE DATABASE "{database}" OWNER "{role}"'))
    try:
        url = make_url(PG_ADMIN_URL).set(username=role, database=database).render_as_string(hide_password=False)
        env = _env(tmp_path, MEMORYOS_DATABASE_URL=url)
        migrated = subprocess.run([MEMORYOS, "migrate"], env=env, capture_output=True, text=True, timeout=60)
        served = subprocess.run([MEMORYOS, "serve", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=60)
        # A server already running when that happens says the same on /readyz.
        from memoryos_server.services.health import readiness
        from memoryos_server.services.runtime import build_runtime
        from tests.fixtures.app import make_settings
        from tests.fixtures.databases import TestDatabase

        runtime = build_runtime(make_settings(TestDatabase("postgresql", url), tmp_path / "ready"))
        try:
            ready = readiness(runtime)
        finally:
            runtime.close()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()
    assert not ready.ready and ready.problem == "database_not_ready" and "CREATE EXTENSION vector" in ready.details["reason"]
    for result in (migrated, served):
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert "memoryos: PostgreSQL offers pgvector but this database role may not enable it" in result.stderr
        assert "CREATE EXTENSION vector" in result.stderr
