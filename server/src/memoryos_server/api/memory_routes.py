"""The memory routes, written once and mounted for each kind of caller.

A ``MemoryMount`` says who calls (the authenticating dependency) and how that caller becomes a
``MemoryScope`` (``resolve``); ``memory_router`` then builds the routes the mount offers —
add, retrieve, job status, list, get, history, edit, flag, correct, delete, answer — each
one thin: the scope arrives through a dependency, one memory-service call, one serialiser.
The request's transaction is the ``ReadSession``/``WriteSession`` dependency, shared by the
scope's dependency and the route (FastAPI solves a dependency once per request).

The scope's dependency is built per route so that it declares exactly the inputs that name
the owner on that route (the ``X-End-User-ID`` header, the body's or the query's
``external_user_id``): its own inputs are validated before it runs, so a malformed request
is refused before any owner is resolved, let alone created.

This module does not use ``from __future__ import annotations``: the route signatures are
built from the mount's types at run time, and FastAPI reads them as real annotations.
"""

import inspect
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from memoryos_server.api.deps import EndUserHeader, ReadSession, ServicesDep, WriteSession
from memoryos_server.api.envelope import Envelope, Paged, ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.memory import (
    AddOut,
    AnswerOut,
    DeletedOut,
    HistoryOut,
    MemoryOut,
    MemoryPatch,
    TenantDeletedOut,
    VersionOut,
    add_body,
)
from memoryos_server.engine.types import Category
from memoryos_server.services.container import Services
from memoryos_server.services.memory.idempotency import add_request
from memoryos_server.services.memory.query_vectors import PendingVector
from memoryos_server.services.memory.scope import MemoryScope
from memoryos_server.services.memory.types import PreparedAdd, PreparedText

JSON = "application/json"


class Need(Enum):
    """What a route does with the owner's memories, which decides the scope it is given."""

    READ = "read"
    ADD = "add"  # may create the owner (an end-user on first sight, the workspace)
    EDIT = "edit"  # changes existing memories; creates no owner
    JOBS = "jobs"  # reads job states, tenant-wide where the caller is a tenant
    DELETE = "delete"  # like EDIT; a tenant's backend may name no end-user (delete by id)


WRITES = frozenset({Need.ADD, Need.EDIT, Need.DELETE})

# (session, services, caller, need, the end-user the request names) → the scope
Resolve = Callable[[Session, Services, Any, Need, str | None], MemoryScope]

ExternalUserQuery = Annotated[str | None, Query(min_length=1, max_length=255)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=255, description="A repeat within 24 h returns the first answer."),
]


@dataclass(frozen=True)
class MemoryMount:
    """One kind of caller's memory routes.

    - ``caller``: the ``Annotated`` dependency that authenticates it (run before the body is
      read, by ``AuthenticatedRoute``).
    - ``resolve``: caller → scope (``services/tenant_scopes.py``, ``services/passport/scopes.py``).
    - ``names_end_user``: the routes take ``X-End-User-ID`` and ``external_user_id``.
    - ``audited_reads``: every read is recorded (a passport agent's): reads need a write session.
    - ``asker``: caller → whose remembered query vectors its searches use (``query_vectors``);
      None: remembered for no one.
    """

    prefix: str
    tags: list[str]
    caller: Any
    resolve: Resolve
    names_end_user: bool = False
    audited_reads: bool = False
    asker: Callable[[Any], str | None] = lambda _caller: None


def session_dependency(mount: MemoryMount, need: Need) -> Any:
    return WriteSession if need in WRITES or (mount.audited_reads and need is Need.READ) else ReadSession


def scope_dependency(mount: MemoryMount, need: Need, *, body: type[BaseModel] | None = None, query: bool = False) -> Any:
    """An ``Annotated[MemoryScope, Depends(...)]`` for one route of ``mount``.

    Its parameters are the caller, the request's session and, on mounts that name an
    end-user, the header plus the route's body (its ``external_user_id``) and/or the
    ``external_user_id`` query parameter; the header wins, then the body, then the query.
    """
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("caller", keyword, annotation=mount.caller),
        inspect.Parameter("session", keyword, annotation=session_dependency(mount, need)),
        inspect.Parameter("services", keyword, annotation=ServicesDep),
    ]
    if mount.names_end_user:
        if body is not None:
            parameters.append(inspect.Parameter("body", keyword, annotation=body))
        parameters.append(inspect.Parameter("x_end_user_id", keyword, annotation=EndUserHeader, default=None))
        if query:
            parameters.append(inspect.Parameter("external_user_id", keyword, annotation=ExternalUserQuery, default=None))

    def resolve_scope(**values: Any) -> MemoryScope:
        named = values.get("x_end_user_id") or getattr(values.get("body"), "external_user_id", None) or values.get("external_user_id")
        return mount.resolve(values["session"], values["services"], values["caller"], need, named)

    resolve_scope.__signature__ = inspect.Signature(parameters, return_annotation=MemoryScope)  # type: ignore[attr-defined]
    return Annotated[MemoryScope, Depends(resolve_scope)]


# --- what a mount offers, and how each answer is shaped ---------------------------------------------


@dataclass(frozen=True)
class AddRoute:
    """``body`` has ``chat_messages()``, ``service_arguments()`` and ``fingerprint()`` (and,
    where a service writer may make the add a claim, ``source_block()``); the idempotency key
    comes from the ``Idempotency-Key`` header (``header_key``) or the body's ``idempotency_key``."""

    body: type[BaseModel]
    summary: str
    header_key: bool = True


@dataclass(frozen=True)
class RetrieveRoute:
    """``answer`` is the response model: its ``fields_of(outcome)`` are the body's fields."""

    body: type[BaseModel]
    summary: str
    answer: Any


@dataclass(frozen=True)
class JobRoute:
    """``answer`` is the job's model (``of(view)``); a bare body without the envelope unless
    ``enveloped``."""

    summary: str
    answer: Any
    enveloped: bool = True


@dataclass(frozen=True)
class BrowseRoutes:
    """List, get and history; ``sortable`` offers ``sort=newest|oldest|importance``."""

    noun: str  # "the end-user's memories", …
    sortable: bool = False


@dataclass(frozen=True)
class DeleteRoute:
    summary: str
    always_hard: bool = False  # a person deleting their own memory: for good, with its history


@dataclass(frozen=True)
class AnswerRoute:
    path: str  # relative to the mount, naming its id: "/{review_id}/answer"
    id_name: str
    body: type[BaseModel]
    summary: str


def memory_router(
    mount: MemoryMount,
    *,
    add: AddRoute | None = None,
    retrieve: RetrieveRoute | None = None,
    job: JobRoute | None = None,
    browse: BrowseRoutes | None = None,
    edit: bool = False,
    flag: bool = False,
    correct: type[BaseModel] | None = None,
    delete: DeleteRoute | None = None,
    answer: AnswerRoute | None = None,
) -> APIRouter:
    router = APIRouter(prefix=mount.prefix, tags=list(mount.tags), route_class=AuthenticatedRoute)
    if add is not None:
        _add_route(router, mount, add)
    if job is not None:
        _job_route(router, mount, job)
    if retrieve is not None:
        _retrieve_route(router, mount, retrieve)
    if browse is not None:
        _list_route(router, mount, browse)
    if answer is not None:
        _answer_route(router, mount, answer)
    if browse is not None:
        _get_routes(router, mount, browse)
    if edit:
        _edit_route(router, mount)
    if flag:
        _flag_routes(router, mount)
    if correct is not None:
        _correct_route(router, mount, correct)
    if delete is not None:
        _delete_route(router, mount, delete)
    return router


# The paths say ``{memory_id:uuid}``: a word in that place (``/v1/memories/add``) is another
# route's address, so a wrong method there is a 405, not a 422 about a memory id.
MemoryId = Annotated[uuid.UUID, Path()]


def _add_route(router: APIRouter, mount: MemoryMount, spec: AddRoute) -> None:
    Scope = scope_dependency(mount, Need.ADD, body=spec.body)
    Body = spec.body

    def prepare(body: Body, caller: mount.caller, services: ServicesDep) -> PreparedAdd | None:  # type: ignore[valid-type]
        """Resolved before the scope, which opens the write transaction (``prepare_add``)."""
        if getattr(body, "source", None) is not None:
            return None  # a service writer's claim: its messages are read otherwise
        reading = {name: value for name, value in body.service_arguments().items() if name in ("infer", "category")}
        return services.memory.prepare_add(body.chat_messages(), **reading)

    Prepared = Annotated[PreparedAdd | None, Depends(prepare)]

    def add_memories(prepared: Prepared, body: Body, scope: Scope, session: WriteSession, services: ServicesDep, idempotency_key: IdempotencyKey = None) -> Response:  # type: ignore[valid-type]
        """The answer is replayed byte for byte for a repeated idempotency key (24 h), and for a
        repeated source event (the same service and event id, with the same payload)."""
        key = idempotency_key if spec.header_key else getattr(body, "idempotency_key", None)
        owner = services.memory.writable(scope)
        source = body.source_block() if hasattr(body, "source_block") else None

        def add(claim: Any) -> bytes:
            outcome = services.memory.add(
                session, scope, messages=body.chat_messages(), claim=claim, prepared=prepared, **body.service_arguments()
            )
            return add_body(outcome)

        def produce() -> bytes:
            return services.provenance.once(session, scope, source, payload=body.fingerprint(), produce=add)

        content, _replayed = services.memory.idempotency.once(
            session, owner=owner, caller=scope.caller, key=key, request=body.fingerprint(), produce=produce
        )
        return Response(content, media_type=JSON)

    if not spec.header_key:
        _drop_parameter(add_memories, "idempotency_key")
    router.add_api_route("/add", add_memories, methods=["POST"], summary=spec.summary, response_model=AddOut)


def _job_route(router: APIRouter, mount: MemoryMount, spec: JobRoute) -> None:
    Scope = scope_dependency(mount, Need.JOBS)

    def job_status(job_id: Annotated[str, Path(max_length=64)], scope: Scope, session: session_dependency(mount, Need.JOBS), services: ServicesDep) -> Any:  # type: ignore[valid-type]
        answer = spec.answer.of(services.memory.job(session, scope, job_id))
        return ok(answer) if spec.enveloped else answer

    model = Envelope[spec.answer] if spec.enveloped else spec.answer  # type: ignore[name-defined]
    router.add_api_route("/jobs/{job_id}", job_status, methods=["GET"], summary=spec.summary, response_model=model)


def _retrieve_route(router: APIRouter, mount: MemoryMount, spec: RetrieveRoute) -> None:
    Scope = scope_dependency(mount, Need.READ, body=spec.body)
    Body = spec.body

    def start_query_vector(caller: mount.caller, body: Body, services: ServicesDep) -> Iterator[PendingVector]:  # type: ignore[valid-type]
        """Solved first: the query's embedding runs while the end-user is resolved and the
        session opened (``QueryVectors``). The caller is authenticated and the body valid; a
        request that ends before its search needed the vector cancels it if not yet started."""
        vector = services.memory.query_vectors.start(mount.asker(caller), body.query)
        try:
            yield vector
        finally:
            vector.cancel()

    QueryVector = Annotated[PendingVector, Depends(start_query_vector)]

    def retrieve(query_vector: QueryVector, body: Body, scope: Scope, session: session_dependency(mount, Need.READ), services: ServicesDep) -> dict[str, Any]:  # type: ignore[valid-type]
        outcome = services.memory.retrieve(
            session,
            scope,
            query_vector=query_vector,
            query=body.query,
            limit=body.limit,
            categories=body.categories,
            time_filter_days=getattr(body, "time_filter_days", None),
            as_of=getattr(body, "as_of", None),
            format=body.format,
            context_max_tokens=body.context_max_tokens,
            min_relevance=body.min_relevance,
        )
        return ok(**spec.answer.fields_of(outcome))

    router.add_api_route("/retrieve", retrieve, methods=["POST"], summary=spec.summary, response_model=spec.answer)


def _list_route(router: APIRouter, mount: MemoryMount, spec: BrowseRoutes) -> None:
    Scope = scope_dependency(mount, Need.READ, query=True)

    def list_memories(
        scope: Scope,  # type: ignore[valid-type]
        session: session_dependency(mount, Need.READ),  # type: ignore[valid-type]
        services: ServicesDep,
        category: Annotated[Category | None, Query()] = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        sort: Annotated[Literal["newest", "oldest", "importance"], Query()] = "newest",
    ) -> dict[str, Any]:
        result = services.memory.list(
            session, scope, categories=[category] if category else None, cursor=cursor, limit=limit, sort=sort
        )
        return page([MemoryOut.of(m) for m in result.items], next_cursor=result.next_cursor, limit=limit, total=result.total)

    if not spec.sortable:
        _drop_parameter(list_memories, "sort")
    summary = f"{spec.noun[0].upper()}{spec.noun[1:]}, newest first"
    router.add_api_route("", list_memories, methods=["GET"], summary=summary, response_model=Paged[MemoryOut])


def _get_routes(router: APIRouter, mount: MemoryMount, spec: BrowseRoutes) -> None:
    Scope = scope_dependency(mount, Need.READ, query=True)
    Session_ = session_dependency(mount, Need.READ)

    def get_memory(memory_id: MemoryId, scope: Scope, session: Session_, services: ServicesDep) -> dict[str, Any]:  # type: ignore[valid-type]
        return ok(MemoryOut.of(services.memory.get(session, scope, str(memory_id))))

    def memory_history(memory_id: MemoryId, scope: Scope, session: Session_, services: ServicesDep) -> dict[str, Any]:  # type: ignore[valid-type]
        versions = services.memory.history(session, scope, str(memory_id))
        return ok([VersionOut.of(v) for v in versions], memory_id=str(memory_id))

    router.add_api_route("/{memory_id:uuid}", get_memory, methods=["GET"], summary="One memory", response_model=Envelope[MemoryOut])
    router.add_api_route(
        "/{memory_id:uuid}/history",
        memory_history,
        methods=["GET"],
        summary="Every version of a memory, oldest first",
        response_model=HistoryOut,
    )


def _prepared_text(mount: MemoryMount, body_model: type[BaseModel], text_of: Callable[[Any], str | None]) -> Any:
    """An ``Annotated`` dependency: the new text of an edit or a correction (``text_of(body)``)
    embedded before the scope, which opens the write transaction (``prepare_text``)."""

    def prepare(body: body_model, caller: mount.caller, services: ServicesDep) -> PreparedText | None:  # type: ignore[valid-type]
        return services.memory.prepare_text(text_of(body))

    return Annotated[PreparedText | None, Depends(prepare)]


def _edit_route(router: APIRouter, mount: MemoryMount) -> None:
    Scope = scope_dependency(mount, Need.EDIT, body=MemoryPatch, query=True)
    Prepared = _prepared_text(mount, MemoryPatch, lambda body: body.content)

    def update_memory(prepared: Prepared, memory_id: MemoryId, body: MemoryPatch, scope: Scope, session: WriteSession, services: ServicesDep) -> dict[str, Any]:  # type: ignore[valid-type]
        return ok(MemoryOut.of(services.memory.update(session, scope, str(memory_id), prepared=prepared, **body.changes())))

    router.add_api_route(
        "/{memory_id:uuid}",
        update_memory,
        methods=["PATCH"],
        summary="Edit a memory (a version is kept)",
        response_model=Envelope[MemoryOut],
    )


def _flag_routes(router: APIRouter, mount: MemoryMount) -> None:
    Scope = scope_dependency(mount, Need.EDIT)

    def flag(memory_id: MemoryId, scope: Scope, session: WriteSession, services: ServicesDep) -> dict[str, Any]:  # type: ignore[valid-type]
        return ok(MemoryOut.of(services.memory.flag(session, scope, str(memory_id), flagged=True)))

    def unflag(memory_id: MemoryId, scope: Scope, session: WriteSession, services: ServicesDep) -> dict[str, Any]:  # type: ignore[valid-type]
        return ok(MemoryOut.of(services.memory.flag(session, scope, str(memory_id), flagged=False)))

    model = Envelope[MemoryOut]
    router.add_api_route(
        "/{memory_id:uuid}/flag", flag, methods=["POST"], summary="Flag a memory as wrong or unwanted", response_model=model
    )
    router.add_api_route("/{memory_id:uuid}/flag", unflag, methods=["DELETE"], summary="Remove my flag", response_model=model)


def _correct_route(router: APIRouter, mount: MemoryMount, body_model: type[BaseModel]) -> None:
    Scope = scope_dependency(mount, Need.EDIT, body=body_model)
    Body = body_model
    Prepared = _prepared_text(mount, body_model, lambda body: body.corrected_content)

    def correct(prepared: Prepared, memory_id: MemoryId, body: Body, scope: Scope, session: WriteSession, services: ServicesDep) -> dict[str, Any]:  # type: ignore[valid-type]
        view = services.memory.correct(session, scope, str(memory_id), corrected_content=body.corrected_content, prepared=prepared)
        return ok(MemoryOut.of(view))

    router.add_api_route(
        "/{memory_id:uuid}/correct",
        correct,
        methods=["POST"],
        summary="Correct a memory (the old text stays in its history)",
        response_model=Envelope[MemoryOut],
    )


def _delete_route(router: APIRouter, mount: MemoryMount, spec: DeleteRoute) -> None:
    Scope = scope_dependency(mount, Need.DELETE, query=True)

    def delete_memory(
        memory_id: MemoryId,
        scope: Scope,  # type: ignore[valid-type]
        session: WriteSession,
        services: ServicesDep,
        hard_delete: Annotated[bool, Query()] = False,
    ) -> dict[str, Any]:
        hard = spec.always_hard or hard_delete
        if scope.tenant_wide:
            scope = services.scopes.owner_of_memory(session, scope, str(memory_id))
        deleted = services.memory.delete(session, scope, str(memory_id), hard=hard)
        if spec.always_hard:
            return ok(DeletedOut(deleted=deleted, id=str(memory_id)))
        return ok(TenantDeletedOut(deleted=deleted, id=str(memory_id), hard_delete=hard))

    model = Envelope[DeletedOut] if spec.always_hard else Envelope[TenantDeletedOut]
    if spec.always_hard:
        _drop_parameter(delete_memory, "hard_delete")
    router.add_api_route("/{memory_id:uuid}", delete_memory, methods=["DELETE"], summary=spec.summary, response_model=model)


def _answer_route(router: APIRouter, mount: MemoryMount, spec: AnswerRoute) -> None:
    Scope = scope_dependency(mount, Need.EDIT, body=spec.body)
    keyword = inspect.Parameter.KEYWORD_ONLY

    def answer(**values: Any) -> dict[str, Any]:
        body, scope, session, services = values["body"], values["scope"], values["session"], values["services"]
        outcome = services.memory.answer(
            session, scope, values[spec.id_name], answer=body.answer, free_text=getattr(body, "free_text", None)
        )
        return ok(AnswerOut.of(outcome))

    # The id's name is the path's own (clarification_id, review_id, question_id).
    answer.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(spec.id_name, keyword, annotation=Annotated[str, Path(max_length=64)]),
            inspect.Parameter("body", keyword, annotation=spec.body),
            inspect.Parameter("scope", keyword, annotation=Scope),
            inspect.Parameter("session", keyword, annotation=WriteSession),
            inspect.Parameter("services", keyword, annotation=ServicesDep),
        ],
        return_annotation=dict[str, Any],
    )
    router.add_api_route(spec.path, answer, methods=["POST"], summary=spec.summary, response_model=Envelope[AnswerOut])


def _drop_parameter(function: Callable[..., Any], name: str) -> None:
    """Leave a parameter out of what FastAPI sees (the mount does not offer it)."""
    signature = inspect.signature(function)
    function.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.name != name]
    )
