"""Provenance: the services that write claims about a tenant's end-users (SPEC §5, §7).

- **Service writers.** A tenant registers each backend service that adds memories with a
  ``source`` (``service_key``, what ``source.service`` names), its authority per category, and
  optionally the one API key it writes through. Managed by the roles that manage keys and
  connectors (``Permission.WRITERS_MANAGE``); read by ``Permission.PROVENANCE_READ``.
- **Source events.** ``once`` runs an add that carries a ``source``: it checks the writer
  (unknown → ``ServiceWriterNotFound``; bound to another key → ``WriterBoundToAnotherKey``),
  records the event (service, event id, observed and received times, a keyed digest of the
  payload, scope, evidence) and hands the memory service a ``Claim`` to stamp on every memory.
  The same event id with the same payload replays the first answer and writes nothing; with
  another payload it is refused (``SourceEventConflict``).

The payload digest covers what the event says — the messages, how to read them (``infer``,
``category``), its scope and evidence, and whose memories they are — not ``observed_at`` nor
the add's metadata: the published SDK's ``Memory.source`` stamps a fresh ``observed_at`` on
every call, so a redelivered event would otherwise never match itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.crypto import DataKey, public_id
from memoryos_server.engine.types import CATEGORIES
from memoryos_server.errors import (
    MemoryNotFound,
    ProvenanceInvalid,
    ServiceUnavailable,
    ServiceWriterExists,
    ServiceWriterNotFound,
    SourceEventConflict,
    UserNotFound,
    WriterBoundToAnotherKey,
)
from memoryos_server.services.identity import IdentityService, external_user_id_of
from memoryos_server.services.ids import decode_time_cursor, encode_time_cursor, is_plain_id
from memoryos_server.services.memory import MemoryService
from memoryos_server.services.memory.claims import Claim, priority_of
from memoryos_server.services.memory.scope import MemoryScope
from memoryos_server.services.memory.types import Page, VersionView
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal
from memoryos_server.services.runtime import Runtime
from memoryos_server.services.tenant_scopes import TenantScopes
from memoryos_server.storage.models import ServiceWriter, SourceEvent
from memoryos_server.storage.repositories.identity import ApiKeyRepository, UserRepository
from memoryos_server.storage.repositories.provenance import ServiceWriterRepository, SourceEventRepository
from memoryos_server.storage.types import utcnow

SERVICE_KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"  # the published SDK's MemorySource.service
DEFAULT_PRIORITY = 50
MAX_PRIORITY = 100
MAX_EVIDENCE = 20
MAX_SCOPE_BYTES = 4096
# An observation from the future would win every tie on time: a little clock skew is allowed.
FUTURE_SKEW = timedelta(minutes=5)
_UNSET: Any = object()


@dataclass(frozen=True)
class AuthorityRules:
    default_priority: int = DEFAULT_PRIORITY
    categories: dict[str, int] = field(default_factory=dict)

    def priority(self, category: str) -> int:
        return int(self.categories.get(category, self.default_priority))


@dataclass(frozen=True)
class EvidenceItem:
    source_type: str
    reference: str
    content_hash: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"source_type": self.source_type, "reference": self.reference, "content_hash": self.content_hash}


@dataclass(frozen=True)
class SourceBlock:
    """An add's ``source``, as the request gave it."""

    service: str
    event_id: str
    observed_at: datetime | None = None
    scope: dict[str, Any] = field(default_factory=dict)
    evidence: list[EvidenceItem] = field(default_factory=list)


@dataclass(frozen=True)
class WriterView:
    service_key: str
    display_name: str
    rules: AuthorityRules
    api_key_id: str | None  # key_…
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SourceEventView:
    id: str
    service: str
    event_id: str
    external_user_id: str | None
    observed_at: datetime
    received_at: datetime
    payload_hash: str
    scope: dict[str, Any]
    evidence: list[EvidenceItem]
    job_id: str | None
    memory_ids: list[str]
    api_key_id: str | None


class ProvenanceService:
    def __init__(self, runtime: Runtime, *, identity: IdentityService, memory: MemoryService, scopes: TenantScopes) -> None:
        self.rt = runtime
        self.identity = identity
        self.memory = memory
        self.scopes = scopes

    # --- service writers -----------------------------------------------------------------------

    def create_writer(
        self,
        session: Session,
        principal: Principal,
        *,
        service_key: str,
        display_name: str | None = None,
        rules: AuthorityRules | None = None,
        api_key_id: str | None = None,
    ) -> WriterView:
        tenant_id = principal.require(Permission.WRITERS_MANAGE)
        if not _is_key(service_key):
            raise ProvenanceInvalid("invalid_service_key", "a service key is lower-case letters, digits, '.', '_' and '-', at most 100")
        rules = _checked(rules or AuthorityRules())
        now = utcnow()
        writer = ServiceWriter(
            tenant_id=tenant_id,
            service_key=service_key,
            display_name=(display_name or service_key)[:200],
            default_priority=rules.default_priority,
            category_priorities=dict(rules.categories),
            api_key_id=self._key_row(session, tenant_id, api_key_id),
            created_at=now,
            updated_at=now,
        )
        if not ServiceWriterRepository(session).insert_if_absent(writer):
            raise ServiceWriterExists(f"a service writer {service_key!r} is already registered")
        return self._view(session, writer)

    def list_writers(self, session: Session, principal: Principal) -> list[WriterView]:
        tenant_id = principal.require(Permission.PROVENANCE_READ)
        writers = ServiceWriterRepository(session).for_tenant(tenant_id)
        keys = self._key_ids(session, tenant_id, [w.api_key_id for w in writers])
        return [_writer_view(w, keys.get(w.api_key_id or 0)) for w in writers]

    def get_writer(self, session: Session, principal: Principal, service_key: str) -> WriterView:
        tenant_id = principal.require(Permission.PROVENANCE_READ)
        return self._view(session, self._writer(session, tenant_id, service_key))

    def update_writer(
        self,
        session: Session,
        principal: Principal,
        service_key: str,
        *,
        display_name: str | None = None,
        rules: AuthorityRules | None = None,
        api_key_id: str | None = _UNSET,
    ) -> WriterView:
        """Only what is given changes; ``api_key_id=None`` unbinds the writer. New rules apply
        to contradictions settled from now on; what was settled stays settled."""
        tenant_id = principal.require(Permission.WRITERS_MANAGE)
        writer = self._writer(session, tenant_id, service_key, for_update=True)
        if display_name is not None:
            writer.display_name = display_name[:200]
        if rules is not None:
            rules = _checked(rules)
            writer.default_priority = rules.default_priority
            writer.category_priorities = dict(rules.categories)
        if api_key_id is not _UNSET:
            writer.api_key_id = self._key_row(session, tenant_id, api_key_id)
        writer.updated_at = utcnow()
        session.flush()
        return self._view(session, writer)

    def delete_writer(self, session: Session, principal: Principal, service_key: str) -> None:
        """The writer's past events and memories stay (with their provenance); new claims from
        it are refused, and its claims lose every contradiction from now on (no authority)."""
        tenant_id = principal.require(Permission.WRITERS_MANAGE)
        ServiceWriterRepository(session).delete(self._writer(session, tenant_id, service_key, for_update=True))

    def _writer(self, session: Session, tenant_id: int, service_key: str, *, for_update: bool = False) -> ServiceWriter:
        writer = ServiceWriterRepository(session).by_key(tenant_id, service_key, for_update=for_update) if _is_key(service_key) else None
        if writer is None:
            raise ServiceWriterNotFound(f"no service writer {service_key!r} is registered")
        return writer

    def _view(self, session: Session, writer: ServiceWriter) -> WriterView:
        keys = self._key_ids(session, writer.tenant_id, [writer.api_key_id])
        return _writer_view(writer, keys.get(writer.api_key_id or 0))

    @staticmethod
    def _key_row(session: Session, tenant_id: int, key_public_id: str | None) -> int | None:
        """The row id of one of the tenant's active API keys (``key_…``), or None for none."""
        if key_public_id is None:
            return None
        key = ApiKeyRepository(session).by_public_id(tenant_id, key_public_id)
        if key is None or key.revoked_at is not None:
            raise ProvenanceInvalid("unknown_api_key", "api_key_id must name one of this organisation's active API keys")
        return int(key.id)

    @staticmethod
    def _key_ids(session: Session, tenant_id: int, row_ids: Sequence[int | None]) -> dict[int, str]:
        wanted = {i for i in row_ids if i is not None}
        if not wanted:
            return {}
        return {k.id: k.public_id for k in ApiKeyRepository(session).for_tenant(tenant_id) if k.id in wanted}

    # --- an add with a source --------------------------------------------------------------------

    def once(
        self,
        session: Session,
        scope: MemoryScope,
        source: SourceBlock | None,
        *,
        payload: Mapping[str, Any],
        produce: Callable[[Claim | None], bytes],
    ) -> bytes:
        """The add's answer: ``produce(claim)``'s, or, for an event seen before with the same
        payload, the first answer again (nothing is written). ``payload``: what the add asks to
        write (JSON-able), which a repeat of the event must ask again."""
        if source is None:
            return produce(None)
        owner = scope.owner
        if owner is None or scope.tenant_id is None or not owner.is_tenant_family:
            raise ProvenanceInvalid("source_not_allowed", "a source is for a tenant's end-user memories")
        if owner.scope != "tenant":
            raise ProvenanceInvalid("source_not_allowed", "a source is for an end-user's memories, not the workspace's")
        now = utcnow()
        observed_at = source.observed_at or now
        if observed_at > now + FUTURE_SKEW:
            raise ProvenanceInvalid("observed_at_in_future", "source.observed_at is in the future")
        writer = ServiceWriterRepository(session).by_key(scope.tenant_id, source.service)
        if writer is None:
            raise ServiceWriterNotFound(
                f"no service writer {source.service!r} is registered: register it in POST /v1/tenant/service-writers"
            )
        if writer.api_key_id is not None and writer.api_key_id != scope.api_key_id:
            raise WriterBoundToAnotherKey(
                f"the service writer {source.service!r} accepts claims only through the API key bound to it"
            )
        key = self.rt.vault.key(owner.row)
        digest = _payload_digest(key, source, payload)
        events = SourceEventRepository(session)
        found = events.find(scope.tenant_id, source.service, source.event_id)
        if found is not None:
            return _replay(key, found, owner_id=owner.id, digest=digest)
        event = SourceEvent(
            id=public_id("sev_"),
            tenant_id=scope.tenant_id,
            owner_id=owner.id,
            service_key=source.service,
            event_id=source.event_id,
            observed_at=observed_at,
            received_at=now,
            payload_hash=digest,
            scope_ct=key.encrypt_json(source.scope, aad=_aad(source.service, source.event_id, "scope")) if source.scope else None,
            evidence_ct=(
                key.encrypt_json([e.as_dict() for e in source.evidence], aad=_aad(source.service, source.event_id, "evidence"))
                if source.evidence
                else None
            ),
            api_key_id=scope.api_key_id,
            actor=scope.actor[:120],
        )
        if not events.claim(event):
            winner = events.find(scope.tenant_id, source.service, source.event_id)
            if winner is None:
                raise ServiceUnavailable("an add with this event id is still running; try again")
            return _replay(key, winner, owner_id=owner.id, digest=digest)
        claim = Claim(
            source_event_id=event.id,
            service=source.service,
            observed_at=observed_at,
            provenance={
                "service": source.service,
                "event_id": source.event_id,
                "observed_at": observed_at.isoformat(),
                "received_at": now.isoformat(),
                "scope": source.scope,
                "evidence": [e.as_dict() for e in source.evidence],
            },
        )
        body = produce(claim)
        event.answer_ct = key.encrypt(body, aad=_aad(source.service, source.event_id, "answer"))
        event.job_id = _job_id_of(body)
        session.flush()
        return body

    # --- a memory's provenance ------------------------------------------------------------------

    def memory_history(self, session: Session, principal: Principal, memory_id: str) -> list[VersionView]:
        """Every version of one of the tenant's end-user memories, each with the claim its text
        came from (service, event id, observed and received times) and why it changed: which
        service said what, when. For those who may read the writers and export end-users."""
        principal.require(Permission.PROVENANCE_READ)
        scope = self.scopes.tenant(session, principal, Permission.USERS_EXPORT)
        if not is_plain_id(memory_id):
            raise MemoryNotFound("no such memory")
        return self.memory.history(session, self.scopes.owner_of_memory(session, scope, memory_id, seen=False), memory_id)

    # --- source events -----------------------------------------------------------------------------

    def list_events(
        self,
        session: Session,
        principal: Principal,
        *,
        external_user_id: str | None = None,
        service: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        """The tenant's source events, newest received first; filtered by end-user, service."""
        tenant_id = principal.require(Permission.PROVENANCE_READ)
        owner_id: int | None = None
        if external_user_id is not None:
            try:
                owner_id = int(self.identity.end_user(session, principal, external_user_id, create=False).id)
            except UserNotFound:
                return Page([], None, limit, 0)
        if service is not None and not _is_key(service):
            return Page([], None, limit, 0)
        repo = SourceEventRepository(session)
        rows = list(repo.page(tenant_id, owner_id=owner_id, service_key=service, after=decode_time_cursor(cursor), limit=limit + 1))
        next_cursor = encode_time_cursor(rows[limit - 1].received_at, rows[limit - 1].id) if len(rows) > limit else None
        items = self.describe(session, tenant_id, rows[:limit])
        return Page(items, next_cursor, limit, repo.total(tenant_id, owner_id=owner_id, service_key=service))

    def describe(self, session: Session, tenant_id: int, rows: Sequence[SourceEvent]) -> list[SourceEventView]:
        """Events as their tenant sees them: scope and evidence decrypted under each owner's key."""
        users = UserRepository(session)
        owners = {owner_id: users.by_id(owner_id) for owner_id in {r.owner_id for r in rows}}
        memories = SourceEventRepository(session).memory_ids(tenant_id, [r.id for r in rows])
        keys = self._key_ids(session, tenant_id, [r.api_key_id for r in rows])
        views = []
        for row in rows:
            owner = owners.get(row.owner_id)
            if owner is None:
                continue
            key = self.rt.vault.key(owner)
            scope = key.decrypt_json(row.scope_ct, aad=_aad(row.service_key, row.event_id, "scope")) or {}
            evidence = key.decrypt_json(row.evidence_ct, aad=_aad(row.service_key, row.event_id, "evidence")) or []
            views.append(
                SourceEventView(
                    id=row.id,
                    service=row.service_key,
                    event_id=row.event_id,
                    external_user_id=external_user_id_of(self.rt.vault, owner),
                    observed_at=row.observed_at,
                    received_at=row.received_at,
                    payload_hash=row.payload_hash,
                    scope=scope,
                    evidence=[EvidenceItem(e["source_type"], e["reference"], e.get("content_hash")) for e in evidence],
                    job_id=row.job_id,
                    memory_ids=memories.get(row.id, []),
                    api_key_id=keys.get(row.api_key_id or 0),
                )
            )
        return views


def _checked(rules: AuthorityRules) -> AuthorityRules:
    unknown = sorted(set(rules.categories) - set(CATEGORIES))
    if unknown:
        raise ProvenanceInvalid("unknown_category", f"authority_rules.categories names unknown categories: {', '.join(unknown)}")
    priorities = [rules.default_priority, *rules.categories.values()]
    if any(not isinstance(p, int) or not 0 <= p <= MAX_PRIORITY for p in priorities):
        raise ProvenanceInvalid("invalid_priority", f"a priority is a whole number from 0 to {MAX_PRIORITY}")
    return rules


def _writer_view(writer: ServiceWriter, api_key_id: str | None) -> WriterView:
    rules = AuthorityRules(
        int(writer.default_priority), {c: priority_of(writer, c) for c in CATEGORIES if c in (writer.category_priorities or {})}
    )
    return WriterView(writer.service_key, writer.display_name, rules, api_key_id, writer.created_at, writer.updated_at)


def _is_key(value: str) -> bool:
    return len(value) <= 100 and re.fullmatch(SERVICE_KEY_PATTERN, value) is not None


def _aad(service: str, event_id: str, part: str) -> bytes:
    return f"source_event:{service}:{event_id}:{part}".encode()


def _payload_digest(key: DataKey, source: SourceBlock, payload: Mapping[str, Any]) -> str:
    said = {
        "payload": payload,
        "scope": source.scope,
        "evidence": [e.as_dict() for e in source.evidence],
    }
    return key.content_digest("source-event\n" + json.dumps(said, sort_keys=True, separators=(",", ":"), default=str))


def _replay(key: DataKey, event: SourceEvent, *, owner_id: int, digest: str) -> bytes:
    """The first answer to this event, if the repeat says the same about the same end-user."""
    if event.owner_id != owner_id or event.payload_hash != digest:
        raise SourceEventConflict(
            f"event {event.event_id!r} of {event.service_key} was received before with another payload",
            details={"source_event_id": event.id},
        )
    if not event.answer_ct:
        raise ServiceUnavailable("an add with this event id is still running; try again")
    return key.decrypt(event.answer_ct, aad=_aad(event.service_key, event.event_id, "answer"))


def _job_id_of(body: bytes) -> str | None:
    try:
        job_id = json.loads(body).get("job_id")
    except (ValueError, AttributeError):
        return None
    return job_id if isinstance(job_id, str) else None
