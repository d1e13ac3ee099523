"""A passport user's activity, told as it happened: one line per event, in words.

The audit trail records facts (``AuditService``); this turns them into sentences that are true
to them. A write says what was stored, how many and in which categories, or that nothing was,
and why; repeated account look-ups by one agent are one line with a count; a disconnect names
the account. The pages and ``GET /v1/uui/me/activity`` tell the same story.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.services.audit import ActivityItem, AuditService
from memoryos_server.storage.models import UniversalUser

# What each audit action did, said after its actor's name. {agent} is the agent's name.
_ACTIONS: dict[str, str] = {
    "memories.read": "read your memories",
    "consent.exchanged": "linked your passport with a one-time code",
    "user.resolved": "found your passport through an account you connected",
    "grant.created": "approved {agent}",
    "grant.replaced": "approved {agent} again",
    "grant.updated": "changed {agent}'s access",
    "grant.revoked": "revoked {agent}'s access",
    "grant.ended": "ended {agent}'s access: its owner removed the agent",
    "memory.flagged": "flagged a memory",
    "memory.unflagged": "removed a flag",
    "memory.corrected": "corrected a memory",
    "memory.deleted": "deleted a memory",
    "question.answered": "answered a Pending Question",
}

# Why an agent was refused, said after "was refused your memories: " and the like.
_REFUSALS: dict[str, str] = {
    "no_grant_for_user": "it has no access",
    "grant_revoked": "you had revoked its access",
    "grant_expired": "its access had expired",
    "write_not_permitted": "its access is read only",
    "agent_inactive": "the agent is switched off",
    "categories_not_granted": "it asked only for categories you have not shared with it",
}

# Consecutive events of these actions by the same agent are one line: an agent's backend may
# look the person up on every request, and fifty identical lines would hide everything else.
GROUPED_ACTIONS = frozenset({"user.resolved"})


@dataclass(frozen=True)
class ActivityLine:
    """One line of activity: one event, or a run of the same repeated event (``count``)."""

    who: str  # "Study Buddy", "You", "MemoryOS"
    what: str  # the predicate: "stored 2 memories (preference, goal)"
    first: ActivityItem  # the oldest event of the line
    last: ActivityItem  # the newest
    count: int = 1

    @property
    def summary(self) -> str:
        return f"{self.who} {self.what}"

    @property
    def categories(self) -> list[str]:
        return self.last.categories


def _memories(count: int) -> str:
    return f"{count} memor{'y' if count == 1 else 'ies'}"


def _refusal(reason: object) -> str:
    return _REFUSALS.get(str(reason), "it had no access")


def _count(detail: dict[str, Any], name: str) -> int:
    value = detail.get(name)
    return value if isinstance(value, int) and value > 0 else 0


def describe_write(item: ActivityItem) -> str:
    """What an agent's add did: what it stored (how many, which categories), or that nothing
    was stored and why — never "added to your memories" for an add that stored nothing."""
    detail = item.detail
    if detail.get("blocked_reason"):
        return f"could not add to your memories: {_refusal(detail['blocked_reason'])}"
    events = detail.get("events") if isinstance(detail.get("events"), dict) else None
    if events is None:  # recorded before writes were counted: the ids are what is known
        return f"stored {_memories(len(item.memory_ids))}" if item.memory_ids else "sent a conversation; nothing was stored"
    added = _count(events, "ADD") + _count(events, "CONFLICT")
    updated = _count(events, "UPDATE")
    known = _count(events, "NOOP")
    skipped = _count(detail, "skipped")
    left_out = []
    if skipped:
        left_out.append(f"{skipped} outside the categories you allowed")
    if known:
        left_out.append(f"{known} already known")
    if not added and not updated:
        reasons = ", ".join(left_out) if left_out else "there was nothing in it to remember"
        return f"tried to add memories but nothing was stored: {reasons}"
    done = []
    if added:
        done.append(f"stored {_memories(added)}")
    if updated:
        done.append(f"updated {_memories(updated) if not added else updated}")
    text = " and ".join(done)
    if item.categories:
        text += f" ({', '.join(item.categories)})"
    conflicts = _count(events, "CONFLICT")
    if conflicts:
        text += f"; {conflicts} contradict{'s' if conflicts == 1 else ''} an earlier one (see Pending Questions)"
    if left_out:
        text += f"; not stored: {', '.join(left_out)}"
    return text


def describe(item: ActivityItem) -> str:
    """What happened, as a predicate: "read 3 memories", "approved Study Buddy"."""
    detail = item.detail
    if item.action == "memories.write":
        return describe_write(item)
    if item.action == "memories.read" and detail.get("permission_error"):
        return f"was refused your memories: {_refusal(detail['permission_error'])}"
    if item.action == "memories.read" and isinstance(detail.get("returned"), int):
        return f"read {_memories(detail['returned'])}"
    if item.action in ("connection.created", "connection.deleted", "connection.refreshed"):
        verb = {"connection.created": "connected", "connection.deleted": "disconnected"}.get(item.action, "reconnected")
        name = detail.get("organisation_name")
        return f"{verb} your {name} account" if isinstance(name, str) and name else f"{verb} an account"
    if item.action == "session.ended":
        device = detail.get("device") or "an unknown device"
        return "signed out here" if detail.get("current") else f"signed out a session on {device}"
    if item.action == "sessions.ended_others":
        count = _count(detail, "count")
        return f"signed out of {count} other session{'' if count == 1 else 's'}"
    fallback = item.action.replace(".", " ").replace("_", " ")
    return _ACTIONS.get(item.action, fallback).format(agent=item.agent_name or "an agent")


def who(item: ActivityItem) -> str:
    if item.actor_type == "agent":
        return item.agent_name or "An agent"
    if item.actor_type == "passport_user":
        return "You"
    return "MemoryOS"


def lines_of(items: Sequence[ActivityItem]) -> list[ActivityLine]:
    """Newest-first events as lines, runs of a grouped action by one agent folded into one."""
    lines: list[ActivityLine] = []
    run: list[ActivityItem] = []

    def close() -> None:
        if run:
            newest, oldest = run[0], run[-1]
            what = describe(newest) + (f", {len(run)} times" if len(run) > 1 else "")
            lines.append(ActivityLine(who(newest), what, first=oldest, last=newest, count=len(run)))
            run.clear()

    for item in items:
        if run and item.action == run[0].action and item.agent_id == run[0].agent_id:
            run.append(item)
            continue
        close()
        if item.action in GROUPED_ACTIONS:
            run.append(item)
            continue
        lines.append(ActivityLine(who(item), describe(item), first=item, last=item))
    close()
    return lines


class ActivityService:
    def __init__(self, audit: AuditService) -> None:
        self.audit = audit

    def timeline(
        self, session: Session, user: UniversalUser, *, cursor: str | None, limit: int
    ) -> tuple[list[ActivityLine], int | None, int]:
        """The user's activity, newest first: (lines, next cursor, total events). A page holds
        up to ``limit`` events; a run of look-ups that goes on past it continues on the next."""
        items, next_cursor, total = self.audit.activity(session, user, cursor=cursor, limit=limit)
        return lines_of(items), next_cursor, total
