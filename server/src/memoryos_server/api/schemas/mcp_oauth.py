"""The OAuth documents and answers of the Passport over MCP, in the shapes their RFCs fix.

They are not our envelope: OAuth clients (the ``mcp`` SDK's among them) read exactly these
fields, discover the endpoints from the metadata documents (RFC 8414, RFC 9728) rather than
from /openapi.json, and expect RFC 6749 §5.2 errors. So the routes are left out of the OpenAPI
document (docs/mcp.md describes them) but still answer through these models.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Standard(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthorizationServerMetadataOut(_Standard):
    """RFC 8414 §2."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str
    revocation_endpoint: str
    scopes_supported: list[str]
    response_types_supported: list[str]
    response_modes_supported: list[str]
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    code_challenge_methods_supported: list[str]
    client_id_metadata_document_supported: bool
    authorization_response_iss_parameter_supported: bool
    service_documentation: str


class ProtectedResourceMetadataOut(_Standard):
    """RFC 9728 §2."""

    resource: str
    authorization_servers: list[str]
    scopes_supported: list[str]
    bearer_methods_supported: list[str]
    resource_name: str
    resource_documentation: str


class ClientRegistrationOut(_Standard):
    """RFC 7591 §3.2.1: the client's id (and secret, once), with the metadata as registered."""

    client_id: str
    client_secret: str | None = None
    client_id_issued_at: int
    client_secret_expires_at: int | None = None
    client_name: str
    redirect_uris: list[str]
    token_endpoint_auth_method: str
    grant_types: list[str]
    response_types: list[str]
    scope: str | None = None
    client_uri: str | None = None
    software_id: str | None = None
    software_version: str | None = None


class TokenOut(_Standard):
    """RFC 6749 §5.1."""

    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    scope: str


class OAuthErrorOut(_Standard):
    """RFC 6749 §5.2 (and RFC 7591 §3.2.2)."""

    error: str
    error_description: str | None = None
