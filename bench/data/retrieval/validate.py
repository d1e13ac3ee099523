"""Check the retrieval-quality set: structure, ids, labels, sizes, and that it matches its sources.

    python bench/data/retrieval/validate.py

Exits non-zero and lists every problem found. Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.dont_write_bytecode = True  # keep the data folder free of __pycache__
sys.path.insert(0, str(HERE))

from build import SOURCES, compile_source  # noqa: E402  (a sibling script, not a package)

MIN_PERSONAS = 25
MIN_QUESTIONS = 300
MIN_SESSIONS = 2
USER_TURNS_RANGE = (20, 60)
# A question sharing this many consecutive words with its answer was copied, not phrased
# the way an agent would ask.
MAX_SHARED_RUN = 5
NO_ANSWER = "no_answer.json"
NO_ANSWER_SPLITS = ("calibration", "held")
NO_ANSWER_KINDS = ("absent_fact", "off_topic")

_WORD = re.compile(r"[\w']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _longest_shared_run(a: list[str], b: list[str]) -> int:
    best = 0
    previous = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        current = [0] * (len(b) + 1)
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def check_persona(path: Path, data: Any, seen_ids: set[str]) -> list[str]:
    problems: list[str] = []
    where = path.name

    def fail(message: str) -> None:
        problems.append(f"{where}: {message}")

    if not isinstance(data, dict) or set(data) != {"persona_id", "sessions", "questions"}:
        return [f"{where}: top level must be an object with exactly persona_id, sessions, questions"]
    persona_id = data["persona_id"]
    if persona_id != path.stem:
        fail(f"persona_id {persona_id!r} does not match the file name")

    turns: dict[str, dict[str, Any]] = {}
    previous_date: date | None = None
    sessions = data["sessions"]
    if not isinstance(sessions, list) or len(sessions) < MIN_SESSIONS:
        fail(f"needs at least {MIN_SESSIONS} sessions")
        sessions = sessions if isinstance(sessions, list) else []
    for session in sessions:
        session_id = session.get("session_id")
        if not isinstance(session_id, str) or session_id in seen_ids:
            fail(f"missing or duplicate session_id {session_id!r}")
        seen_ids.add(str(session_id))
        try:
            day = date.fromisoformat(session.get("date", ""))
        except ValueError:
            fail(f"{session_id}: date must be YYYY-MM-DD")
            continue
        if previous_date is not None and day <= previous_date:
            fail(f"{session_id}: sessions must be on different days, in order")
        previous_date = day
        if not session.get("turns"):
            fail(f"{session_id}: has no turns")
        for turn in session.get("turns", []):
            turn_id = turn.get("turn_id")
            if not isinstance(turn_id, str) or turn_id in seen_ids:
                fail(f"missing or duplicate turn_id {turn_id!r}")
                continue
            seen_ids.add(turn_id)
            if turn.get("role") not in ("user", "assistant"):
                fail(f"{turn_id}: role must be user or assistant")
            if not isinstance(turn.get("content"), str) or not turn["content"].strip():
                fail(f"{turn_id}: empty content")
            turns[turn_id] = turn

    user_turns = sum(1 for t in turns.values() if t.get("role") == "user")
    low, high = USER_TURNS_RANGE
    if not low <= user_turns <= high:
        fail(f"{user_turns} user turns, expected {low}..{high}")

    questions = data["questions"]
    if not isinstance(questions, list) or not questions:
        fail("has no questions")
        questions = []
    for question in questions:
        qid = question.get("qid")
        if not isinstance(qid, str) or qid in seen_ids:
            fail(f"missing or duplicate qid {qid!r}")
        seen_ids.add(str(qid))
        text = question.get("question")
        if not isinstance(text, str) or not text.strip().endswith("?") and not text.strip().endswith("."):
            fail(f"{qid}: question must be a sentence")
            continue
        answers = question.get("answer_turn_ids")
        if not isinstance(answers, list) or not answers:
            fail(f"{qid}: needs at least one answer turn")
            continue
        for answer in answers:
            turn = turns.get(answer)
            if turn is None:
                fail(f"{qid}: answer {answer!r} is not a turn of this persona")
            elif turn.get("role") != "user":
                fail(f"{qid}: answer {answer!r} is not a user turn")
            else:
                run = _longest_shared_run(_words(text), _words(turn["content"]))
                if run > MAX_SHARED_RUN:
                    fail(f"{qid}: copies {run} consecutive words of {answer}")
    return problems


def check_no_answer(path: Path, personas: set[str]) -> list[str]:
    """The questions nothing answers: each names a persona of the set, ids are unique, and
    every persona falls wholly in one split."""
    if not path.exists():
        return [f"{path.name}: missing"]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return [f"{path.name}: not valid JSON ({exc})"]
    problems: list[str] = []
    seen: set[str] = set()
    split_of: dict[str, str] = {}
    for item in data.get("questions", []):
        qid, persona, split = item.get("qid"), item.get("persona_id"), item.get("split")
        if qid in seen:
            problems.append(f"{path.name}: {qid} repeated")
        seen.add(qid)
        if persona not in personas:
            problems.append(f"{path.name}: {qid} names unknown persona {persona!r}")
        if item.get("kind") not in NO_ANSWER_KINDS:
            problems.append(f"{path.name}: {qid} has kind {item.get('kind')!r}, not one of {NO_ANSWER_KINDS}")
        if split not in NO_ANSWER_SPLITS:
            problems.append(f"{path.name}: {qid} has split {split!r}, not one of {NO_ANSWER_SPLITS}")
        if split_of.setdefault(persona, split) != split:
            problems.append(f"{path.name}: {persona} is in more than one split")
        if not str(item.get("question", "")).strip():
            problems.append(f"{path.name}: {qid} has no question")
    return problems


def main() -> int:
    problems: list[str] = []
    seen_ids: set[str] = set()
    personas = questions = user_turns = all_turns = sessions = 0
    files = sorted(p for p in HERE.glob("p*.json"))
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name}: not valid JSON ({exc})")
            continue
        problems.extend(check_persona(path, data, seen_ids))
        personas += 1
        questions += len(data.get("questions", []))
        sessions += len(data.get("sessions", []))
        for session in data.get("sessions", []):
            for turn in session.get("turns", []):
                all_turns += 1
                user_turns += turn.get("role") == "user"
        source = SOURCES / f"{path.stem}.txt"
        if not source.exists():
            problems.append(f"{path.name}: no source in {SOURCES.name}/")
        elif compile_source(source) != data:
            problems.append(f"{path.name}: differs from its source; run build.py")

    problems.extend(check_no_answer(HERE / NO_ANSWER, {p.stem for p in files}))

    compiled = {p.stem for p in SOURCES.glob("*.txt")}
    for missing in sorted(compiled - {p.stem for p in files}):
        problems.append(f"{missing}: has a source but no JSON; run build.py")
    if personas < MIN_PERSONAS:
        problems.append(f"{personas} personas, need at least {MIN_PERSONAS}")
    if questions < MIN_QUESTIONS:
        problems.append(f"{questions} questions, need at least {MIN_QUESTIONS}")

    print(
        f"{personas} personas, {sessions} sessions, {all_turns} turns ({user_turns} from users), "
        f"{questions} questions"
    )
    for problem in problems:
        print("PROBLEM", problem)
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
