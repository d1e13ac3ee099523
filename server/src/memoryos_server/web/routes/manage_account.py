"""Permission center: the activity trail, the export, and deleting the whole passport."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from memoryos_server.services.audit import ActivityItem
from memoryos_server.web.deps import CheckedForm, ServicesDep, SignedIn, SiteDep, field
from memoryos_server.web.errors import WebRoute
from memoryos_server.web.routes._manage import render_tab
from memoryos_server.web.templating import Flash, category_label

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 50
CONFIRM_WORD = "DELETE"

# What each audit action did, said after its actor's name. {agent} is the agent's name.
_ACTIONS: dict[str, str] = {
    "memories.read": "read your memories",
    "memories.write": "added to your memories",
    "consent.exchanged": "linked your passport with a one-time code",
    "user.resolved": "found your passport through an account you connected",
    "grant.created": "approved {agent}",
    "grant.replaced": "approved {agent} again",
    "grant.updated": "changed {agent}'s access",
    "grant.revoked": "revoked {agent}'s access",
    "grant.ended": "ended {agent}'s access: its owner removed the agent",
    "connection.created": "connected an account",
    "connection.deleted": "disconnected an account",
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


def _refusal(reason: object) -> str:
    return _REFUSALS.get(str(reason), "it had no access")


def _memories(count: int) -> str:
    return f"{count} memor{'y' if count == 1 else 'ies'}"


def describe(item: ActivityItem) -> str:
    """What happened, as a predicate: "read 3 memories", "approved Study Buddy"."""
    if item.action == "memories.write" and item.detail.get("blocked_reason"):
        return f"could not add to your memories: {_refusal(item.detail['blocked_reason'])}"
    if item.action == "memories.read" and item.detail.get("permission_error"):
        return f"was refused your memories: {_refusal(item.detail['permission_error'])}"
    if item.action == "memories.read" and isinstance(item.detail.get("returned"), int):
        return f"read {_memories(item.detail['returned'])}"
    if item.action == "memories.write" and item.memory_ids:
        return f"wrote {_memories(len(item.memory_ids))}"
    fallback = item.action.replace(".", " ").replace("_", " ")
    return _ACTIONS.get(item.action, fallback).format(agent=item.agent_name or "an agent")


def who(item: ActivityItem) -> str:
    if item.actor_type == "agent":
        return item.agent_name or "An agent"
    if item.actor_type == "passport_user":
        return "You"
    return "MemoryOS"


@router.get("/manage/activity")
def activity_tab(
    request: Request,
    site: SiteDep,
    services: ServicesDep,
    caller: SignedIn,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    with services.runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        items, next_cursor, total = services.audit.activity(session, user, cursor=cursor, limit=PAGE_SIZE)
        rows = [
            {
                "when": item.created_at,
                "who": who(item),
                "what": describe(item),
                "categories": [category_label(name) for name in item.categories],
            }
            for item in items
        ]
        context = {"rows": rows, "next_cursor": next_cursor, "total": total}
        return render_tab(site, request, services, session, user, tab="activity", template="manage/activity.html", context=context)


@router.get("/manage/export")
def export_tab(request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn) -> Response:
    with services.runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        return render_tab(site, request, services, session, user, tab="export", template="manage/export.html", context={})


@router.get("/manage/delete")
def delete_tab(request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn) -> Response:
    with services.runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        context = {
            "memories": services.memory.list(session, services.passport_scopes.passport_user(user), limit=1).total,
            "grants": sum(1 for view in services.grants.list(session, user) if view.status == "active"),
            "connections": len(services.connections.list(session, user)),
            "confirm_word": CONFIRM_WORD,
        }
        return render_tab(site, request, services, session, user, tab="delete", template="manage/delete.html", context=context)


@router.post("/manage/delete")
def delete_passport(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn) -> Response:
    if field(form, "confirm", max_length=32) != CONFIRM_WORD:
        return site.redirect(request, "/manage/delete", Flash("error", f"Type {CONFIRM_WORD} in capitals to confirm. Nothing was deleted."))
    services.passport_account.delete(caller.user)
    response = site.redirect(
        request, "/login", Flash("ok", "Your Memory Passport is deleted: its memories, agents' access, connections and key are gone.")
    )
    site.end_session(response)
    return response
