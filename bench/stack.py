"""A MemoryOS server stack for the benchmarks: a throwaway database, the runtime and services,
one tenant with an API key, and (on demand) a real uvicorn server in a child process.

The SQLite database lives in a temporary directory; the PostgreSQL one is created with a
random name on the local server and dropped on ``close``. The master key is fixed so the
child server opens the same per-user keys as the benchmark process.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from memoryos_server.api.schemas.memory import add_body
from memoryos_server.engine.types import ChatMessage
from memoryos_server.services.container import Services, build_services
from memoryos_server.services.memory.query_vectors import principal_asker
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal
from memoryos_server.services.runtime import Runtime, build_runtime
from memoryos_server.settings import Settings
from memoryos_server.storage.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
MODEL_CACHE = ROOT / ".cache" / "bench-models"
PG_ADMIN_URL = os.environ.get("MEMORYOS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BENCH_MASTER_KEY = base64.b64encode(b"memoryos-benchmarks-fixed-key-32").decode()
MAX_MESSAGES_PER_ADD = 64  # the API's limit per add (SPEC §5)


def postgres_problem() -> str | None:
    """None when the local PostgreSQL answers with pgvector available; else why not."""
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            version = connection.execute(
                text("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
            ).scalar()
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 — any failure means "not available"
        return f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()} does not answer ({type(exc).__name__})"
    return None if version else "PostgreSQL answers but has no pgvector extension"


@dataclass
class Stack:
    backend: str
    url: str
    runtime: Runtime
    services: Services
    api_key: str
    principal: Principal
    data_dir: Path
    _pg_name: str | None = None
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    # --- the service path (what the routers call) -------------------------------------------------

    def add(self, end_user: str, texts: Sequence[str], *, infer: bool, metadata: dict[str, Any] | None = None,
            occurred_at: Any = None) -> dict[str, Any]:
        """One ``POST /v1/memories/add`` worth of work, in process: one write session, committed."""
        messages = [ChatMessage(role="user", content=t, occurred_at=occurred_at) for t in texts]
        with self.runtime.db.session() as session:
            scope = self.services.scopes.end_user(
                session, self.principal, end_user, permission=Permission.MEMORY_WRITE, create=True
            )
            outcome = self.services.memory.add(session, scope, messages=messages, infer=infer, metadata=metadata)
        result: dict[str, Any] = json.loads(add_body(outcome))
        return result

    def retrieve(self, end_user: str, query: str, *, limit: int = 10) -> Any:
        """One ``POST /v1/memories/retrieve`` worth of work, in process: the query's embedding
        started first, as the route starts it, then one read session."""
        vector = self.services.memory.query_vectors.start(principal_asker(self.principal), query)
        with self.runtime.db.session(write=False) as session:
            scope = self.services.scopes.end_user(session, self.principal, end_user, permission=Permission.MEMORY_READ)
            return self.services.memory.retrieve(session, scope, query=query, limit=limit, query_vector=vector)

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        with self.runtime.db.session(write=False) as session:
            yield session

    # --- a real server ------------------------------------------------------------------------------

    @contextmanager
    def http_server(self) -> Iterator[str]:
        """uvicorn in a child process (its own interpreter, so client and server do not share a
        GIL), on loopback, on this stack's database; yields the base URL."""
        port = _free_port()
        env = {
            **os.environ,
            "MEMORYOS_DATABASE_URL": self.url,
            "MEMORYOS_DATA_DIR": str(self.data_dir / "server"),
            "MEMORYOS_MASTER_KEY": BENCH_MASTER_KEY,
            "MEMORYOS_MODEL_CACHE_DIR": str(MODEL_CACHE),
            "MEMORYOS_EMBEDDER": "local",
            "MEMORYOS_EMAIL_BACKEND": "outbox",
            "MEMORYOS_LOG_LEVEL": "WARNING",
            "MEMORYOS_PORT": str(port),
        }
        log = open(self.data_dir / f"uvicorn-{port}.log", "wb")  # noqa: SIM115 — closed below
        child = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "memoryos_server.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", "--no-access-log"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        self._children.append(child)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base, child, self.data_dir / f"uvicorn-{port}.log", seconds=60)
            yield base
        finally:
            child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            self._children.remove(child)
            log.close()

    def headers(self, end_user: str) -> dict[str, str]:
        return {"Authorization": f"ApiKey {self.api_key}", "X-End-User-ID": end_user}

    def postgres_versions(self) -> str | None:
        if self.backend != "postgresql":
            return None
        with self.runtime.db.engine.connect() as connection:
            server = connection.execute(text("SHOW server_version")).scalar()
            vector = connection.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
        return f"PostgreSQL {server}, pgvector {vector}"

    def close(self) -> None:
        for child in list(self._children):
            child.kill()
        self.runtime.close()
        if self._pg_name is not None:
            _drop_postgres_database(self._pg_name)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def open_stack(backend: str, *, label: str = "bench", embedder: str = "local") -> Stack:
    """A migrated, empty database on ``backend`` with one tenant and its API key."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"memoryos-{label}-{backend}-"))
    pg_name: str | None = None
    if backend == "sqlite":
        url = f"sqlite:///{data_dir / 'memoryos.db'}"
    elif backend == "postgresql":
        pg_name, url = _create_postgres_database(label)
    else:
        raise ValueError(f"unknown backend {backend!r}")
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        master_key=BENCH_MASTER_KEY,  # type: ignore[arg-type]
        embedder=embedder,  # type: ignore[arg-type]
        model_cache_dir=MODEL_CACHE,
        email_backend="outbox",
        argon2_time_cost=1,
        argon2_memory_cost_kib=1024,
        argon2_parallelism=1,
    )
    runtime = build_runtime(settings)
    try:
        upgrade(runtime.db)
        services = build_services(runtime)
        user, tenant = services.identity.signup(
            email=f"bench-{secrets.token_hex(4)}@example.com", password="benchmark password",
            organization_name="Benchmarks",
        )
        with runtime.db.session() as session:
            owner = Principal("user", tenant.id, tenant.public_id, "owner", user.public_id, user.id)
            _key, raw = services.identity.create_api_key(session, owner, name="bench")
        principal = services.identity.authenticate_request(authorization=f"ApiKey {raw}", x_api_key=None)
        # As `memoryos serve` does once started (settings.gc_freeze): models loaded, start-up
        # objects moved out of the full collections' reach.
        runtime.warm_up()
        gc.freeze()
    except BaseException:
        runtime.close()
        if pg_name:
            _drop_postgres_database(pg_name)
        raise
    return Stack(backend, url, runtime, services, raw, principal, data_dir, pg_name)


def _create_postgres_database(label: str) -> tuple[str, str]:
    name = f"memoryos_{label}_{os.getpid()}_{secrets.token_hex(3)}"
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return name, make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(name: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"),
            {"n": name},
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()


def wait_until_healthy(base: str, child: subprocess.Popen[bytes], log: Path, *, seconds: float) -> None:
    """Until the server at ``base`` answers /healthz; raises if it exits or takes too long."""
    deadline = time.monotonic() + seconds
    while True:
        if child.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start within {seconds:.0f} s")
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
