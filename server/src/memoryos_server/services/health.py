"""Readiness: the database answers and its schema is the one this code expects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from memoryos_server.services.runtime import Runtime
from memoryos_server.errors import DatabaseNotReady
from memoryos_server.storage.migrate import check_extensions, current_revision, head_revision


@dataclass(frozen=True)
class Readiness:
    ready: bool
    problem: str | None = None  # database_unavailable | migrations_pending
    details: dict[str, Any] = field(default_factory=dict)


def readiness(runtime: Runtime) -> Readiness:
    try:
        with runtime.db.session(write=False) as session:
            session.execute(text("SELECT 1"))
        revision = current_revision(runtime.db)
        check_extensions(runtime.db)
    except DatabaseNotReady as exc:
        return Readiness(False, "database_not_ready", {"reason": str(exc)})
    except Exception:  # noqa: BLE001 — readiness reports any database failure as "not ready"
        return Readiness(False, "database_unavailable")
    if revision != head_revision():
        return Readiness(False, "migrations_pending", {"current": revision})
    return Readiness(True, details={"database": runtime.db.dialect, "schema_revision": revision})
