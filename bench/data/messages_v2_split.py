"""Check bench/data/messages_v2.jsonl and print its counts per category and split.

    python bench/data/messages_v2_split.py          # verify; exits non-zero on any problem
    python bench/data/messages_v2_split.py --write  # recompute every "split" field in place

The split is a stable hash of the text: the first byte of sha256(text, UTF-8) modulo 3 equal
to 0 puts a message in "holdout", anything else in "tune". It does not depend on the order of
the lines or on the ids, so adding messages never moves an existing one to the other side.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parent / "messages_v2.jsonl"
CATEGORIES = ("preference", "fact", "goal", "procedure", "relationship", "expertise")
FIELDS = {"id", "text", "category", "voice", "notes", "also", "split"}


def split_of(text: str) -> str:
    return "holdout" if hashlib.sha256(text.encode("utf-8")).digest()[0] % 3 == 0 else "tune"


def problems_in(rows: list[dict]) -> list[str]:
    problems: list[str] = []
    ids: Counter[str] = Counter(row.get("id", "") for row in rows)
    texts: Counter[str] = Counter(row.get("text", "").casefold() for row in rows)
    problems += [f"duplicate id {key!r}" for key, n in ids.items() if n > 1]
    problems += [f"duplicate text {key!r}" for key, n in texts.items() if n > 1]
    for row in rows:
        where = row.get("id", "?")
        if set(row) - FIELDS:
            problems.append(f"{where}: unknown fields {sorted(set(row) - FIELDS)}")
        if not isinstance(row.get("text"), str) or not row["text"].strip():
            problems.append(f"{where}: empty text")
            continue
        if row.get("category") is not None and row["category"] not in CATEGORIES:
            problems.append(f"{where}: unknown category {row['category']!r}")
        if not row.get("voice"):
            problems.append(f"{where}: no voice")
        also = row.get("also", [])
        if also and (row.get("category") is None or row["category"] in also
                     or any(a not in CATEGORIES for a in also)):
            problems.append(f"{where}: bad also {also!r}")
        if row.get("split") != split_of(row["text"]):
            problems.append(f"{where}: split is {row.get('split')!r}, hash says {split_of(row['text'])!r}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="recompute the split field in place")
    parser.add_argument("path", nargs="?", type=Path, default=DATA)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.write:
        for row in rows:
            row["split"] = split_of(row["text"])
        args.path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    counts = Counter((row.get("category") or "null", row.get("split")) for row in rows)
    names = [*CATEGORIES, "null"]
    print(f"{'category':<14}{'tune':>7}{'holdout':>9}{'total':>8}")
    for name in names:
        tune, held = counts[(name, "tune")], counts[(name, "holdout")]
        print(f"{name:<14}{tune:>7}{held:>9}{tune + held:>8}")
    tune = sum(n for (_, s), n in counts.items() if s == "tune")
    held = sum(n for (_, s), n in counts.items() if s == "holdout")
    print(f"{'all':<14}{tune:>7}{held:>9}{tune + held:>8}")
    with_also = sum(1 for row in rows if row.get("also"))
    print(f"voices: {len({row.get('voice') for row in rows})}; with a second category: "
          f"{with_also} ({with_also / max(len(rows), 1):.1%})")

    problems = problems_in(rows)
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    print("ids unique, texts unique (case-insensitive), splits match the hash" if not problems
          else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
