"""The consent app: server-rendered pages for signing in, consenting and the permission center.

The pages call the same services as the ``/v1/uui/*`` routes and add no rules of their own.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from memoryos_server.services.runtime import Runtime
from memoryos_server.web.docs import install_docs
from memoryos_server.web.routes import home, router
from memoryos_server.web.site import Site
from memoryos_server.web.templating import STATIC_DIR


def install_web(app: FastAPI, runtime: Runtime) -> None:
    """Add the pages, the API docs and the stylesheet to ``app`` (whose ``state.services`` is set)."""
    app.state.site = Site(runtime)
    app.include_router(home.router)
    app.include_router(router)
    install_docs(app)  # before the /static mount, which would answer /static/docs/… itself
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


__all__ = ["install_web"]
