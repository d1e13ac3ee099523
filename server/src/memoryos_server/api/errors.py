"""The one table from domain errors to HTTP statuses and public error codes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from memoryos_server import errors as e
from memoryos_server.api.envelope import error_response
from memoryos_server.storable import UNSTORABLE_MESSAGE


# Most specific class first is not needed: lookup walks each error's MRO.
ERROR_TABLE: dict[type[e.MemoryOSError], tuple[int, str]] = {
    e.AuthenticationFailed: (401, "AUTH_001"),
    e.PermissionDenied: (403, "AUTH_003"),
    e.SignupDisabled: (403, "AUTH_003"),
    e.CrossAgentAuthFailed: (403, "UAT_001"),
    e.WriteNotPermitted: (403, "UAT_002"),
    e.PassportSessionRequired: (401, "UUI_401"),
    e.WrongOneTimeCode: (401, "UUI_OTP_401"),
    e.RateLimited: (429, "RATE_429"),
    e.BadRequest: (400, "REQ_400"),
    e.ConsentCodeInvalid: (400, "REQ_400"),
    e.RedirectUriNotRegistered: (400, "REQ_400"),
    e.ValidationFailed: (422, "REQ_422"),
    e.PayloadTooLarge: (413, "REQ_413"),
    e.AlreadyExists: (409, "REQ_409"),
    e.LastOwner: (409, "REQ_409"),
    e.NotFound: (404, "REQ_404"),
    e.AgentNotFound: (404, "AGN_404"),
    e.GrantNotFound: (404, "GNT_404"),
    e.MemoryNotFound: (404, "MEM_404"),
    e.JobNotFound: (404, "JOB_404"),
    e.UserNotFound: (404, "USR_404"),
    e.MemberNotFound: (404, "USR_404"),
    e.ClarificationNotFound: (404, "CLR_404"),
    e.ReviewNotFound: (404, "CLR_404"),
    e.ConnectionNotFound: (404, "ORG_CONN_404"),
    e.SessionNotFound: (404, "SES_404"),
    e.DirectoryEntryNotFound: (404, "ORG_404"),
    e.InvitationNotFound: (404, "INV_404"),
    e.InvitationCodeInvalid: (403, "INV_403"),
    e.KeyNotFound: (404, "KEY_404"),
    e.ClientNotFound: (404, "CLI_404"),
    e.ClarificationClosed: (409, "CLR_409"),
    e.GrantNotActive: (409, "GNT_409"),
    e.LinkForAnotherAgent: (403, "PLINK_403"),
    e.LinkExpired: (410, "PLINK_410"),
    e.LinkTokensDisabled: (409, "REQ_409"),
    e.OAuthStateInvalid: (400, "REQ_400"),
    e.ProviderDenied: (400, "REQ_400"),
    e.OutboundCallFailed: (503, "SRV_503"),
    e.ConnectorFailed: (503, "SRV_503"),
    e.EncryptionKeyDestroyed: (404, "USR_404"),
    e.ProvenanceInvalid: (422, "PROV_422"),
    e.ServiceWriterNotFound: (404, "PROV_404"),
    e.ServiceWriterExists: (409, "REQ_409"),
    e.WriterBoundToAnotherKey: (403, "PROV_403"),
    e.SourceEventConflict: (409, "PROV_409"),
    e.ServiceUnavailable: (503, "SRV_503"),
    # The OAuth routes answer these in their own shape; should one reach the envelope, a 400.
    e.OAuthError: (400, "REQ_400"),
}


def status_and_code(error: e.MemoryOSError) -> tuple[int, str]:
    for cls in type(error).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return 500, "SRV_500"


def domain_error_response(error: e.MemoryOSError) -> JSONResponse:
    status, code = status_and_code(error)
    headers = None
    if isinstance(error, e.RateLimited | e.ServiceUnavailable) and error.retry_after_seconds:
        headers = {"Retry-After": str(error.retry_after_seconds)}
    return error_response(status, error.error, code, details=error.details, message=str(error), headers=headers)


def _validation_details(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Never echo the submitted values back: they may hold secrets or huge payloads. A body a
    # route and its scope's dependency both declare is checked twice: each problem is said once.
    details: list[dict[str, Any]] = []
    for item in errors:
        detail = {"loc": [str(part) for part in item.get("loc", ())], "msg": item.get("msg", ""), "type": item.get("type", "")}
        if detail not in details:
            details.append(detail)
    return details


# What Starlette and FastAPI raise themselves (routing, their own body limit and parsing).
_HTTP_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("malformed_body", "REQ_400", "the body could not be parsed"),
    404: ("not_found", "REQ_404", "there is nothing at this address"),
    405: ("method_not_allowed", "REQ_405", "this address does not take that method"),
    413: ("payload_too_large", "REQ_413", "the request body is too large"),
}


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path. Starlette names only the first route whose
    path matches, and one path is often several routes (GET and POST /v1/tenant/members)."""
    methods = [
        method
        for method in ("DELETE", "GET", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in request.app.router.routes
        )
    ]
    return sorted([*methods, "HEAD"] if "GET" in methods else methods)


# SPEC §5: an invalid service writer or an add's invalid ``source`` is PROV_422.
_PROVENANCE_PATHS = ("/v1/tenant/service-writers",)


def _about_provenance(request: Request, details: list[dict[str, Any]]) -> bool:
    """Every error is in a service writer's request or an add's ``source`` block. Text no
    database can store is refused as REQ_422 everywhere (SPEC §8), provenance included."""
    if not details or any(UNSTORABLE_MESSAGE in item["msg"] for item in details):
        return False
    if request.url.path.startswith(_PROVENANCE_PATHS):
        return True
    return all(item["loc"][:2] == ["body", "source"] for item in details)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(e.MemoryOSError)
    async def _domain(_request: Request, error: e.MemoryOSError) -> JSONResponse:
        return domain_error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        details = _validation_details(list(error.errors()))
        if any(item["type"] == "json_invalid" for item in details):
            return error_response(400, "malformed_json", "REQ_400", details=details, message="the body is not valid JSON")
        if _about_provenance(request, details):
            return error_response(
                422, "invalid_provenance", "PROV_422", details=details, message="the service writer or source is not valid"
            )
        return error_response(422, "validation_error", "REQ_422", details=details, message="the request is not valid")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        error_name, code, message = _HTTP_ERRORS.get(
            error.status_code, ("request_failed", f"REQ_{error.status_code}", "the request could not be handled")
        )
        details = {"max_bytes": request.app.state.settings.max_body_bytes} if error.status_code == 413 else None
        headers = dict(getattr(error, "headers", None) or {})
        if error.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(error.status_code, error_name, code, details=details, message=message, headers=headers or None)

    # Unexpected exceptions are answered by RequestContextMiddleware (api/middleware.py), inside
    # the request's context: a handler registered here for Exception would run outside it.
