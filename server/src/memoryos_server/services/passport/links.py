"""The two links a company sends its users to, written as the SDK writes them.

``consent_url`` is ``UniversalMemory.consent_url`` (sdk/src/memoryos/universal.py), parameter
for parameter, so the dashboard's URL builder shows exactly what the company's code will make;
a test holds the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode


def consent_url(
    base_url: str,
    agent_id: str,
    *,
    redirect_uri: str | None = None,
    state: str | None = None,
    categories: Sequence[str] | None = None,
    link_token: str | None = None,
) -> str:
    query = {"agent_id": agent_id}
    if redirect_uri is not None and str(redirect_uri).strip():
        query["redirect_uri"] = redirect_uri
    if state is not None:
        query["state"] = state
    if link_token is not None and str(link_token).strip():
        query["link_token"] = link_token
    if categories:
        cleaned = dict.fromkeys(str(c).strip() for c in categories if str(c).strip())
        if cleaned:
            query["categories"] = ",".join(cleaned)
    return f"{base_url.rstrip('/')}/consent?{urlencode(query)}"


def connect_url(base_url: str, agent_id: str, link_token: str) -> str:
    """The secure-link connector's page: ``/connect?agent_id=…&link_token=…``."""
    return f"{base_url.rstrip('/')}/connect?{urlencode({'agent_id': agent_id, 'link_token': link_token})}"
