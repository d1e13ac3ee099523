"""The background thread started with the app: runs queued extraction jobs, flushes read counts.

Jobs are claimed one at a time (``JobRepository.claim``: ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, an atomic UPDATE on SQLite), so any number of workers in any number of processes
share one queue. The LLM is called outside any transaction; the memories it found are then
written like an inline add. When the LLM endpoint fails, ``FallbackExtractor`` uses the
rule-based extractor and the job records which one ran. A job that fails anyway is retried
with exponential backoff, up to ``job_max_attempts``, then ends ``dead``.

A queued job carries the permission it was queued under, which may be gone by the time it
runs. A ``QueuedWriteGate`` (for universal jobs: the agent's grant) decides again, before the
LLM sees the messages and once more in the transaction that writes: a job whose permission is
gone ends ``blocked``, with the reason, and writes nothing; otherwise only the categories still
allowed are written, and the gate records what was written.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from memoryos_server.engine.extraction import embedding_scope
from memoryos_server.engine.types import Extractor
from memoryos_server.errors import MemoryOSError
from memoryos_server.services.memory import jobs
from memoryos_server.services.memory.ingest import embed_candidates, select_candidates, verbatim
from memoryos_server.services.memory.owner import MemoryOwner
from memoryos_server.services.memory.service import MemoryService
from memoryos_server.services.memory.types import AddEvent
from memoryos_server.storage.models import EMBEDDING_DIM, GlobalAgent, Job, UniversalUser, User
from memoryos_server.storage.index import graph
from memoryos_server.storage.repositories.jobs import IdempotencyRepository, JobRepository
from memoryos_server.storage.repositories.memories import TENANT, UNIVERSAL
from memoryos_server.storage.types import utcnow

log = logging.getLogger("memoryos.worker")

ACCESS_FLUSH_SECONDS = 2.0
IDEMPOTENCY_PURGE_SECONDS = 600.0
# How often an erasure's log that readers kept from emptying is tried again (Database.retry_release).
RELEASE_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class WriteAdmission:
    """What a queued job may still write: ``allowed_categories`` (None: any), or nothing at all
    when ``blocked_reason`` is set."""

    allowed_categories: list[str] | None
    blocked_reason: str | None = None


class QueuedWriteGate(Protocol):
    """Re-checks a universal job's permission when the worker runs it, and audits the outcome."""

    def admit(
        self, session: Session, job: Job, owner: MemoryOwner, requested: list[str] | None, *, hold: bool = False
    ) -> WriteAdmission: ...

    def record(
        self, session: Session, job: Job, owner: MemoryOwner, admission: WriteAdmission, *, events: list[AddEvent], skipped: int
    ) -> None: ...


class JobRunner:
    """Runs queued jobs of every family; universal jobs only through ``universal_gate``."""

    def __init__(self, service: MemoryService, *, universal_gate: QueuedWriteGate) -> None:
        self.service = service
        self.rt = service.rt
        self.universal_gate = universal_gate
        self._extractor: Extractor | None = None
        self._lock = threading.Lock()

    @property
    def extractor(self) -> Extractor:
        if self._extractor is None:
            with self._lock:
                if self._extractor is None:
                    from memoryos_server.engine.extraction import build_extractor

                    s = self.rt.settings
                    embedder = self.rt.classifier_embedder
                    self._extractor = build_extractor(
                        llm_base_url=s.llm_base_url,
                        # Many OpenAI-compatible servers serve one model and ignore the name.
                        llm_model=s.llm_model or ("default" if s.llm_base_url else None),
                        llm_api_key=s.llm_api_key.get_secret_value() if s.llm_api_key else None,
                        llm_timeout_seconds=s.llm_timeout_seconds,
                        embedder=embedder,  # the rules behind the LLM file unsure categories the same way
                    )
        return self._extractor

    def run_once(self) -> bool:
        """Run one due job, if any; True when one ran (whatever its outcome)."""
        now = utcnow()
        with self.rt.db.session(write=False) as session:
            if not JobRepository(session).has_work(now=now):
                return False
        with self.rt.db.session() as session:
            job = JobRepository(session).claim(now=now, lease=jobs.LEASE)
            if job is None:
                return False
            job_id, attempts = job.id, job.attempts
            owner = _owner_of(session, job)
            if owner is None:
                jobs.fail(job, error="owner_deleted", max_attempts=0, now=now)
                return True
            payload = jobs.open_payload(self.service.codec(owner), job) if job.payload_ct else None
            if payload is None:
                jobs.fail(job, error="payload_missing", max_attempts=0, now=now)
                return True
            # Before the messages go to an LLM: a revoked grant shares nothing more.
            admission = self._admit(session, job, owner, payload)
            if admission.blocked_reason is not None:
                self._block(session, job, owner, admission)
                return True
        try:
            self._run(job_id, attempts, owner, payload, admission)
        except Exception as exc:  # noqa: BLE001 — one job's failure must not stop the worker
            reason = exc.error if isinstance(exc, MemoryOSError) else type(exc).__name__
            log.warning(
                "job %s attempt %s failed: %s", job_id, attempts, reason, exc_info=not isinstance(exc, MemoryOSError)
            )
            with self.rt.db.session() as session:
                failed = session.get(Job, job_id)
                if failed is not None and failed.status == "running" and failed.attempts == attempts:
                    jobs.fail(failed, error=reason, max_attempts=self.rt.settings.job_max_attempts, now=utcnow())
        return True

    def _admit(
        self, session: Session, job: Job, owner: MemoryOwner, payload: dict[str, Any], *, hold: bool = False
    ) -> WriteAdmission:
        """``hold``: in the transaction that writes, the grant stays as read until it commits."""
        requested = payload.get("allowed_categories")
        if job.family != "universal":
            return WriteAdmission(requested)
        return self.universal_gate.admit(session, job, owner, requested, hold=hold)

    def _block(self, session: Session, job: Job, owner: MemoryOwner, admission: WriteAdmission) -> None:
        assert admission.blocked_reason is not None
        jobs.block(job, self.service.codec(owner), reason=admission.blocked_reason, now=utcnow())
        self.universal_gate.record(session, job, owner, admission, events=[], skipped=0)

    def _extract(
        self, messages: Any, payload: dict[str, Any], admission: WriteAdmission, now: Any
    ) -> tuple[str, bool, str | None, Any, int]:
        """The job's memories, by the extractor that found them (the LLM, or the rules when it
        fails: ``fell_back`` and why) or verbatim; those the admission keeps, and how many not."""
        fell_back, reason = False, None
        if payload.get("infer", True):
            extractor = self.extractor
            with_outcome = getattr(extractor, "extract_with_outcome", None)  # FallbackExtractor
            if with_outcome is not None:
                outcome = with_outcome(messages, now=now)
                extracted, name, fell_back, reason = (
                    outcome.memories,
                    outcome.extractor,
                    outcome.fell_back,
                    outcome.fallback_reason,
                )
            else:
                extracted, name = extractor.extract(messages, now=now), extractor.name
        else:
            extracted, name = verbatim(messages, payload.get("category") or "fact"), "verbatim"
        kept, skipped = select_candidates(extracted, admission.allowed_categories)
        return name, fell_back, reason, kept, skipped

    def _run(
        self, job_id: str, attempts: int, owner: MemoryOwner, payload: dict[str, Any], admission: WriteAdmission
    ) -> None:
        now = utcnow()
        messages = jobs.payload_messages(payload)
        with embedding_scope(self.rt.embedder):  # the classifier's vectors serve the job's embedding
            name, fell_back, reason, kept, skipped = self._extract(messages, payload, admission, now)
            candidates = embed_candidates(self.rt.embedder, kept, EMBEDDING_DIM)
        with self.rt.db.session() as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is None or job.status != "running" or job.attempts != attempts:
                return  # the lease ran out and another worker took it over
            # The LLM call took time: the permission is decided again where the write happens.
            admission = self._admit(session, job, owner, payload, hold=True)
            if admission.blocked_reason is not None:
                self._block(session, job, owner, admission)
                return
            if admission.allowed_categories is not None:
                allowed = set(admission.allowed_categories)
                narrowed = [c for c in candidates if c.required <= allowed]
                skipped += len(candidates) - len(narrowed)
                candidates = narrowed
            codec = self.service.codec(owner)
            applied = self.service.ingestor.apply(
                session,
                owner,
                codec,
                candidates,
                context=jobs.payload_context(payload),
                now=utcnow(),
                verbatim=not payload.get("infer", True),
                writable=admission.allowed_categories,
            )
            jobs.complete(
                job,
                codec,
                events=applied.events,
                skipped=skipped,
                extractor=name,
                fell_back=fell_back,
                fallback_reason=reason,
                now=utcnow(),
            )
            if job.family == "universal":
                self.universal_gate.record(session, job, owner, admission, events=applied.events, skipped=skipped)


def _owner_of(session: Any, job: Job) -> MemoryOwner | None:
    repo = JobRepository(session)
    if job.family == "universal":
        universal = repo.owner_row(UniversalUser, job.owner_id)
        if universal is None or not universal.wrapped_key:
            return None
        # The writing agent's tenant goes on each memory, as on an inline add (the user's activity view).
        agent = repo.owner_row(GlobalAgent, job.agent_id) if job.agent_id else None
        return MemoryOwner.universal(universal, source_tenant_id=agent.owner_tenant_id if agent is not None else None)
    user = repo.owner_row(User, job.owner_id)
    if user is None or not user.wrapped_key:
        return None
    if user.kind == "workspace":
        return MemoryOwner.workspace(user)
    return MemoryOwner.end_user(user, tenant_id=job.tenant_id)


class BackgroundWorker:
    """One daemon thread: jobs (when enabled), read-count flushes, expired idempotency records."""

    def __init__(
        self, service: MemoryService, *, universal_gate: QueuedWriteGate, run_jobs: bool, poll_seconds: float
    ) -> None:
        self.service = service
        self.runner = JobRunner(service, universal_gate=universal_gate)
        self.run_jobs = run_jobs
        self.poll_seconds = max(poll_seconds, 0.01)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="memoryos-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        self._guard(self.service.flush_access)

    def _loop(self) -> None:
        last_flush = last_purge = time.monotonic()
        last_release = last_flush - RELEASE_RETRY_SECONDS
        while not self._stop.is_set():
            busy = False
            if self.run_jobs:
                busy = bool(self._guard(self.runner.run_once))
            now = time.monotonic()
            if (self.service.access.pending or self.service.usage_days.pending) and (now - last_flush >= ACCESS_FLUSH_SECONDS or self.service.access.full):
                self._guard(self.service.flush_access)
                last_flush = now
            if graph.WANTED.pending(self.service.rt.db):
                # A step of building the graph of owners grown past the size searched exactly.
                busy = bool(self._guard(self._build_graphs)) or busy
            if self.service.rt.db.release_pending and now - last_release >= RELEASE_RETRY_SECONDS:
                self._guard(self.service.rt.db.retry_release)  # an erasure's log a reader kept from emptying
                last_release = now
            if now - last_purge >= IDEMPOTENCY_PURGE_SECONDS:
                self._guard(self._purge_idempotency)
                last_purge = now
            if not busy:
                self._stop.wait(self.poll_seconds)

    def _build_graphs(self) -> bool:
        return graph.WANTED.step(self.service.rt.db, (TENANT, UNIVERSAL))

    def _purge_idempotency(self) -> None:
        with self.service.rt.db.session() as session:
            IdempotencyRepository(session).purge_expired(now=utcnow())

    @staticmethod
    def _guard(step: Callable[[], Any]) -> Any:
        try:
            return step()
        except Exception:  # noqa: BLE001 — the worker outlives any one failure (a database restart, …)
            log.exception("background step %s failed", getattr(step, "__name__", step))
            return None


def start_background(services: Any) -> Callable[[], None]:
    """``app.LIFECYCLE_HOOKS`` entry: start the worker with the app, stop it with the app."""
    settings = services.runtime.settings
    worker = BackgroundWorker(
        services.memory,
        universal_gate=services.passport_scopes,
        run_jobs=settings.worker_enabled,
        poll_seconds=settings.worker_poll_seconds,
    )
    worker.start()
    return worker.stop
