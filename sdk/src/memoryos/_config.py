"""Where the SDK finds the MemoryOS server.

The environment is read when a client is constructed or a URL is built, never at import
time, so a process can set ``MEMORYOS_API_URL`` after importing ``memoryos``.
"""

from __future__ import annotations

import os

API_URL_ENV = "MEMORYOS_API_URL"
CONSENT_BASE_URL_ENV = "MEMORYOS_CONSENT_BASE_URL"

# The embedded server started by ``memoryos serve`` with no configuration.
DEFAULT_API_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 30.0
MAX_RETRIES = 3


def _from_env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def api_base_url(explicit: str | None = None) -> str:
    """The API base URL: ``explicit``, else ``MEMORYOS_API_URL``, else the local server."""
    url = explicit or _from_env(API_URL_ENV) or DEFAULT_API_URL
    return url.rstrip("/")


def consent_base_url(explicit: str | None = None) -> str:
    """The consent app's base URL: ``explicit``, else ``MEMORYOS_CONSENT_BASE_URL``, else
    the API base URL (one server serves both by default)."""
    url = explicit or _from_env(CONSENT_BASE_URL_ENV) or api_base_url()
    return url.rstrip("/")
