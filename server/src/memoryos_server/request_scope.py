"""What the API's routes and the pages share of a request: the process's services, and the
request's one transaction.

One request, one transaction: a route takes ``ReadSession`` or ``WriteSession``, and the
dependency commits when the handler has returned and its answer is built, before a byte is
sent (``scope="function"``), so what a response acknowledges is durable; it rolls back if
anything raised. A write session takes SQLite's write lock at its first statement, which comes
after authentication (a read of its own, run before the body is parsed). Work that must wait
for the commit (an email) is registered by the services with ``storage.db.after_commit``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from memoryos_server.services.container import Services
from memoryos_server.services.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ServicesDep = Annotated[Services, Depends(get_services)]


def _read_session(request: Request) -> Iterator[Session]:
    with get_runtime(request).db.session(write=False) as session:
        yield session


def _write_session(request: Request) -> Iterator[Session]:
    with get_runtime(request).db.session() as session:
        yield session


ReadSession = Annotated[Session, Depends(_read_session, scope="function")]
WriteSession = Annotated[Session, Depends(_write_session, scope="function")]
