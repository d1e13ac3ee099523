"""Pairwise UUI tokens: the name one agent knows one passport user by.

A UUI is derived, not stored: ``uui_`` + base62(HMAC-SHA256(k, user public id ‖ agent id)),
with ``k`` a key derived from the master key for this purpose only. We chose derivation over
storing the token encrypted because both the consent exchange and user resolve must hand the
same token out again, and a derivation needs no reversible copy of a bearer secret in the
database: ``pairwise_identities`` keeps only a keyed hash of the token (for the lookup when an
agent presents it) and which (user, agent) pair it stands for.

Consequences, by design:
- two agents get unrelated tokens for the same person (HMAC outputs are independent), so they
  cannot tell that they share a user;
- a token is useless with another agent's key (the lookup checks the pair);
- a deleted and re-created passport gets a new public id and so new tokens;
- a leaked UUI is harmless on its own: every call also needs the agent's secret key and an
  active grant, and the user revokes the grant (or the tenant rotates the key) to end it.
"""

from __future__ import annotations

import hashlib
import hmac
import string

from sqlalchemy.orm import Session

from memoryos_server.crypto import derive_key
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import PairwiseIdentity, UniversalUser
from memoryos_server.storage.repositories.passport import PairwiseIdentityRepository
from memoryos_server.storage.types import utcnow

UUI_PREFIX = "uui_"
_BASE62 = string.digits + string.ascii_letters


def _base62(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, digit = divmod(number, 62)
        out.append(_BASE62[digit])
    return "".join(reversed(out)) or "0"


class PairwiseIdentities:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._key = derive_key(runtime.master.key, "pairwise-uui")

    def token(self, user: UniversalUser, agent_id: str) -> str:
        digest = hmac.new(self._key, f"{user.public_id}\0{agent_id}".encode(), hashlib.sha256).digest()
        return UUI_PREFIX + _base62(digest)

    def token_hash(self, token: str) -> str:
        return self.rt.hasher.hash(token, purpose="uui")

    def ensure(self, session: Session, user: UniversalUser, agent_id: str) -> str:
        """The pair's token, recording its hash so the agent can present it from now on."""
        token = self.token(user, agent_id)
        PairwiseIdentityRepository(session).ensure(
            PairwiseIdentity(
                token_hash=self.token_hash(token),
                universal_user_id=user.id,
                agent_id=agent_id,
                created_at=utcnow(),
            )
        )
        return token

    def lookup(self, session: Session, token: str) -> PairwiseIdentity | None:
        if not token.startswith(UUI_PREFIX) or len(token) > 100:
            return None
        return PairwiseIdentityRepository(session).by_token_hash(self.token_hash(token))
