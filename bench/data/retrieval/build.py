"""Compile the hand-written persona sources in ``sources/`` into one JSON file per persona.

Source format (one turn per line, so a diff of a source reads like a diff of a chat):

    persona: p01_maya
    # comments start with a hash
    == 2025-01-13                     a session, on this day
    U: plain user turn
    U[exam]: a user turn with a label that questions can point at
    A: assistant turn
    Q: a question an agent would ask memory -> exam
    Q: a question needing two turns -> exam, exam_moved

Turn ids are ``<persona>-s<n>-t<nn>``; sessions ``<persona>-s<n>``; questions
``<persona>-q<nn>``. Run from anywhere: ``python bench/data/retrieval/build.py``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"

_SESSION = re.compile(r"^==\s+(\d{4}-\d{2}-\d{2})\s*$")
_TURN = re.compile(r"^(U|A)(?:\[([a-z0-9_]+)\])?:\s+(.+)$")
_QUESTION = re.compile(r"^Q:\s+(.+?)\s+->\s+([a-z0-9_,\s]+)$")


class SourceError(Exception):
    pass


def compile_source(path: Path) -> dict[str, Any]:
    persona_id: str | None = None
    sessions: list[dict[str, Any]] = []
    labels: dict[str, str] = {}
    pending_questions: list[tuple[int, str, list[str]]] = []

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("persona:"):
            persona_id = line.split(":", 1)[1].strip()
            continue
        if persona_id is None:
            raise SourceError(f"{path.name}:{number}: 'persona:' must come first")
        if session := _SESSION.match(line):
            sessions.append(
                {"session_id": f"{persona_id}-s{len(sessions) + 1}", "date": session.group(1), "turns": []}
            )
            continue
        if turn := _TURN.match(line):
            if not sessions:
                raise SourceError(f"{path.name}:{number}: a turn before any session")
            role_letter, label, content = turn.groups()
            current = sessions[-1]
            turn_id = f"{current['session_id']}-t{len(current['turns']) + 1:02d}"
            current["turns"].append(
                {"turn_id": turn_id, "role": "user" if role_letter == "U" else "assistant", "content": content}
            )
            if label:
                if label in labels:
                    raise SourceError(f"{path.name}:{number}: label {label!r} used twice")
                labels[label] = turn_id
            continue
        if question := _QUESTION.match(line):
            text, targets = question.groups()
            pending_questions.append((number, text, [t.strip() for t in targets.split(",") if t.strip()]))
            continue
        raise SourceError(f"{path.name}:{number}: cannot read {line[:60]!r}")

    questions = []
    for index, (number, text, targets) in enumerate(pending_questions, start=1):
        missing = [t for t in targets if t not in labels]
        if missing:
            raise SourceError(f"{path.name}:{number}: unknown label(s) {missing}")
        questions.append(
            {"qid": f"{persona_id}-q{index:02d}", "question": text, "answer_turn_ids": [labels[t] for t in targets]}
        )
    return {"persona_id": persona_id, "sessions": sessions, "questions": questions}


def main() -> int:
    written = 0
    for source in sorted(SOURCES.glob("*.txt")):
        persona = compile_source(source)
        target = HERE / f"{persona['persona_id']}.json"
        target.write_text(json.dumps(persona, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written += 1
    print(f"wrote {written} persona files to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
