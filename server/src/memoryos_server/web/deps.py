"""Dependencies of page routes: the site, the signed-in passport user, a CSRF-checked form."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from memoryos_server.errors import BadRequest, PassportSessionRequired

# The request's services and transaction, as the API's routes have them (re-exported for pages).
from memoryos_server.request_scope import ReadSession, ServicesDep, WriteSession  # noqa: F401
from memoryos_server.services.passport.service import PassportCaller
from memoryos_server.storable import UNSTORABLE_MESSAGE, is_storable
from memoryos_server.web.site import Site


def get_site(request: Request) -> Site:
    return request.app.state.site  # type: ignore[no-any-return]


SiteDep = Annotated[Site, Depends(get_site)]


def signed_in(request: Request, site: SiteDep, services: ServicesDep) -> PassportCaller:
    """The passport user of this browser; ``PassportSessionRequired`` sends it to sign in."""
    return services.passport.authenticate_request(site.session_token(request))


def maybe_signed_in(request: Request, site: SiteDep, services: ServicesDep) -> PassportCaller | None:
    try:
        return signed_in(request, site, services)
    except PassportSessionRequired:
        return None


SignedIn = Annotated[PassportCaller, Depends(signed_in)]
MaybeSignedIn = Annotated[PassportCaller | None, Depends(maybe_signed_in)]


async def checked_form(request: Request, site: SiteDep) -> FormData:
    """The submitted form, once its CSRF token and origin are checked (before anything else),
    and once no field's name or text holds what no database can store (NUL, lone surrogates:
    the same check as the JSON API's), so no page goes on to fail half-way through a write."""
    form = await request.form()
    token = form.get("csrf_token")
    site.csrf.verify(request, token if isinstance(token, str) else None)
    for name, value in form.multi_items():
        if not is_storable(name):
            raise BadRequest("invalid_form", f"a field's name is not valid: {UNSTORABLE_MESSAGE}")
        if isinstance(value, str) and not is_storable(value):
            raise BadRequest("invalid_form", f"the field {name} is not valid: {UNSTORABLE_MESSAGE}")
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def field(form: FormData, name: str, *, max_length: int = 2000) -> str:
    """One text field, trimmed; "" when absent. Files and over-long values are refused."""
    value = form.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise BadRequest("invalid_form", f"the field {name} is not valid")
    return value.strip()


def fields(form: FormData, name: str, *, max_items: int = 20) -> list[str]:
    values = form.getlist(name)
    if len(values) > max_items or not all(isinstance(value, str) for value in values):
        raise BadRequest("invalid_form", f"the field {name} is not valid")
    return [str(value).strip() for value in values]
