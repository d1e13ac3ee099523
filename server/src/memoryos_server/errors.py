"""The domain error tree.

Services raise these; they know nothing of HTTP. The status code and the public error
code of each live in one table in ``api/errors.py``; the web pages render their own.
"""

from __future__ import annotations

from typing import Any


class MemoryOSError(Exception):
    """Base of every error a service may raise on purpose."""

    error = "request_failed"

    def __init__(self, message: str | None = None, *, details: Any = None) -> None:
        super().__init__(message or self.error.replace("_", " "))
        self.details = details


# --- authentication and authorization -------------------------------------------------


class AuthenticationFailed(MemoryOSError):
    error = "invalid_credentials"


class PermissionDenied(MemoryOSError):
    error = "permission_denied"


class CrossAgentAuthFailed(MemoryOSError):
    """Missing, unknown or mismatched agent key or UUI. Says nothing more, on purpose."""

    error = "cross_agent_auth_failed"


class WriteNotPermitted(MemoryOSError):
    error = "write_not_permitted"


class PassportSessionRequired(MemoryOSError):
    error = "passport_session_required"


class WrongOneTimeCode(MemoryOSError):
    """A wrong, expired or used sign-in code. ``tries_left`` is how many more wrong codes the
    address may take before it is locked; at 0 it is locked for ``locked_for_seconds``."""

    error = "invalid_one_time_code"

    def __init__(self, message: str | None = None, *, tries_left: int | None = None, locked_for_seconds: int | None = None) -> None:
        details: dict[str, int] | None = None
        if tries_left is not None:
            details = {"tries_left": tries_left}
            if locked_for_seconds is not None:
                details["retry_after_seconds"] = locked_for_seconds
        super().__init__(message, details=details)
        self.tries_left = tries_left
        self.locked_for_seconds = locked_for_seconds


class RateLimited(MemoryOSError):
    error = "rate_limited"

    def __init__(self, retry_after_seconds: int, message: str | None = None) -> None:
        super().__init__(message or "too many requests")
        self.retry_after_seconds = max(1, int(retry_after_seconds))


# --- bad input --------------------------------------------------------------------------


class BadRequest(MemoryOSError):
    error = "bad_request"

    def __init__(self, error: str | None = None, message: str | None = None, *, details: Any = None) -> None:
        if error:
            self.error = error
        super().__init__(message, details=details)


class EndUserRequired(BadRequest):
    error = "end_user_required"

    def __init__(self) -> None:
        super().__init__(
            "end_user_required",
            "name the end-user in X-End-User-ID or external_user_id",
        )


class ValidationFailed(MemoryOSError):
    error = "validation_error"


class IdempotencyKeyReused(ValidationFailed):
    """An idempotency key sent again with a different request."""

    error = "idempotency_key_reused"


class PayloadTooLarge(MemoryOSError):
    error = "payload_too_large"


class AlreadyExists(MemoryOSError):
    error = "already_exists"


# --- not found --------------------------------------------------------------------------


class NotFound(MemoryOSError):
    error = "not_found"


class AgentNotFound(NotFound):
    error = "agent_not_found"


class GrantNotFound(NotFound):
    error = "grant_not_found"


class MemoryNotFound(NotFound):
    error = "memory_not_found"


class JobNotFound(NotFound):
    error = "job_not_found"


class UserNotFound(NotFound):
    error = "user_not_found"


class ClarificationNotFound(NotFound):
    error = "clarification_not_found"


class SessionNotFound(NotFound):
    error = "session_not_found"


class ConnectionNotFound(NotFound):
    error = "connection_not_found"


class KeyNotFound(NotFound):
    error = "api_key_not_found"


class ClientNotFound(NotFound):
    error = "oauth_client_not_found"


class MemberNotFound(NotFound):
    error = "member_not_found"


class ReviewNotFound(NotFound):
    error = "review_not_found"


class DirectoryEntryNotFound(NotFound):
    error = "directory_entry_not_found"


class InvitationNotFound(NotFound):
    error = "invitation_not_found"


# --- state conflicts --------------------------------------------------------------------


class ClarificationClosed(MemoryOSError):
    error = "clarification_already_answered"


class LastOwner(MemoryOSError):
    error = "last_owner"


class GrantNotActive(MemoryOSError):
    """The grant was revoked: it can be replaced by a new one, not edited or re-coded."""

    error = "grant_not_active"


class LinkForAnotherAgent(MemoryOSError):
    error = "link_for_another_agent"


class LinkExpired(MemoryOSError):
    error = "link_used_or_expired"


class ConsentCodeInvalid(MemoryOSError):
    error = "invalid_consent_code"


class InvitationCodeInvalid(MemoryOSError):
    error = "invalid_invitation_code"


class RedirectUriNotRegistered(MemoryOSError):
    error = "redirect_uri_not_registered"


class SignupDisabled(MemoryOSError):
    error = "signup_disabled"


# --- provenance (service writers and their source events) ---------------------------------


class ProvenanceInvalid(ValidationFailed):
    """A service writer or an add's ``source`` that does not hold together."""

    error = "invalid_provenance"

    def __init__(self, error: str | None = None, message: str | None = None, *, details: Any = None) -> None:
        if error:
            self.error = error
        super().__init__(message, details=details)


class ServiceWriterNotFound(NotFound):
    """``source.service`` (or a writer's key in a path) names no writer of this tenant."""

    error = "service_writer_not_found"


class ServiceWriterExists(AlreadyExists):
    error = "service_writer_exists"


class WriterBoundToAnotherKey(PermissionDenied):
    """The writer accepts claims only through the API key bound to it."""

    error = "writer_bound_to_another_key"


class SourceEventConflict(MemoryOSError):
    """An event id seen before, sent again with another payload."""

    error = "source_event_conflict"


class LinkTokensDisabled(MemoryOSError):
    """The organisation's directory entry says it does not use secure links."""

    error = "link_tokens_disabled"


# --- connectors: an organisation's OAuth server ---------------------------------------------


class OAuthStateInvalid(MemoryOSError):
    """An OAuth callback whose ``state`` is unknown, used, expired, or was made for another
    passport session (or for none: the browser is signed out)."""

    error = "oauth_state_invalid"


class ProviderDenied(MemoryOSError):
    """The organisation's authorization server answered with an ``error`` (the person said
    no: ``access_denied``, or it refused the request)."""

    error = "oauth_access_denied"

    def __init__(self, provider_error: str, message: str | None = None) -> None:
        super().__init__(message)
        self.provider_error = provider_error


class OutboundCallFailed(MemoryOSError):
    """A call this server made to another (an organisation's token or userinfo endpoint, a logo)
    gave no usable answer. ``reason``: address_refused, unresolvable, unreachable, timeout,
    too_large, invalid_response, invalid_url."""

    error = "outbound_call_failed"

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason.replace("_", " "))
        self.reason = reason


class ConnectorFailed(MemoryOSError):
    """The OAuth connector flow could not finish: ``step`` (token, userinfo) said ``reason``
    (an ``OutboundCallFailed`` reason, or refused, no_subject, id_token_mismatch)."""

    error = "connector_failed"

    def __init__(self, step: str, reason: str, message: str | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.reason = reason


# --- the server itself ------------------------------------------------------------------


class ServiceUnavailable(MemoryOSError):
    """Something this server depends on cannot serve now; worth retrying. ``retry_after_seconds``,
    when known, is sent as ``Retry-After``."""

    error = "service_unavailable"
    retry_after_seconds: int | None = None


class DatabaseUnavailable(ServiceUnavailable):
    """The database does not answer (down, restarting, the connection lost) or cannot take a
    write (its disk full): nothing was changed, and the same request may be sent again."""

    error = "database_unavailable"
    retry_after_seconds = 5


class DatabaseNotReady(ServiceUnavailable):
    """The database lacks something the schema needs (PostgreSQL without pgvector, say)."""

    error = "database_not_ready"


class EncryptionKeyDestroyed(MemoryOSError):
    """The owner's data key is gone: their ciphertext can never be read again."""

    error = "encryption_key_destroyed"


class NetworkPaused(RateLimited):
    """Too many code checks from one network address, whichever email addresses they were for.

    Its own kind, so a page can say that the network is paused rather than blame the address
    the person is signing in to (which is not locked by it).
    """


class CrossSiteRequest(PermissionDenied):
    """A change sent with the session cookie alone, not from this site (or not saying where from)."""

    error = "cross_site_request"


# --- OAuth 2.1 (the Passport over MCP) ---------------------------------------------------


class OAuthError(MemoryOSError):
    """An error the OAuth standards name, answered in their shape rather than our envelope:
    ``{"error": …, "error_description": …}`` (RFC 6749 §5.2, §4.1.2.1; RFC 7591 §3.2.2;
    RFC 8707 ``invalid_target``). ``status`` is the HTTP status of a direct answer."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        self.error = error
        super().__init__(description)
        self.description = description
        self.status = status
