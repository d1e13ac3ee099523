"""Categories as a permission boundary: the default extractor through the API, on labelled messages.

    .venv/bin/python bench/categories.py [--splits tune,holdout,old,dev] [--no-doc] [--show-errors]

Every labelled message is sent on its own with ``POST /v1/memories/add`` (the default
extractor, the local MiniLM embedder, an in-process app on a fresh SQLite database, one
end-user per message), and what was stored is read back with ``GET /v1/memories``. Then, per
set of messages:

- **category accuracy**: among messages worth remembering, the share that stored at least one
  memory, filed under the labelled category (or the labelled second category, ``also``), and
  no memory under any other: "the expected category and no other";
- **leaks**: among messages worth remembering, the share that stored a memory an agent holding
  one *other* category alone would receive. A memory the engine was unsure of carries the
  other categories it found plausible (``also_categories``) and reaches only an agent granted
  all of them (docs/memory-engine.md), so it reaches no single-category agent at all;
- **nothing extracted**: among messages worth remembering, the share that stored nothing;
- **worthless rejected**: among messages labelled with nothing to remember, the share that
  stored nothing;
- **held in doubt**: among messages worth remembering, the share whose memories all carry
  other plausible categories, so that an agent holding only the labelled category does not
  receive them either (the price of the doubt rule: withheld, not leaked);
- **reaches the right agent**: the share with a memory an agent holding only the labelled
  category receives.

The sets: ``bench/data/messages_v2.jsonl`` (1,794 hand-written messages in many voices; read
its .md) in its two splits, ``tune`` (rules, prototypes and parameters may be chosen while
looking at these) and ``holdout`` (never looked at one by one: only these aggregate figures),
the older ``bench/data/extraction_sentences.jsonl`` (620 sentences, much of it tuned on), and
``bench/data/messages_dev.jsonl`` (``dev``: 416 messages, 186 of them nulls, written for the
fourth round when the tune split was nearly saturated; tuned on, read its .md).
``--show-errors`` lists misses of the tune split and the dev set only; it never lists the holdout.

The holdout is measured only in aggregate (``HISTORY``, which the section in docs/benchmarks.md
repeats), once before a round of changes and once at its end (a later round takes the previous
end as its "before"). Within a round, rules, examples and parameters are chosen on the tune
split alone (and the old set's tuning half); the holdout's misses are never listed.

The extractor's own time per message (median, one pass, single messages, the vector cache
cold) is measured outside the API in the same process, and so is each add through the API; the
machine has two cores shared with other work, so both are indicative only. Since issue 10 the
extractor embeds every memory it files (the add then takes the vector from the cache), so its
own time grew while the add's moved little.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from common import command_line, section_preamble, write_section
from fastapi.testclient import TestClient
from stack import MODEL_CACHE, open_stack

from memoryos_server.app import create_app
from memoryos_server.engine.embeddings import LocalMiniLMEmbedder
from memoryos_server.engine.extraction import RuleBasedExtractor
from memoryos_server.engine.types import CATEGORIES, ChatMessage

DATA = Path(__file__).resolve().parent / "data"
MESSAGES = DATA / "messages_v2.jsonl"
OLD = DATA / "extraction_sentences.jsonl"
DEV = DATA / "messages_dev.jsonl"
SETS = ("tune", "holdout", "old", "dev")
LISTED = ("tune", "dev")  # the sets whose misses --show-errors lists
NONE = "none"
NOW = datetime(2025, 2, 1, 12, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Message:
    id: str
    text: str
    category: str  # a category or NONE
    also: tuple[str, ...]
    split: str  # tune | holdout | old | dev

    @property
    def labels(self) -> frozenset[str]:
        return frozenset((self.category, *self.also))


@dataclass(frozen=True)
class Stored:
    category: str
    also: tuple[str, ...]
    content: str = ""

    @property
    def required(self) -> frozenset[str]:
        """The categories an agent must hold, every one of them, to receive this memory."""
        return frozenset((self.category, *self.also))


@dataclass
class Figures:
    positives: int = 0
    negatives: int = 0
    accurate: int = 0
    leaked: int = 0
    missed: int = 0
    rejected: int = 0
    doubtful: int = 0
    reached: int = 0
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)


def load(splits: Iterable[str]) -> list[Message]:
    wanted = set(splits)
    messages: list[Message] = []
    if wanted & {"tune", "holdout"}:
        for line in MESSAGES.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if row["split"] in wanted:
                    messages.append(
                        Message(row["id"], row["text"], row["category"] or NONE, tuple(row.get("also") or ()), row["split"])
                    )
    if "old" in wanted:
        for number, line in enumerate(OLD.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                row = json.loads(line)
                messages.append(Message(f"old{number:04d}", row["text"], row["category"] or NONE, (), "old"))
    if "dev" in wanted:
        for line in DEV.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                messages.append(Message(row["id"], row["text"], row["category"] or NONE, tuple(row.get("also") or ()), "dev"))
    return messages


def first_label(stored: Sequence[Stored]) -> str:
    return stored[0].category if stored else NONE


def tally(pairs: Iterable[tuple[Message, list[Stored]]]) -> Figures:
    figures = Figures()
    for message, stored in pairs:
        figures.confusion[(message.category, first_label(stored))] += 1
        if message.category == NONE:
            figures.negatives += 1
            figures.rejected += not stored
            continue
        figures.positives += 1
        if not stored:
            figures.missed += 1
            continue
        filed = {memory.category for memory in stored}
        figures.accurate += message.category in filed and filed <= message.labels
        # A single-category agent receives exactly the memories that require nothing else.
        figures.leaked += any(len(m.required) == 1 and not m.required <= message.labels for m in stored)
        figures.reached += any(m.required <= message.labels for m in stored)
        figures.doubtful += all(len(m.required) > 1 for m in stored)
    return figures


def share(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "n/a"


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}% ({part}/{whole})" if whole else "n/a"


class Harness:
    """An in-process app on a fresh SQLite database, with the server's default extractor."""

    def __init__(self) -> None:
        self.stack = open_stack("sqlite", label="categories", embedder="local")
        self.app = create_app(self.stack.runtime.settings, runtime=self.stack.runtime, migrate=False)
        self.client = TestClient(self.app, raise_server_exceptions=True)
        self.add_seconds: list[float] = []

    def store(self, message: Message) -> list[Stored]:
        headers = {"Authorization": f"ApiKey {self.stack.api_key}", "X-End-User-ID": f"cat-{message.id}"}
        started = time.perf_counter()
        added = self.client.post(
            "/v1/memories/add", json={"messages": [{"role": "user", "content": message.text}]}, headers=headers
        )
        self.add_seconds.append(time.perf_counter() - started)
        added.raise_for_status()
        listed = self.client.get("/v1/memories", params={"limit": 50}, headers=headers)
        listed.raise_for_status()
        rows = sorted(listed.json()["data"], key=lambda row: row["created_at"])
        return [Stored(row["category"], tuple(row.get("also_categories") or ()), row["content"]) for row in rows]

    def close(self) -> None:
        self.client.close()
        self.stack.close()


def extractor_times(messages: Sequence[Message]) -> list[float]:
    """Seconds per message of the default extractor alone (one pass; no vector cache)."""
    embedder = LocalMiniLMEmbedder(MODEL_CACHE)
    embedder.load()
    extractor = RuleBasedExtractor(embedder=embedder)
    extractor.extract([ChatMessage("user", "I like tea")], now=NOW)  # the prototypes, embedded once
    times = []
    for message in messages:
        started = time.perf_counter()
        extractor.extract([ChatMessage("user", message.text)], now=NOW)
        times.append(time.perf_counter() - started)
    return times


def confusion_table(figures: Figures) -> list[str]:
    labels = [*CATEGORIES, NONE]
    lines = ["| label \\ first memory | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for expected in labels:
        cells = [str(figures.confusion[(expected, got)] or "·") for got in labels]
        lines.append(f"| **{expected}** | " + " | ".join(cells) + " |")
    return lines


HISTORY = """\
Measured on the holdout five times, in aggregate only (four rounds of changes; each round's
"before" is the previous round's end; the third round was not adopted):

| when | code | set | accuracy | leaks | nothing extracted | worthless rejected | held in doubt |
|---|---|---|---:|---:|---:|---:|---:|
| 2026-12-06 21:30 UTC, before any change | `1f8b99d` | holdout | 0.661 | 21.6% (108/501) | 12.0% (60/501) | 0.891 | 0.0% |
| | | tune | 0.679 | 20.3% (193/949) | 11.7% (111/949) | 0.911 | 0.0% |
| | | old set | 0.929 | 6.7% (27/406) | 0.5% (2/406) | 0.986 | 0.0% |
| 2026-12-06 22:34 UTC, at the end | `811eccb` | holdout | 0.858 | 3.4% (17/501) | 2.2% (11/501) | 0.899 | 22.2% (111/501) |
| | | tune | 0.901 | 1.9% (18/949) | 1.3% (12/949) | 1.000 | 19.1% (181/949) |
| | | old set | 0.901 | 3.9% (16/406) | 0.2% (1/406) | 0.972 | 16.7% (68/406) |
| 2026-12-07 04:31 UTC, at the end of the second round | `aec63c8` | holdout | 0.866 | 2.0% (10/501) | 2.6% (13/501) | 0.924 | 28.7% (144/501) |
| | | tune | 0.914 | 0.9% (9/949) | 1.2% (11/949) | 1.000 | 25.8% (245/949) |
| | | old set | 0.904 | 2.0% (8/406) | 0.2% (1/406) | 0.991 | 20.2% (82/406) |
| 2026-12-07 07:29 UTC, at the end of the third round (a learned model; not adopted) | branch `category-model` | holdout | 0.852 | 2.0% (10/501) | 2.6% (13/501) | 0.924 | 34.7% (174/501) |
| | | tune (the model's training data) | 0.936 | 0.5% (5/949) | 1.3% (12/949) | 1.000 | 29.8% (283/949) |
| | | old set | 0.916 | 2.5% (10/406) | 0.2% (1/406) | 0.991 | 26.6% (108/406) |
| 2026-12-07 10:15 UTC, at the end of the fourth round | `a3bbaed` | holdout | 0.876 | 1.8% (9/501) | 2.4% (12/501) | 0.933 | 27.9% (140/501) |
| | | tune | 0.949 | 0.8% (8/949) | 0.4% (4/949) | 0.996 | 24.1% (229/949) |
| | | old set | 0.906 | 2.5% (10/406) | 0.2% (1/406) | 0.995 | 19.5% (79/406) |
| | | dev set (tuned on) | 0.987 | 0.0% (0/230) | 0.0% (0/230) | 0.968 | 20.0% (46/230) |

The second round aimed at what generalises rather than at the tune split's misses: its doubt
thresholds were chosen on one half of the tune split and checked on the other half and the
old set, and its screening rules on 40 null messages written for the purpose (26 of them were
kept as memories before the round, 10 after) while the tune split's nulls were all rejected
already. It trades reach for privacy: fewer leaks, more memories held in doubt. Time per
message, measured back to back on the same loaded machine (1-minute load 4 to 5): the
extractor alone 11.4 to 14.5 ms (median) before the round, 13.3 to 15.5 ms after.

The third round tried a learned classifier and is not in this release: under the default
MiniLM, a seven-class softmax regression (the six categories and "nothing worth remembering")
fitted on the memories the rules draw from the tune split, beside the rules (a specific rule
cue never overruled; the model's probability margins feeding the doubt rule), its policy chosen
by five-fold cross-validation within the tune split. Out of fold it promised 0.920 accuracy and
0.6% leaks on the tune split (0.911 and 1.1% without it, same process), and 0.916 against 0.901
on the older set. On the holdout it did not deliver: accuracy fell from 0.866 to 0.852 (7
messages of 501), leaks, misses and rejections did not move, and 6 points more were held in
doubt. Other variants tried out of fold on the tune split (penalty strengths, nearest
neighbours, nearest centroids, training on the older set too) did no better than about 0.92: a
linear reading of MiniLM's vector seems to stop there. The holdout figures above stay those of
`aec63c8`, the code of the second round.

The fourth round tuned on a new set, `bench/data/messages_dev.jsonl` (416 messages, 186 of them
nulls, written before the extractor was run on them; its .md), and on the tune split's misses,
with rules read from the grammar rather than from phrases: remarks about the conversation
("that made me laugh", "I think you made a mistake", "I have a question about …"), questions
without "?" (an auxiliary before a subject that is no verb; ", what could it be"), passing
plans and states, one-off deeds and a problem brought with a question kept only on a specific
cue; status and kinship without "I", the user's own aim, taste or skill said with someone
("me and my husband want …", "… but honestly I prefer …", "my dad taught me …"), comparisons
and noun-phrase wishes as preferences, a habit whose taste after the comma is its reason. Its
"before", on this machine (an Intel Xeon; the earlier rows were measured on an AMD EPYC) with
the code at `c527ad0`: tune 0.911, leaks 1.1% (10/949), nothing extracted 1.3% (12/949),
worthless rejected 1.000; old set 0.901, 2.5% (10/406), 0.2% (1/406), 0.991; dev set 0.900,
2.2% (5/230), 1.7% (4/230), 0.806. Its holdout gain is a fraction of the tuned sets' (accuracy
+0.010, worthless rejected +0.009, one leak and one miss fewer): most of what the rules now catch
on the tune and dev sets does not recur there. The holdout figures of this release are those
of `a3bbaed`.

A fifth round (2026-12-07, not adopted; `bench/category_lexical.py` reproduces it) tried the
lever the third lacked, words themselves: a seven-class logistic regression on hashed word uni-
and bigrams and character 3–5-grams (robust to typos and lower case), with or without the MiniLM
vector, beside the rules, trained on the tune split, the dev set and the old set (2,210 messages)
and its use chosen out of fold. Out of fold it lifted accuracy from 0.944 to 0.951 (the model
overruling a weak cue at a margin of 0.5), left leaks and misses as they were and rejected no
more worthless messages; predicting each set from a model trained on the other two, the gain
shrank to 0.001. Letting its "nothing" class drop kept memories cost as many misses as it
removed worthless ones. Its probability margin fed into the doubt rule cut leaks (18 to 6 out of
fold) at the price of about 250 more messages held in doubt, a choice of privacy over reach
rather than a better reading. Nothing of it is wired in; the holdout, measured once at the end
in aggregate, is unchanged (the extractor is the same).

Before the first round, on the tune split: the extractor 0.27 ms per message (median; p90 10.0 ms),
an add 23.2 ms (median; p90 45.4 ms), at a 1-minute load of 4.7. The old set's labels differ
from messages_v2's in places (pets, dated exams): its accuracy fell where the new rules follow
messages_v2's.
"""

SET_NAMES = {
    "tune": "messages_v2, tune split",
    "holdout": "messages_v2, holdout split",
    "old": "extraction_sentences (old set)",
    "dev": "messages_dev (dev set)",
}


def render(results: dict[str, Figures], times: list[float], adds: list[float], command: str) -> str:
    lines = section_preamble(
        "Categories (the default extractor through the API, on labelled messages)",
        command,
        postgres=False,
        extra=["One `POST /v1/memories/add` per message (own end-user), read back with `GET /v1/memories`; "
               "in-process app, SQLite, local MiniLM embedder. Definitions in the script's docstring."],
    )
    lines += [
        "| set | worth remembering / worthless | category accuracy | leaks | nothing extracted | worthless rejected "
        "| held in doubt | reaches the right agent |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f in results.items():
        lines.append(
            f"| {SET_NAMES[name]} | {f.positives} / {f.negatives} | {share(f.accurate, f.positives)} "
            f"| {pct(f.leaked, f.positives)} | {pct(f.missed, f.positives)} | {share(f.rejected, f.negatives)} "
            f"| {pct(f.doubtful, f.positives)} | {pct(f.reached, f.positives)} |"
        )
    lines += ["", "Targets (issue 10, on the holdout): accuracy ≥ 0.95, leaks ≤ 2%, nothing extracted ≤ 2%, "
              "worthless rejected ≥ 0.98.", "", HISTORY.rstrip()]
    if times:
        ordered = sorted(times)
        lines += ["", f"Extractor time per message (rules + classifier, outside the API, one pass over "
                  f"{len(times)} messages, cold vector cache): median {1e3 * statistics.median(ordered):.2f} ms, "
                  f"p90 {1e3 * ordered[int(0.9 * (len(ordered) - 1))]:.2f} ms."]
    if adds:
        ordered = sorted(adds)
        lines += ["", f"`POST /v1/memories/add` per message, in process (extraction, embedding, writing; "
                  f"{len(adds)} adds): median {1e3 * statistics.median(ordered):.1f} ms, "
                  f"p90 {1e3 * ordered[int(0.9 * (len(ordered) - 1))]:.1f} ms. One pass each, on two cores "
                  f"shared with other work (1-minute load {os.getloadavg()[0]:.1f} at the end): indicative only."]
    if "tune" in results:
        lines += ["", "Confusion on the tune split (rows: label; columns: the category of the first memory stored):",
                  "", *confusion_table(results["tune"])]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--no-timing", action="store_true", help="skip the extractor's time per message")
    parser.add_argument("--show-errors", action="store_true", help="list the tune and dev sets' misses (never the holdout)")
    args = parser.parse_args(argv)
    splits = [s for s in args.splits.split(",") if s]
    if unknown := set(splits) - set(SETS):
        parser.error(f"unknown sets {sorted(unknown)}")
    messages = load(splits)
    harness = Harness()
    try:
        stored: dict[str, list[Stored]] = {}
        started = time.perf_counter()
        for number, message in enumerate(messages, 1):
            stored[message.id] = harness.store(message)
            if number % 200 == 0:
                print(f"  {number}/{len(messages)} messages, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        adds = harness.add_seconds
    finally:
        harness.close()
    results = {name: tally((m, stored[m.id]) for m in messages if m.split == name) for name in splits}
    times = [] if args.no_timing else extractor_times([m for m in messages if m.split == "tune"] or messages)
    body = render(results, times, adds, command_line("categories.py", argv))
    print(body)
    if args.show_errors:
        print("\nTune split and dev set, not handled exactly right:\n")
        for message in messages:
            if message.split not in LISTED:
                continue
            got = stored[message.id]
            cats = {m.category for m in got}
            right = (not got) if message.category == NONE else (message.category in cats and cats <= message.labels)
            if not right:
                shown = "; ".join(f"{'+'.join(sorted(m.required))}: {m.content}" for m in got) or NONE
                print(f"- [{message.split} {message.id}] {message.category} → {shown}: {message.text}")
    if not args.no_doc:
        write_section("categories", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
