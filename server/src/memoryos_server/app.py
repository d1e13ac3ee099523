"""create_app(): routers, pages, error handlers, middleware and the lifespan."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from memoryos_server.api.errors import install_error_handlers
from memoryos_server.api.openapi import install_openapi
from memoryos_server.api.middleware import BodyLimitMiddleware, RequestContextMiddleware, StorableTextMiddleware
from memoryos_server.api.routers import (
    admin,
    agents,
    auth,
    connectors,
    directory,
    health,
    mcp_oauth,
    memories,
    memories_compat,
    passport,
    passport_memories,
    provenance,
    tenant,
    universal,
    users,
    workspace,
)
from memoryos_server.errors import ServiceUnavailable
from memoryos_server.mcp.remote import RemoteMcp
from memoryos_server.origins import SiteOrigins
from memoryos_server.services.container import Services, build_services
from memoryos_server.services.memory.worker import start_background as start_memory_worker
from memoryos_server.services.runtime import Runtime, build_runtime
from memoryos_server.services.seen import start_flusher as start_last_seen_flusher
from memoryos_server.settings import Settings, get_settings
from memoryos_server.storage.migrate import upgrade
from memoryos_server.web import install_web

log = logging.getLogger("memoryos")

# Components started with the app (the job worker, …) register here: (start, stop) pairs.
LifecycleHook = Callable[[Services], Callable[[], None]]


def warm_up_models(services: Services) -> Callable[[], None]:
    """Load the models in a background thread at start; a failure (no model installed, an
    endpoint down) is logged with its remedy and met again, as a 503, by the requests that need
    the model, while everything else keeps working."""
    runtime = services.runtime

    def run() -> None:
        try:
            runtime.warm_up()
        except ServiceUnavailable as exc:
            log.warning("embedder not ready: %s", exc)
        freeze_start_up_objects(services)

    if runtime.settings.warm_up_models:
        threading.Thread(target=run, name="memoryos-warm-up", daemon=True).start()
    return lambda: None


def freeze_start_up_objects(services: Services) -> Callable[[], None]:
    """``gc.freeze()`` what exists now (after start-up, and again once the models are loaded):
    those objects live as long as the process, and a full collection that scans them all takes
    ~90 ms, a pause in whichever request triggers it."""
    if services.runtime.settings.gc_freeze:
        gc.freeze()
    return lambda: None


def close_query_vectors(services: Services) -> Callable[[], None]:
    """The threads that embed search queries early (``QueryVectors``) stop with the app."""
    return services.memory.query_vectors.close


LIFECYCLE_HOOKS: list[LifecycleHook] = [
    start_memory_worker, start_last_seen_flusher, warm_up_models, freeze_start_up_objects, close_query_vectors
]


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, migrate: bool = True
) -> FastAPI:
    settings = settings or get_settings()
    runtime = runtime or build_runtime(settings)
    services = build_services(runtime)
    remote_mcp = RemoteMcp(services) if settings.mcp_enabled else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            upgrade(runtime.db, master_key=runtime.master.key)
        stops = [hook(services) for hook in LIFECYCLE_HOOKS]
        try:
            async with AsyncExitStack() as running:
                if remote_mcp is not None:
                    await running.enter_async_context(remote_mcp.running())
                yield
        finally:
            for stop in reversed(stops):
                stop()

    app = FastAPI(
        title="MemoryOS",
        version="0.1.0",
        summary="A self-hostable memory layer for AI agents, with Memory Passport.",
        lifespan=lifespan,
        # The docs are served by the web package from files of our own (web/docs.py), not
        # from FastAPI's defaults, which load Swagger UI and ReDoc from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.services = services
    app.state.site_origins = SiteOrigins.at(settings.resolved_public_url, settings.resolved_consent_base_url)

    install_error_handlers(app)
    routers = (
        health.router, auth.router, tenant.router, provenance.router, users.router,
        memories_compat.router, memories.router, workspace.router, workspace.reviews_router,
        agents.router, connectors.router, directory.tenant_router, directory.public_router, admin.router,
        passport.router, directory.passport_router, passport_memories.memories_router, passport_memories.questions_router, passport_memories.router,
        universal.router, universal.memories_router,
    )
    for router in routers:
        app.include_router(router)
    if remote_mcp is not None:
        # The Passport over MCP (docs/mcp.md): the OAuth documents and endpoints, and /mcp itself.
        app.include_router(mcp_oauth.router)
        app.add_route("/mcp", remote_mcp, include_in_schema=False)
    install_openapi(app)
    install_web(app, runtime)

    # Outermost last: the request context wraps everything, so even a 413 carries a request id.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(StorableTextMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app
