"""The one settings object. Every knob is an environment variable ``MEMORYOS_<NAME>``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEMORYOS_", extra="ignore")

    # --- where things live ----------------------------------------------------------------
    data_dir: Path = Path(".memoryos")
    database_url: str | None = None  # default: SQLite in data_dir
    master_key: SecretStr | None = None  # base64 of 32 bytes; default: a key file in data_dir
    redis_url: str | None = None

    # --- the HTTP server ---------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None  # the API's own base URL as users reach it
    # Addresses or networks (comma-separated, e.g. "10.0.0.5,172.16.0.0/12") of reverse proxies
    # whose X-Forwarded-For/-Proto headers are believed. Default: none, so no client, on this
    # machine or elsewhere, can name its own address to slip past a per-address limit.
    trusted_proxies: str = ""
    consent_base_url: str | None = None  # the consent app's base URL; default: public_url
    max_body_bytes: int = 5_000_000  # 64 messages × 16,000 characters fit, with room for UTF-8
    cors_origins: list[str] = Field(default_factory=list)

    # --- identity ------------------------------------------------------------------------------
    signup_enabled: bool = True
    jwt_ttl_seconds: int = 3600
    oauth_token_ttl_seconds: int = 3600
    passport_session_ttl_seconds: int = 7 * 24 * 3600
    argon2_time_cost: int = 3
    argon2_memory_cost_kib: int = 65536
    argon2_parallelism: int = 4

    # --- one-time codes and rate limits ----------------------------------------------------
    otp_ttl_seconds: int = 600
    otp_max_attempts: int = 5
    otp_lock_seconds: int = 1800
    otp_send_per_email_per_hour: int = 5
    otp_send_per_ip_per_hour: int = 30
    consent_code_ttl_seconds: int = 600
    # Password logins and client-credentials token requests: failures counted per account (the
    # email, or the client_id) and per client address over the window; past either limit every
    # attempt is 429, a right password included, until the count ages out. Successes don't count.
    login_failures_per_email: int = Field(default=10, ge=1)
    login_failures_per_ip: int = Field(default=50, ge=1)
    token_failures_per_client: int = Field(default=20, ge=1)
    token_failures_per_ip: int = Field(default=50, ge=1)
    auth_failure_window_seconds: int = Field(default=900, ge=1, le=86_400)
    # Sign-ups and password changes hash a password whatever their outcome, so every attempt is
    # counted: per client address (and per email for sign-up) over the window; past a limit 429.
    signup_attempts_per_ip: int = Field(default=20, ge=1)
    signup_attempts_per_email: int = Field(default=5, ge=1)
    password_change_attempts_per_ip: int = Field(default=20, ge=1)
    auth_attempt_window_seconds: int = Field(default=900, ge=1, le=86_400)
    link_token_ttl_seconds: int = 900

    # --- connectors: an organisation's OAuth server, called by this server ---------------------
    # http (not https) for an organisation's OAuth URLs on this machine (localhost, 127.0.0.1,
    # ::1), and calls to loopback addresses: for trying a connector against a provider running
    # next to the server. Never in production.
    allow_insecure_oauth: bool = False
    # Calls to private network addresses (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7), for
    # an organisation whose OAuth server shares a private network with this one. Link-local
    # addresses (169.254/16, fe80::/10: cloud metadata services) are refused whatever is set.
    outbound_allow_private_networks: bool = False
    # Every call to an organisation (token, userinfo, logo) gives up after this long.
    connector_timeout_seconds: float = Field(default=10.0, gt=0, le=10)
    # ... and after this many bytes of answer (token and userinfo; logos have their own cap).
    connector_max_response_bytes: int = Field(default=65_536, ge=1024, le=1_048_576)
    oauth_state_ttl_seconds: int = Field(default=600, ge=60, le=600)

    # --- the Passport over MCP (remote, OAuth 2.1; docs/mcp.md) -----------------------------
    mcp_enabled: bool = True  # /mcp, the OAuth discovery documents, /authorize, /token, /register, /revoke
    mcp_access_token_ttl_seconds: int = Field(default=3600, ge=1, le=86_400)
    mcp_refresh_token_ttl_seconds: int = Field(default=30 * 86_400, ge=60)
    mcp_authorization_code_ttl_seconds: int = Field(default=300, ge=10, le=600)
    # Dynamic client registrations per client address per hour, and token/revocation requests
    # per client address and per client id per minute; past either limit, 429.
    mcp_registrations_per_ip_per_hour: int = Field(default=20, ge=1)
    mcp_token_requests_per_ip_per_minute: int = Field(default=60, ge=1)
    mcp_token_requests_per_client_per_minute: int = Field(default=30, ge=1)
    # Client ID Metadata Documents are fetched from the client's https URL: within this time,
    # at most this many bytes, and never from a private, loopback or link-local address unless
    # allowed here (for a client hosted on your own network).
    mcp_client_metadata_timeout_seconds: float = Field(default=5.0, gt=0, le=10)
    mcp_client_metadata_max_bytes: int = Field(default=16_384, ge=512, le=262_144)
    mcp_client_metadata_allow_private_addresses: bool = False
    mcp_client_metadata_fetches_per_ip_per_hour: int = Field(default=60, ge=1)  # consent screens that fetch one
    mcp_client_metadata_ca_file: Path | None = None  # a CA bundle to trust for those fetches (default: certifi's)

    # --- email ----------------------------------------------------------------------------------
    email_backend: Literal["console", "smtp", "outbox"] = "console"
    email_from: str = "MemoryOS <no-reply@memoryos.local>"
    email_outbox_dir: Path | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 10.0

    # --- engine --------------------------------------------------------------------------------
    embedder: Literal["local", "openai", "hashing"] = "local"
    embedding_dim: int = 384
    embedding_base_url: str | None = None
    embedding_model: str | None = None
    embedding_api_key: SecretStr | None = None
    embedding_threads: int = 2
    model_cache_dir: Path | None = None  # default: data_dir / "models"
    # A search whose best match is less relevant than this returns nothing (a request may set
    # its own ``min_relevance``). None: the embedder's own answerability model, calibrated for
    # the default local model (docs/memory-engine.md, "The relevance floor"); none for the
    # others, whose similarities live on other scales: set a value measured for yours.
    retrieval_min_relevance: float | None = Field(default=None, ge=0.0, le=1.0)
    # The answerability model's cutoff (when retrieval_min_relevance is unset): None keeps the
    # calibrated one (0.06: at most a point of recall lost); higher empties more of the queries
    # nothing answers at a cost in recall (the curve in docs/benchmarks.md); 0 turns it off.
    retrieval_min_answerability: float | None = Field(default=None, ge=0.0, le=1.0)
    warm_up_models: bool = True  # load the embedder in the background at start, not on the first add
    # Move what start-up allocated (modules, models, the app) out of the garbage collector's
    # reach, so full collections scan only what requests make: ~90 ms pauses become ~1 ms.
    gc_freeze: bool = True
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = 30.0
    worker_enabled: bool = True  # run the job worker inside the server process
    worker_poll_seconds: float = 0.5
    job_max_attempts: int = 3
    idempotency_ttl_seconds: int = 24 * 3600

    # --- logging ----------------------------------------------------------------------------------
    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    # --- derived -------------------------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'memoryos.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def resolved_consent_base_url(self) -> str:
        return (self.consent_base_url or self.resolved_public_url).rstrip("/")

    @property
    def mcp_resource_url(self) -> str:
        """The remote MCP server's identifier (RFC 8707/9728): tokens are bound to it."""
        return f"{self.resolved_public_url}/mcp"

    @property
    def resolved_model_cache_dir(self) -> Path:
        return self.model_cache_dir or (self.data_dir / "models")

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    @property
    def resolved_outbox_dir(self) -> Path:
        return self.email_outbox_dir or (self.data_dir / "outbox")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
