"""What an organisation uses (SPEC §4: "analyst reads usage")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.engine.types import CATEGORIES
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal
from memoryos_server.services.memory.usage_days import ADDS, RETRIEVALS
from memoryos_server.storage.repositories.usage import UsageRepository
from memoryos_server.storage.types import utcnow


@dataclass(frozen=True)
class DayUsage:
    day: str  # YYYY-MM-DD, UTC
    memories: int  # new memories that day (still stored)
    adds: int
    retrievals: int
    active_grants: int  # grants to the organisation's agents in force at the day's end


class UsageService:
    def report(self, session: Session, principal: Principal) -> dict[str, Any]:
        """Counts over the caller's tenant only. Requests are not counted one by one (no row
        per call is written), so ``api_calls`` is null; audited actions are counted."""
        tenant_id = principal.require(Permission.USAGE_READ)
        usage = UsageRepository(session)
        by_scope = {scope: {"active": 0, "archived": 0} for scope in ("tenant", "workspace")}
        by_category = dict.fromkeys(CATEGORIES, 0)
        for scope, category, status, count in usage.memories(tenant_id):
            counts = by_scope.setdefault(scope, {"active": 0, "archived": 0})
            counts[status] = counts.get(status, 0) + count
            by_category[category] = by_category.get(category, 0) + count
        rows, versions, stored_bytes = usage.storage(tenant_id)
        active_keys, last_key_use = usage.api_keys(tenant_id)
        return {
            "tenant_id": principal.tenant_public_id,
            "end_users": usage.end_users(tenant_id),
            "members": usage.members(tenant_id),
            "memories": {
                "total": sum(sum(counts.values()) for counts in by_scope.values()),
                "by_scope": by_scope,
                "by_category": by_category,
            },
            "storage": {"memory_rows": rows, "version_rows": versions, "ciphertext_bytes": stored_bytes},
            "api_keys": {"active": active_keys, "last_used_at": last_key_use.isoformat() if last_key_use else None},
            "oauth_clients": {"active": usage.oauth_clients(tenant_id)},
            "api_calls": None,
            "audited_actions": usage.audited_actions(tenant_id),
        }

    def daily(self, session: Session, principal: Principal, *, days: int = 30) -> list[DayUsage]:
        """The last ``days`` UTC days, oldest first. Adds and retrievals are counted from this
        feature's start (``usage_days``); memories and grants from their own rows."""
        tenant_id = principal.require(Permission.USAGE_READ)
        usage = UsageRepository(session)
        today = utcnow().astimezone(UTC).date()
        first = today - timedelta(days=days - 1)
        labels = [(first + timedelta(days=n)).isoformat() for n in range(days)]
        counted: dict[tuple[str, str], int] = {(day, metric): n for day, metric, n in usage.days(tenant_id, labels[0])}
        start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
        created: dict[str, int] = {}
        for moment in usage.memories_created(tenant_id, start):
            created[moment.astimezone(UTC).date().isoformat()] = created.get(moment.astimezone(UTC).date().isoformat(), 0) + 1
        spans = usage.grant_spans(tenant_id)
        result = []
        for label in labels:
            end = datetime.fromisoformat(label).replace(tzinfo=UTC) + timedelta(days=1)
            active = sum(
                1 for given, revoked, expires in spans
                if given < end and (revoked is None or revoked >= end) and (expires is None or expires >= end)
            )
            result.append(
                DayUsage(label, created.get(label, 0), counted.get((label, ADDS), 0), counted.get((label, RETRIEVALS), 0), active)
            )
        return result
