"""Dashboard accounts, invitations to organisations, and the OAuth client-credentials token endpoint."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Form, Header, Path
from fastapi.responses import JSONResponse

from memoryos_server.api.deps import ReadSession, ServicesDep, TenantPrincipal, WriteSession
from memoryos_server.api.envelope import Envelope, ErrorOut, Paged, error_response, flat, ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.common import StorableStr, is_storable
from memoryos_server.api.schemas.identity import (
    CallerOut,
    ChangedOut,
    DeclinedOut,
    InvitationCodeIn,
    InvitationSignupIn,
    LoginIn,
    OAuthTokenOut,
    PasswordChangeIn,
    ReceivedInvitationOut,
    SignedInOut,
    SignupIn,
    TokenOut,
)
from memoryos_server.clientip import ClientIp
from memoryos_server.errors import AuthenticationFailed, BadRequest

router = APIRouter(prefix="/v1", tags=["identity"], route_class=AuthenticatedRoute)


# Sign-up, login and password changes run their own transactions (``IdentityService``): each
# attempt is counted against the rate limits whether or not it succeeds.


@router.post(
    "/auth/signup",
    status_code=201,
    summary="Create an organisation and its owner (public)",
    response_model=Envelope[SignedInOut],
    response_model_exclude_unset=True,
)
def signup(body: SignupIn, services: ServicesDep, ip: ClientIp) -> dict[str, Any]:
    user, tenant = services.identity.signup(
        email=body.email, password=body.password, organization_name=body.organization_name, ip=ip
    )
    return ok(SignedInOut.of(user, tenant, services.identity.issue_user_token(user, tenant)))


@router.post("/auth/login", summary="Exchange email and password for a JWT (public)", response_model=Envelope[TokenOut])
def login(body: LoginIn, services: ServicesDep, ip: ClientIp) -> dict[str, Any]:
    token = services.identity.login(email=body.email, password=body.password, tenant_id=body.tenant_id, ip=ip)
    return ok(TokenOut(access_token=token.access_token, token_type="bearer", expires_in=token.expires_in))


@router.get(
    "/auth/me", summary="The signed-in caller", response_model=Envelope[CallerOut], response_model_exclude_unset=True
)
def me(principal: TenantPrincipal, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    return ok(CallerOut(**services.identity.describe(session, principal)))


@router.post("/auth/password", summary="Change the signed-in account's password", response_model=Envelope[ChangedOut])
def change_password(body: PasswordChangeIn, principal: TenantPrincipal, services: ServicesDep, ip: ClientIp) -> dict[str, Any]:
    if principal.kind != "user":
        raise AuthenticationFailed("sign in with a password to change it")
    services.identity.change_password(principal, current=body.current_password, new=body.new_password, ip=ip)
    return ok(ChangedOut(changed=True))


@router.get(
    "/auth/invitations",
    summary="Invitations to the signed-in account's email address",
    response_model=Paged[ReceivedInvitationOut],
)
def list_invitations(principal: TenantPrincipal, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    items = [ReceivedInvitationOut.of(i, t) for i, t in services.members.invitations_for(session, principal)]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.post(
    "/auth/invitations/{invitation_id}/accept",
    summary="Join the organisation (the code from the email)",
    response_model=Envelope[SignedInOut],
)
def accept_invitation(
    invitation_id: Annotated[str, Path(max_length=40)],
    body: InvitationCodeIn,
    principal: TenantPrincipal,
    session: WriteSession,
    services: ServicesDep,
) -> dict[str, Any]:
    joined = services.members.accept(session, principal, invitation_id, code=body.code)
    return ok(SignedInOut.of(joined.user, joined.tenant, joined.token, role=joined.membership.role))


@router.post("/auth/invitations/{invitation_id}/decline", summary="Turn an invitation down", response_model=Envelope[DeclinedOut])
def decline_invitation(
    invitation_id: Annotated[str, Path(max_length=40)],
    body: InvitationCodeIn,
    principal: TenantPrincipal,
    session: WriteSession,
    services: ServicesDep,
) -> dict[str, Any]:
    services.members.decline(session, principal, invitation_id, code=body.code)
    return ok(DeclinedOut(declined=True, invitation_id=invitation_id))


@router.post(
    "/auth/invitations/{invitation_id}/signup",
    status_code=201,
    summary="Create the invited address's account and join (public: the emailed code is the credential)",
    response_model=Envelope[SignedInOut],
)
def signup_with_invitation(
    invitation_id: Annotated[str, Path(max_length=40)],
    body: InvitationSignupIn,
    session: WriteSession,
    services: ServicesDep,
) -> dict[str, Any]:
    joined = services.members.sign_up(session, invitation_id, code=body.code, password=body.password)
    return ok(SignedInOut.of(joined.user, joined.tenant, joined.token, role=joined.membership.role))


@router.post(
    "/oauth/token",
    summary="OAuth 2.0 client-credentials grant, RFC 6749 §4.4 (public)",
    response_model=OAuthTokenOut,
    responses={401: {"model": ErrorOut, "description": "invalid_client (AUTH_001), with WWW-Authenticate"}},
)
def oauth_token(
    services: ServicesDep,
    ip: ClientIp,
    grant_type: Annotated[StorableStr, Form(max_length=100)],
    client_id: Annotated[StorableStr | None, Form(max_length=200)] = None,
    client_secret: Annotated[StorableStr | None, Form(max_length=500)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> JSONResponse:
    if grant_type != "client_credentials":
        return error_response(400, "unsupported_grant_type", "REQ_400", message="only client_credentials is supported")
    client_id, client_secret = _client_credentials(client_id, client_secret, authorization)
    try:
        token = services.identity.client_credentials_token(client_id=client_id, client_secret=client_secret, ip=ip)
    except AuthenticationFailed:
        return error_response(401, "invalid_client", "AUTH_001", headers={"WWW-Authenticate": 'Basic realm="memoryos"'})
    # RFC 6749 §5.1 fields at the top level, plus our request_id and timestamp.
    return JSONResponse(
        flat(access_token=token.access_token, token_type="bearer", expires_in=token.expires_in),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _client_credentials(client_id: str | None, client_secret: str | None, authorization: str | None) -> tuple[str, str]:
    """RFC 6749 §2.3.1: HTTP Basic, or the two form fields."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequest("invalid_request", "malformed Basic credentials") from exc
        user, _, password = decoded.partition(":")
        client_id, client_secret = unquote(user), unquote(password)
        if not (is_storable(client_id) and is_storable(client_secret)):
            raise BadRequest("invalid_request", "malformed Basic credentials")
        return client_id, client_secret
    if not client_id or not client_secret:
        raise BadRequest("invalid_request", "client_id and client_secret are required")
    return client_id, client_secret
