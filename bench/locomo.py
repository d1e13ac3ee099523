"""LoCoMo: evidence recall on real conversations, and the conflicts they open.

    .venv/bin/python bench/locomo.py [--data PATH] [--halves dev,held] [--backend sqlite] [--no-conflicts] [--no-doc]

The data is LoCoMo (snap-research/LoCoMo, CC BY-NC 4.0): long conversations between two
people over weeks of dated sessions, with questions whose evidence is given as turn ids
(``D<session>:<turn>``). It is not copied into this repository: the script reads it from
``--data``, else ``$MEMORYOS_LOCOMO_PATH``, else ``../shared/data/locomo-dev.json`` beside the
checkout (8 of LoCoMo's 10 conversations, the 3rd to the 10th of ``data/locomo10.json`` in
the LoCoMo repository; that file itself works too).

**Recall.** One end-user per conversation. Every turn goes through ``POST /v1/memories/add``
(a real server on loopback) with ``infer: false``, one add per session (at most 64 messages;
the first speaker's turns as the user's, the other's as the assistant's), as ``"<speaker>: <text>"`` (a shared photo's caption appended in brackets), with the session's
date and time as the message's ``occurred_at``. Each question (categories 1–4: single-hop,
multi-hop, open-domain, temporal; category 5, the adversarial questions about things never
said, is reported apart) is then searched for that end-user at limits 5, 10 and 20 with both
signals (hybrid, the service default, relevance floor included), dense only and keyword only
(BM25) — ``Retriever.search(signals=…)``, the function the retrieve route calls. Evidence
recall@k: the share of a question's evidence turns among the first k results, averaged over
questions; recall_all@k: the share of questions with every evidence turn in the first k.

The conversations are split in two: the **development** half (``DEV``) is the one ranking
changes were tuned on; the **held-aside** half is only ever scored, its misses never read.

**Conflicts.** The verbatim adds above are counted for memories marked disputed (SPEC §7: a
verbatim add opens no conflict). Then each speaker of each conversation becomes an end-user of
its own, and every session is added once per speaker with the default extractor
(``infer: true``): that speaker's turns as the user's messages, the other's as the assistant's.
The clarifications this opens are counted per 100 user turns and listed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from common import LoadGuard, command_line, section_preamble, write_section
from stack import MAX_MESSAGES_PER_ADD, ROOT, Stack, open_stack, postgres_problem

from memoryos_server.engine.retrieval.answerable import NO_FLOOR
from memoryos_server.services.memory.owner import MemoryOwner
from memoryos_server.services.permissions import Permission
from memoryos_server.storage.types import utcnow

DATA_ENV = "MEMORYOS_LOCOMO_PATH"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo-dev.json"
WHERE_TO_GET = (
    "LoCoMo is not shipped with MemoryOS (CC BY-NC 4.0). Get data/locomo10.json from the "
    "snap-research/LoCoMo repository on GitHub and pass it with --data PATH or "
    f"{DATA_ENV}=PATH (this benchmark's figures use its 3rd to 10th conversations)."
)
# Tuned on; the other conversations are the held-aside half.
DEV = ("conv-41", "conv-43", "conv-47", "conv-49")
LIMITS = (5, 10, 20)
SIGNALS: dict[str, tuple[str, ...]] = {
    "hybrid": ("dense", "keyword"),
    "dense only": ("dense",),
    "BM25 only": ("keyword",),
}
CATEGORY_NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
SCORED_CATEGORIES = (1, 2, 3, 4)
LISTED_QUESTIONS = 12
_TURN_ID = re.compile(r"D:?(\d+):0*(\d+)")


# --- the data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    turn_id: str
    speaker: str
    text: str
    session: int
    when: datetime

    @property
    def stored_text(self) -> str:
        return f"{self.speaker}: {self.text}"


@dataclass(frozen=True)
class Question:
    text: str
    category: int
    evidence: frozenset[str]


@dataclass
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    sessions: list[list[Turn]]
    questions: list[Question]
    dropped_evidence: int = 0

    @property
    def turns(self) -> list[Turn]:
        return [turn for session in self.sessions for turn in session]

    @property
    def half(self) -> str:
        return "dev" if self.sample_id in DEV else "held"


def data_path(given: str | None) -> Path:
    return Path(given or os.environ.get(DATA_ENV) or DEFAULT_DATA)


def load(path: Path) -> list[Conversation]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [_conversation(item) for item in raw]


def _conversation(item: dict[str, Any]) -> Conversation:
    body = item["conversation"]
    sessions: list[list[Turn]] = []
    numbers = sorted(int(key.split("_")[1]) for key in body if re.fullmatch(r"session_\d+", key))
    for number in numbers:
        when = session_time(body[f"session_{number}_date_time"])
        turns = []
        for raw_turn in body[f"session_{number}"]:
            text = raw_turn["text"].strip()
            if caption := raw_turn.get("blip_caption"):
                text = f"{text} [shares {caption}]"
            turns.append(Turn(raw_turn["dia_id"], raw_turn["speaker"], text, number, when))
        sessions.append(turns)
    known = {turn.turn_id for session in sessions for turn in session}
    questions, dropped = [], 0
    for qa in item["qa"]:
        evidence = set()
        for ref in qa.get("evidence", []):
            found = [f"D{s}:{t}" for s, t in _TURN_ID.findall(ref)]
            dropped += sum(1 for turn_id in found if turn_id not in known) + (not found)
            evidence.update(turn_id for turn_id in found if turn_id in known)
        if evidence:
            questions.append(Question(qa["question"], int(qa["category"]), frozenset(evidence)))
    return Conversation(item["sample_id"], (body["speaker_a"], body["speaker_b"]), sessions, questions, dropped)


def session_time(text: str) -> datetime:
    """LoCoMo's "1:56 pm on 8 May, 2023", read as UTC."""
    return datetime.strptime(text.replace(",", ""), "%I:%M %p on %d %B %Y").replace(tzinfo=timezone.utc)


# --- adding over HTTP -------------------------------------------------------------------------------


def _batches(items: Sequence[Any], size: int = MAX_MESSAGES_PER_ADD) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def post_add(client: httpx.Client, stack: Stack, end_user: str, messages: list[dict[str, Any]], *, infer: bool) -> dict[str, Any]:
    response = client.post(
        "/v1/memories/add", headers=stack.headers(end_user), json={"messages": messages, "infer": infer}
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Stored:
    """What the verbatim adds of one conversation left: memory id → turn ids, and the events."""

    turns_of: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    events: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def store_verbatim(client: httpx.Client, stack: Stack, conversation: Conversation) -> Stored:
    stored = Stored()
    started = time.perf_counter()
    for session in conversation.sessions:
        for batch in _batches(session):
            # The first speaker as the user, the second as the assistant: a dialogue, as an agent stores one.
            messages = [
                {
                    "role": "user" if t.speaker == conversation.speakers[0] else "assistant",
                    "content": t.stored_text,
                    "occurred_at": t.when.isoformat(),
                }
                for t in batch
            ]
            results = post_add(client, stack, conversation.sample_id, messages, infer=False)["results"]
            # infer: false makes one memory (or one NOOP/UPDATE/CONFLICT event) per message, in order.
            if len(results) != len(batch):
                raise RuntimeError(f"{len(batch)} messages gave {len(results)} results")
            for turn, event in zip(batch, results, strict=True):
                stored.turns_of[event["id"]].add(turn.turn_id)
                stored.events[event["event"]] += 1
    stored.seconds = time.perf_counter() - started
    return stored


# --- recall -----------------------------------------------------------------------------------------


@dataclass
class Tally:
    recall: float = 0.0
    complete: int = 0
    count: int = 0

    def add(self, evidence: frozenset[str], found: set[str]) -> None:
        hit = len(evidence & found)
        self.recall += hit / len(evidence)
        self.complete += hit == len(evidence)
        self.count += 1

    @property
    def mean(self) -> float:
        return self.recall / self.count if self.count else float("nan")

    @property
    def all_share(self) -> float:
        return self.complete / self.count if self.count else float("nan")


# (half, signals, limit, category) → tally; category 0 is categories 1–4 together.
Tallies = dict[tuple[str, str, int, int], Tally]


def owner_of(stack: Stack, end_user: str) -> MemoryOwner:
    with stack.read_session() as session:
        user = stack.services.identity.end_user(session, stack.principal, end_user, create=False)
    return MemoryOwner.end_user(user, tenant_id=stack.principal.tenant_id)


def search(stack: Stack, owner: MemoryOwner, query: str, *, limit: int, signals: tuple[str, ...]) -> list[str]:
    """As the retrieve route searches: hybrid with the default relevance floor; one signal alone without."""
    memory = stack.services.memory
    floor = stack.runtime.search_floor if len(signals) > 1 else NO_FLOOR
    with stack.read_session() as session:
        ranked = memory.retriever.search(
            session, owner, memory.codec(owner), query=query, limit=limit, categories=None,
            time_filter_days=None, as_of=None, now=utcnow(), signals=signals, floor=floor,
        )
    return [m.id for m in ranked.memories]


def score(stack: Stack, conversation: Conversation, stored: Stored, tallies: Tallies, timings: dict[str, list[float]],
          misses: list[dict[str, Any]]) -> None:
    owner = owner_of(stack, conversation.sample_id)
    text_of = {t.turn_id: t.stored_text for t in conversation.turns}
    for question in conversation.questions:
        for name, signals in SIGNALS.items():
            for limit in LIMITS:
                started = time.perf_counter()
                found_ids = search(stack, owner, question.text, limit=limit, signals=signals)
                timings[name].append((time.perf_counter() - started) * 1e3)
                found = {turn for mid in found_ids for turn in stored.turns_of.get(mid, ())}
                for category in (0, question.category) if question.category in SCORED_CATEGORIES else (question.category,):
                    tallies.setdefault((conversation.half, name, limit, category), Tally()).add(question.evidence, found)
                if name == "hybrid" and limit == 10 and conversation.half == "dev" and question.evidence - found:
                    misses.append({
                        "conversation": conversation.sample_id,
                        "category": question.category,
                        "question": question.text,
                        "missing": [text_of[t] for t in sorted(question.evidence - found)],
                        "top": [next(iter(stored.turns_of[m])) for m in found_ids[:3] if m in stored.turns_of],
                    })


# --- conflicts --------------------------------------------------------------------------------------


@dataclass
class ConflictRun:
    user_turns: int = 0
    memories: int = 0
    questions: list[tuple[str, str, str]] = field(default_factory=list)  # (end-user, A, B)
    turns_by_half: Counter[str] = field(default_factory=Counter)
    questions_by_half: Counter[str] = field(default_factory=Counter)


def extract_per_speaker(client: httpx.Client, stack: Stack, conversation: Conversation, run: ConflictRun) -> None:
    for speaker in conversation.speakers:
        end_user = f"{conversation.sample_id}-{speaker}"
        for session in conversation.sessions:
            messages = [
                {
                    "role": "user" if t.speaker == speaker else "assistant",
                    "content": t.text,
                    "occurred_at": t.when.isoformat(),
                }
                for t in session
            ]
            spoken = sum(1 for t in session if t.speaker == speaker)
            run.user_turns += spoken
            run.turns_by_half[conversation.half] += spoken
            for batch in _batches(messages):
                body = post_add(client, stack, end_user, list(batch), infer=True)
                run.memories += sum(1 for e in body["results"] if e["event"] in ("ADD", "CONFLICT"))
        with stack.read_session() as session:
            scope = stack.services.scopes.end_user(session, stack.principal, end_user, permission=Permission.MEMORY_READ)
            page = stack.services.memory.questions(session, scope, status="open", limit=500)
        for item in page.items:
            a = item.memory_a.content if item.memory_a else "?"
            b = item.memory_b.content if item.memory_b else "?"
            run.questions.append((end_user, a, b))
            run.questions_by_half[conversation.half] += 1


def disputed_count(client: httpx.Client, stack: Stack, end_user: str) -> int:
    disputed, cursor = 0, None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/memories", headers=stack.headers(end_user), params=params)
        response.raise_for_status()
        body = response.json()
        disputed += sum(1 for m in body["data"] if m.get("disputed"))
        cursor = body["pagination"]["next_cursor"]
        if not cursor:
            return disputed


# --- the run ----------------------------------------------------------------------------------------


@dataclass
class Results:
    tallies: Tallies
    timings: dict[str, list[float]]
    misses: list[dict[str, Any]]
    events: Counter[str]
    disputed: int
    turns: int
    memories: int
    add_seconds: float
    conflicts: ConflictRun | None


def run(backend: str, conversations: Sequence[Conversation], guard: LoadGuard, *, conflicts: bool) -> Results:
    stack = open_stack(backend, label="locomo")
    tallies: Tallies = {}
    timings: dict[str, list[float]] = defaultdict(list)
    misses: list[dict[str, Any]] = []
    events: Counter[str] = Counter()
    stored_of: dict[str, Stored] = {}
    disputed = 0
    conflict_run = ConflictRun() if conflicts else None
    try:
        with stack.http_server() as base, httpx.Client(base_url=base, timeout=120) as client:
            guard.settle(f"locomo {backend} ingest")
            for conversation in conversations:
                print(f"  {conversation.sample_id}: adding {len(conversation.turns)} turns …", file=sys.stderr)
                stored_of[conversation.sample_id] = stored = store_verbatim(client, stack, conversation)
                events.update(stored.events)
                disputed += disputed_count(client, stack, conversation.sample_id)
            if conflict_run is not None:
                for conversation in conversations:
                    print(f"  {conversation.sample_id}: extracting per speaker …", file=sys.stderr)
                    extract_per_speaker(client, stack, conversation, conflict_run)
        guard.settle(f"locomo {backend} search")
        for conversation in conversations:
            print(f"  {conversation.sample_id}: {len(conversation.questions)} questions …", file=sys.stderr)
            score(stack, conversation, stored_of[conversation.sample_id], tallies, timings, misses)
    finally:
        stack.close()
    return Results(
        tallies, timings, misses, events, disputed,
        turns=sum(len(c.turns) for c in conversations),
        memories=sum(len(s.turns_of) for s in stored_of.values()),
        add_seconds=sum(s.seconds for s in stored_of.values()),
        conflicts=conflict_run,
    )


# --- the report -------------------------------------------------------------------------------------


def render(results: Results, conversations: Sequence[Conversation], path: Path, command: str, backend: str,
           guard: LoadGuard) -> str:
    halves = {half: [c for c in conversations if c.half == half] for half in ("dev", "held")}
    lines = section_preamble(
        "LoCoMo (evidence recall on real conversations; conflicts they open)", command,
        postgres=backend == "postgresql",
        extra=[
            f"Data: {path.name} ({len(conversations)} conversations, {results.turns:,} turns, "
            f"{sum(len(c.questions) for c in conversations):,} questions with evidence); "
            + "; ".join(f"{half}: {', '.join(c.sample_id for c in convs) or 'none'}" for half, convs in halves.items()),
            "Development half (dev): ranking was tuned on it. Held-aside half (held): scored only, its misses never read.",
            "Each turn one memory (`infer: false`, through the HTTP API, one add per session), stored as "
            "\"<speaker>: <text>\" with the session time as `occurred_at`; each question searched for that "
            "conversation's end-user at limits 5, 10, 20. Evidence recall@k: share of a question's evidence turns in "
            "the top k, averaged; recall_all@k: share of questions with all of them. Categories 1–4 (category 5, "
            "adversarial questions about things never said, apart).",
        ],
    )
    lines += [
        "| half | questions | signals | recall@5 | recall@10 | recall@20 | recall_all@10 | search p50 (limit 10) |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for half in ("dev", "held"):
        for name in SIGNALS:
            t = {k: results.tallies.get((half, name, k, 0)) for k in LIMITS}
            if not t[10]:
                continue
            p50 = statistics.median(results.timings[name][1::3]) if results.timings[name] else float("nan")
            lines.append(
                f"| {half} | {t[10].count} | {name} | {t[5].mean:.3f} | {t[10].mean:.3f} | {t[20].mean:.3f} "
                f"| {t[10].all_share:.3f} | {p50:.1f} ms |"
            )
    lines += ["", "Hybrid recall@10 by question category (recall / recall_all):", "",
              "| half | " + " | ".join(f"{n} ({c})" for c, n in CATEGORY_NAMES.items()) + " |",
              "|---|" + "---:|" * len(CATEGORY_NAMES)]
    for half in ("dev", "held"):
        cells = []
        for category in CATEGORY_NAMES:
            t = results.tallies.get((half, "hybrid", 10, category))
            cells.append(f"{t.mean:.3f} / {t.all_share:.3f} (n={t.count})" if t else "—")
        if any(c != "—" for c in cells):
            lines.append(f"| {half} | " + " | ".join(cells) + " |")
    events = ", ".join(f"{n} {e}" for e, n in sorted(results.events.items()))
    lines += [
        "",
        f"- Verbatim adds: {results.turns:,} turns → {results.memories:,} memories ({events}), "
        f"{results.turns / results.add_seconds:.0f} turns/s over HTTP; memories marked disputed: "
        f"**{results.disputed}** (SPEC §7: none).",
    ]
    if (run := results.conflicts) is not None:
        per_100 = 100 * len(run.questions) / run.user_turns if run.user_turns else float("nan")
        lines += [
            f"- Default extractor, each speaker an end-user of their own ({run.user_turns:,} user turns → "
            f"{run.memories:,} memories): **{len(run.questions)}** clarifications opened, "
            f"**{per_100:.2f} per 100 user turns** ("
            + "; ".join(
                f"{half}: {run.questions_by_half[half]} in {turns:,} turns" for half, turns in run.turns_by_half.items()
            )
            + "; conflict detection was tuned on the dev half's clarifications).",
        ]
        if run.questions:
            lines += ["", "Clarifications opened (A: the older memory, B: the newer):", ""]
            lines += [f"- {user}: A “{a}” — B “{b}”" for user, a, b in run.questions[:LISTED_QUESTIONS]]
            if len(run.questions) > LISTED_QUESTIONS:
                lines.append(f"- … and {len(run.questions) - LISTED_QUESTIONS} more")
    lines += ["", f"Load: {guard.summary()} Recall does not depend on load; the timings do."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help=f"the LoCoMo JSON file (default: ${DATA_ENV}, else {DEFAULT_DATA})")
    parser.add_argument("--halves", default="dev,held", help="comma-separated: dev,held")
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--no-conflicts", action="store_true", help="skip the default-extractor conflict count")
    parser.add_argument("--if-present", action="store_true", help="exit 0 when the data file is missing (make bench)")
    parser.add_argument("--max-wait", type=float, default=120, help="seconds to wait for a quiet machine per section")
    parser.add_argument("--misses", type=Path, help="write the dev half's hybrid misses at limit 10 to this JSON file")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)

    path = data_path(args.data)
    if not path.is_file():
        print(f"no LoCoMo data at {path}. {WHERE_TO_GET}", file=sys.stderr)
        return 0 if args.if_present else 2
    if args.backend == "postgresql" and (problem := postgres_problem()):
        print(f"postgresql: {problem}", file=sys.stderr)
        return 2
    halves = {h for h in args.halves.split(",") if h}
    if unknown := halves - {"dev", "held"}:
        parser.error(f"unknown halves {sorted(unknown)}")
    conversations = [c for c in load(path) if c.half in halves]
    guard = LoadGuard(max_wait=args.max_wait)
    results = run(args.backend, conversations, guard, conflicts=not args.no_conflicts)
    if args.misses:
        args.misses.write_text(json.dumps(results.misses, indent=1, ensure_ascii=False), encoding="utf-8")
    body = render(results, conversations, path, command_line("locomo.py", argv), args.backend, guard)
    print(body)
    if not args.no_doc and halves == {"dev", "held"}:
        write_section("locomo", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
