"""A passport as an account: sign-in by email and one-time code, sessions, everything it holds
as one document, and deleting all of it.

Sending and checking codes run their own transactions (no session argument): a wrong code
must be counted even though the call fails, and a code must be stored before the email
leaves. Everything else takes the caller's session, like the other services.

Nothing here reveals whether a passport exists: every address gets a code, and the first
successful sign-in creates the passport.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.crypto import numeric_code, public_id, random_token
from memoryos_server.errors import (
    NetworkPaused,
    PassportSessionRequired,
    RateLimited,
    ServiceUnavailable,
    WrongOneTimeCode,
)
from memoryos_server.services.audit import AuditService
from memoryos_server.services.devices import device_summary
from memoryos_server.services.email import EmailService
from memoryos_server.services.memory import MemoryOwner, MemoryService
from memoryos_server.services.memory.views import memory_view, version_view
from memoryos_server.services.passport.connections import ConnectionService
from memoryos_server.services.passport.grants import GrantService
from memoryos_server.services.passport.scopes import PassportScopes
from memoryos_server.services.ratelimit import RateLimiter
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import OtpChallenge, PassportSession, UniversalUser
from memoryos_server.storage.repositories.memories import UNIVERSAL, MemoryRepository
from memoryos_server.storage.repositories.passport import (
    OtpChallengeRepository,
    PassportPurgeRepository,
    PassportSessionRepository,
    UniversalUserRepository,
)
from memoryos_server.storage.types import utcnow

log = logging.getLogger("memoryos.passport")

SESSION_PREFIX = "mps_"
SESSION_PUBLIC_PREFIX = "pss_"  # the id a session is listed and ended by; not a secret
LAST_USED_EVERY = timedelta(minutes=1)
SESSION_COOKIE = "memoryos_uui_session"
SESSION_HEADER = "X-MemoryOS-Session"
_CODE = re.compile(r"^\d{6}$")
_HOUR = 3600


@dataclass(frozen=True)
class CodeSent:
    """The answer to "send me a code". ``reason`` says why nothing was sent, never who exists."""

    sent: bool
    reason: str | None = None  # rate_limited | locked | delivery_failed
    retry_after_seconds: int | None = None


@dataclass(frozen=True)
class CodeTries:
    """Where an address stands with its sign-in code: wrong codes it may still take, or how long
    it stays locked after too many."""

    tries_left: int
    locked_for_seconds: int | None = None


@dataclass(frozen=True)
class SignedIn:
    user: UniversalUser
    session_token: str  # shown once: the cookie value or X-MemoryOS-Session header
    expires_at: datetime
    created: bool  # the passport was created by this sign-in


@dataclass(frozen=True)
class PassportCaller:
    """A request's signed-in passport user, read once when the session was checked."""

    user: UniversalUser
    session_token: str

    @property
    def user_id(self) -> int:
        return int(self.user.id)


def normalise_email(email: str) -> str:
    return email.strip().lower()


class PassportService:
    def __init__(
        self,
        runtime: Runtime,
        *,
        email: EmailService,
        limiter: RateLimiter,
        memory: MemoryService,
        scopes: PassportScopes,
        grants: GrantService,
        connections: ConnectionService,
        audit: AuditService,
    ) -> None:
        self.rt = runtime
        self.email = email
        self.limiter = limiter
        self.memory = memory
        self.scopes = scopes
        self.grants = grants
        self.connections = connections
        self.audit = audit

    # --- one-time codes ---------------------------------------------------------------------

    def send_code(self, *, email: str, ip: str | None) -> CodeSent:
        """Email a fresh 6-digit code (replacing any earlier one) unless limits say no."""
        settings = self.rt.settings
        address = normalise_email(email)
        email_hash = self._email_hash(address)
        limits = [(f"otp-send:ip:{self.limiter.client_key(ip)}", settings.otp_send_per_ip_per_hour)] if ip else []
        limits.append((f"otp-send:email:{email_hash[:40]}", settings.otp_send_per_email_per_hour))
        try:
            self.limiter.hit_all(limits, window_seconds=_HOUR)
        except RateLimited as limited:
            return CodeSent(False, "rate_limited", limited.retry_after_seconds)
        code = numeric_code(6)
        now = utcnow()
        with self.rt.db.session() as session:
            challenge = OtpChallengeRepository(session).get_or_create(email_hash, now)
            if _locked(challenge, now):
                assert challenge.locked_until is not None
                return CodeSent(False, "locked", _seconds_until(challenge.locked_until, now))
            earlier = (challenge.code_hash, challenge.expires_at)
            challenge.code_hash = self._code_hash(code, email_hash)
            challenge.expires_at = now + timedelta(seconds=settings.otp_ttl_seconds)
            challenge.updated_at = now
        try:
            self.email.send_one_time_code(to=address, code=code, ttl_seconds=settings.otp_ttl_seconds)
        except ServiceUnavailable:
            # Nothing half-done: the code no one received is withdrawn, and one sent earlier
            # (still in the person's inbox) works as before.
            with self.rt.db.session() as session:
                challenge = OtpChallengeRepository(session).get_or_create(email_hash, now)
                if challenge.code_hash == self._code_hash(code, email_hash):
                    challenge.code_hash, challenge.expires_at = earlier
            return CodeSent(False, "delivery_failed")
        return CodeSent(True)

    def verify_code(self, *, email: str, code: str, ip: str | None, user_agent: str | None = None) -> SignedIn:
        """Check a code; on success create the passport (first time) and a session (named in the
        person's session list by a summary of ``user_agent``: "Chrome on Linux").

        Wrong, expired or reused → ``WrongOneTimeCode``; the fifth failure in a row locks the
        address for ``otp_lock_seconds``, during which every attempt is ``RateLimited``. Too many
        checks from one network address → ``NetworkPaused``, whatever the address.
        """
        settings = self.rt.settings
        address = normalise_email(email)
        email_hash = self._email_hash(address)
        if ip:
            # Each code sent from an address may be tried max_attempts times, and no more.
            per_ip = settings.otp_send_per_ip_per_hour * settings.otp_max_attempts
            try:
                self.limiter.hit(f"otp-verify:ip:{self.limiter.client_key(ip)}", limit=per_ip, window_seconds=_HOUR)
            except RateLimited as limited:
                raise NetworkPaused(limited.retry_after_seconds, "too many attempts from this network; try again later") from None
        now = utcnow()
        failed: WrongOneTimeCode | None = None
        with self.rt.db.session() as session:
            challenge = OtpChallengeRepository(session).get_or_create(email_hash, now)
            if _locked(challenge, now):
                assert challenge.locked_until is not None
                raise RateLimited(_seconds_until(challenge.locked_until, now), "too many wrong codes; try again later")
            if self._code_matches(challenge, code, email_hash, now):
                challenge.code_hash = None
                challenge.expires_at = None
                challenge.failed_attempts = 0
                challenge.locked_until = None
                challenge.updated_at = now
                signed_in = self._sign_in(session, address, now, device=device_summary(user_agent))
            else:
                challenge.failed_attempts += 1
                challenge.updated_at = now
                tries_left = max(0, settings.otp_max_attempts - challenge.failed_attempts)
                failed = WrongOneTimeCode("the code is wrong or has expired", tries_left=tries_left)
                if challenge.failed_attempts >= settings.otp_max_attempts:
                    challenge.locked_until = now + timedelta(seconds=settings.otp_lock_seconds)
                    challenge.failed_attempts = 0
                    challenge.code_hash = None
                    challenge.expires_at = None
                    failed = WrongOneTimeCode(
                        "the code is wrong; too many wrong codes, so signing in to this address is paused",
                        tries_left=0,
                        locked_for_seconds=settings.otp_lock_seconds,
                    )
        # Raised only now, after the failure has been committed.
        if failed is not None:
            raise failed
        return signed_in

    def code_tries(self, *, email: str) -> CodeTries:
        """How many wrong codes the address may still take, or how long it stays locked. Says
        nothing about whether a passport exists: every address has the same counter."""
        email_hash = self._email_hash(normalise_email(email))
        now = utcnow()
        with self.rt.db.session(write=False) as session:
            challenge = OtpChallengeRepository(session).peek(email_hash)
            if challenge is None:
                return CodeTries(self.rt.settings.otp_max_attempts)
            if _locked(challenge, now):
                assert challenge.locked_until is not None
                return CodeTries(0, _seconds_until(challenge.locked_until, now))
            return CodeTries(max(0, self.rt.settings.otp_max_attempts - challenge.failed_attempts))

    def _code_matches(self, challenge: OtpChallenge, code: str, email_hash: str, now: datetime) -> bool:
        if not challenge.code_hash or challenge.expires_at is None or challenge.expires_at <= now:
            return False
        if not _CODE.match(code.strip()):
            return False
        return self.rt.hasher.matches(code.strip(), challenge.code_hash, purpose=f"otp:{email_hash}")

    def _sign_in(self, session: Session, address: str, now: datetime, *, device: str | None) -> SignedIn:
        candidate = UniversalUser(public_id=public_id("uup_"), email=address)
        self.rt.vault.new_key_for(candidate)
        user, created = UniversalUserRepository(session).insert_if_absent(candidate)
        user.last_login_at = now
        token = random_token(SESSION_PREFIX)
        expires_at = now + timedelta(seconds=self.rt.settings.passport_session_ttl_seconds)
        PassportSessionRepository(session).add(
            PassportSession(
                public_id=public_id(SESSION_PUBLIC_PREFIX),
                session_hash=self.session_hash(token),
                universal_user_id=user.id,
                device=device,
                created_at=now,
                last_used_at=now,
                expires_at=expires_at,
            )
        )
        return SignedIn(user, token, expires_at, created)

    # --- sessions ------------------------------------------------------------------------------

    def authenticate(self, session: Session, token: str | None) -> UniversalUser:
        """The passport user behind a session token; ``PassportSessionRequired`` otherwise."""
        return self._live_session(session, token)[1]

    def _live_session(self, session: Session, token: str | None) -> tuple[PassportSession, UniversalUser]:
        if not token or not token.startswith(SESSION_PREFIX) or len(token) > 200:
            raise PassportSessionRequired("sign in to your Memory Passport")
        row = PassportSessionRepository(session).by_hash(self.session_hash(token))
        now = utcnow()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise PassportSessionRequired("sign in to your Memory Passport")
        user = UniversalUserRepository(session).by_id(row.universal_user_id)
        if user is None or user.wrapped_key is None:  # deleted, or being deleted
            raise PassportSessionRequired("sign in to your Memory Passport")
        return row, user

    def authenticate_request(self, token: str | None) -> PassportCaller:
        """The caller of one request. Notes when the session was last used, at most once per
        ``LAST_USED_EVERY`` (a write on every page view would buy nothing the list shows)."""
        now = utcnow()
        with self.rt.db.session(write=False) as session:
            row, user = self._live_session(session, token)
            caller = PassportCaller(user, token or "")
            stale = row.last_used_at is None or row.last_used_at <= now - LAST_USED_EVERY
            row_id = row.id
        if stale:
            with self.rt.db.session() as session:
                PassportSessionRepository(session).touch(row_id, now, not_since=now - LAST_USED_EVERY)
        return caller

    def sign_out(self, session: Session, token: str | None) -> bool:
        if not token or not token.startswith(SESSION_PREFIX):
            return False
        row = PassportSessionRepository(session).by_hash(self.session_hash(token))
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        return True

    def user(self, session: Session, user_id: int) -> UniversalUser:
        user = UniversalUserRepository(session).by_id(user_id)
        if user is None or user.wrapped_key is None:
            raise PassportSessionRequired("sign in to your Memory Passport")
        return user

    # --- deleting the passport -------------------------------------------------------------------

    def delete(self, person: UniversalUser) -> str:
        """Destroy the passport's data key and commit that first; then delete every row, and
        drop what this worker caches about the owner. Two transactions of its own, whatever
        the caller's: if the second never happens (a crash), what remains is ciphertext nobody
        can read, and the passport already refuses sessions and agents (its key is gone).
        """
        user_id = person.id
        with self.rt.db.session() as session:
            user = self.user(session, user_id)
            self.rt.vault.destroy_key(user)
            public = user.public_id
        with self.rt.db.session() as session:
            MemoryRepository(session, UNIVERSAL).purge_owner(user_id, job_family="universal")
            PassportPurgeRepository(session).purge(user_id)
            row = UniversalUserRepository(session).by_id(user_id)
            if row is not None:
                UniversalUserRepository(session).delete(row)
        self.memory.forget_owner(MemoryOwner.universal(person))
        return public

    # --- everything it holds --------------------------------------------------------------------

    def export(self, session: Session, user: UniversalUser) -> dict[str, Any]:
        """Everything the passport holds, decrypted: memories with every version, questions,
        grants, connections and the activity trail."""
        scope = self.scopes.passport_user(user)
        assert scope.owner is not None
        repo = MemoryRepository(session, UNIVERSAL)
        rows = repo.all_for_owner(user.id)
        versions = repo.versions_for([row.id for row in rows])
        codec = self.memory.codec(scope.owner)
        names = self.memory.actor_names(session, [v for each in versions.values() for v in each])
        memories = [
            {
                "memory": memory_view(codec, row),
                "versions": [version_view(codec, row.id, v, actor_name=names.get(v.actor or "")) for v in versions.get(row.id, [])],
            }
            for row in rows
        ]
        questions = self.memory.questions(session, scope, status=None, limit=10_000).items
        activity, _, _ = self.audit.activity(session, user, cursor=None, limit=100_000)
        return {
            "user": user,
            "exported_at": utcnow(),
            "memories": memories,
            "questions": questions,
            "grants": self.grants.list(session, user),
            "connections": self.connections.list(session, user),
            "activity": activity,
        }

    # --- hashing ---------------------------------------------------------------------------------

    def _email_hash(self, address: str) -> str:
        return self.rt.hasher.hash(address, purpose="otp_email")

    def _code_hash(self, code: str, email_hash: str) -> str:
        return self.rt.hasher.hash(code, purpose=f"otp:{email_hash}")

    def session_hash(self, token: str) -> str:
        return self.rt.hasher.hash(token, purpose="passport_session")


def _locked(challenge: OtpChallenge, now: datetime) -> bool:
    return challenge.locked_until is not None and challenge.locked_until > now


def _seconds_until(when: datetime, now: datetime) -> int:
    return max(1, int((when - now).total_seconds()) + 1)
