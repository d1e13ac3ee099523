"""The embedding category classifier behind the rules, and the vector cache it shares with the add.

Decisions are checked with a small embedder whose vectors are set by hand (so each margin is
known), the whole path with the hashing embedder, and the filing of sentences without cue
words with the real default model. None of the sentences here comes from the benchmark's
labelled set.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from memoryos_server.engine.embeddings import HashingEmbedder, LocalMiniLMEmbedder
from memoryos_server.engine.extraction import CachedEmbedder, PrototypeClassifier, RuleBasedExtractor
from memoryos_server.engine.extraction.examples import EXAMPLES
from memoryos_server.engine.extraction.prototypes import NOT_WORTH_KEEPING, PROTOTYPES
from memoryos_server.engine.types import CATEGORIES, ChatMessage, Embedder, ExtractedMemory
from memoryos_server.errors import ServiceUnavailable

NOW = datetime(2025, 2, 1, 12, 0, tzinfo=timezone.utc)
DATA = Path(__file__).resolve().parents[3] / "bench" / "data" / "extraction_sentences.jsonl"
SEED = "Please remember that I prefer short, structured explanations and Python examples."


def user(content: str) -> ChatMessage:
    return ChatMessage(role="user", content=content)


class CountingEmbedder:
    """Another embedder, counting the texts it is asked for."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.embed(texts)


_EXAMPLE_MEMORIES = RuleBasedExtractor().example_memories()


class AxisEmbedder:
    """Training texts of category i (prototypes and examples) lie on axis i; other texts get the
    vector the test sets."""

    name = "axes"
    dim = len(CATEGORIES) + 1

    def __init__(self, placed: dict[str, np.ndarray] | None = None) -> None:
        self.placed = placed or {}
        self.axis = {
            text: CATEGORIES.index(c)
            for source in (PROTOTYPES, _EXAMPLE_MEMORIES)
            for c, texts in source.items()
            for text in texts
        }

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            if text in self.placed:
                out[row] = self.placed[text]
            elif text in self.axis:
                out[row, self.axis[text]] = 1.0
            else:
                out[row, -1] = 1.0  # like no training text at all
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def towards(**weights: float) -> np.ndarray:
    """A vector whose cosine with each category's training texts is the weight given."""
    vector = np.zeros(len(CATEGORIES) + 1, dtype=np.float32)
    for category, weight in weights.items():
        vector[CATEGORIES.index(category)] = weight
    vector[-1] = np.sqrt(max(0.0, 1.0 - float((vector**2).sum())))
    return vector


def first(extractor: RuleBasedExtractor, text: str) -> ExtractedMemory:
    memories = extractor.extract([user(text)], now=NOW)
    assert memories, text
    return memories[0]


# --- decisions, with vectors set by hand ------------------------------------------------------


# "Only buys secondhand books" fires no rule (fact, strength 0); "Lives in Oslo" a fact cue
# (strength 1); "Always runs the linter before pushing" a specific procedure cue (strength 2).
NO_CUE, WEAK_CUE, STRONG_CUE = "Only buys secondhand books", "Lives in Oslo", "Always runs the linter before pushing"


def test_without_an_embedder_the_rules_decide_alone() -> None:
    extractor = RuleBasedExtractor()
    assert extractor.classifier is None
    memory = first(extractor, "I only buy secondhand books")
    assert (memory.category, memory.confidence, memory.also_categories) == ("fact", 0.5, ())


def test_with_no_cue_a_clear_reading_overrules_the_fallback_without_doubt() -> None:
    placed = {NO_CUE: towards(preference=0.9)}
    memory = first(RuleBasedExtractor(embedder=AxisEmbedder(placed)), "I only buy secondhand books")
    # Filed by the classifier, it is as sure as a weak rule: more than the bare fallback.
    assert (memory.category, memory.confidence, memory.also_categories) == ("preference", 0.65, ())
    assert memory.importance == 6  # the preference base, not the fact one


def test_with_no_cue_an_even_reading_leaves_the_fallback_in_doubt() -> None:
    placed = {NO_CUE: towards(preference=0.5, fact=0.5)}
    memory = first(RuleBasedExtractor(embedder=AxisEmbedder(placed)), "I only buy secondhand books")
    assert (memory.category, memory.also_categories) == ("fact", ("preference",))


def test_a_weak_cue_needs_the_wider_margin_and_a_near_miss_is_doubted() -> None:
    near = first(RuleBasedExtractor(embedder=AxisEmbedder({WEAK_CUE: towards(goal=0.40, fact=0.33)})), "I live in Oslo")
    clear = first(RuleBasedExtractor(embedder=AxisEmbedder({WEAK_CUE: towards(goal=0.8, fact=0.2)})), "I live in Oslo")
    assert (near.category, near.also_categories) == ("fact", ("goal",))
    assert (clear.category, clear.also_categories) == ("goal", ())


def test_a_specific_cue_is_never_overruled_and_doubted_only_when_the_model_is_all_but_sure() -> None:
    leaning = first(
        RuleBasedExtractor(embedder=AxisEmbedder({STRONG_CUE: towards(expertise=0.3, procedure=0.3)})),
        "I always run the linter before pushing",
    )
    sure = first(
        RuleBasedExtractor(embedder=AxisEmbedder({STRONG_CUE: towards(expertise=0.9)})),
        "I always run the linter before pushing",
    )
    assert (leaning.category, leaning.also_categories) == ("procedure", ())
    assert (sure.category, sure.also_categories) == ("procedure", ("expertise",))


def test_it_never_files_a_relationship_but_may_doubt_one() -> None:
    placed = {NO_CUE: towards(relationship=0.9)}
    memory = first(RuleBasedExtractor(embedder=AxisEmbedder(placed)), "I only buy secondhand books")
    assert (memory.category, memory.also_categories) == ("fact", ("relationship",))


def test_someone_in_the_users_life_makes_another_category_doubtful() -> None:
    placed = {"Calls their grandmother every Sunday": towards(procedure=0.9)}
    memory = first(RuleBasedExtractor(embedder=AxisEmbedder(placed)), "I call my grandmother every Sunday")
    assert (memory.category, memory.also_categories) == ("procedure", ("relationship",))


def test_an_unavailable_embedder_leaves_the_rules_categories() -> None:
    class Down:
        name, dim = "down", 8

        def embed(self, texts: Sequence[str]) -> np.ndarray:
            raise ServiceUnavailable("the embedder is down")

    rules = RuleBasedExtractor().extract([user("I only buy secondhand books")], now=NOW)
    assert RuleBasedExtractor(embedder=Down()).extract([user("I only buy secondhand books")], now=NOW) == rules


# --- cost: what is embedded, and when --------------------------------------------------------------


def test_the_model_learns_once_on_first_use_and_memories_are_embedded_in_one_call() -> None:
    embedder = CountingEmbedder(HashingEmbedder())
    extractor = RuleBasedExtractor(embedder=embedder)
    assert embedder.calls == []  # nothing at construction
    messages = [user("I only buy secondhand books"), user("I prefer tea"), user("Spinach is not for me"), user("hi")]
    memories = extractor.extract(messages, now=NOW)
    training = sum(len(texts) for texts in PROTOTYPES.values()) + sum(len(t) for t in _EXAMPLE_MEMORIES.values())
    assert [len(call) for call in embedder.calls] == [3, training]  # the memories, then the training texts
    assert embedder.calls[0] == ["Only buys secondhand books", "Prefers tea", "Spinach is not for them"]
    extractor.extract(messages, now=NOW)
    assert [len(call) for call in embedder.calls] == [3, training, 3]
    assert len(memories) == 3


def test_prepare_learns_before_the_first_add() -> None:
    embedder = CountingEmbedder(HashingEmbedder())
    extractor = RuleBasedExtractor(embedder=embedder)
    extractor.classifier.prepare()  # type: ignore[union-attr]  # what Runtime.warm_up does
    prepared = len(embedder.calls)
    assert prepared == 2  # the training texts, the remarks about the world
    extractor.extract([user("I prefer tea")], now=NOW)
    assert embedder.calls[prepared:] == [["Prefers tea"]]


def test_the_model_learns_once_under_concurrent_first_use() -> None:
    embedder = CountingEmbedder(HashingEmbedder())
    classifier = PrototypeClassifier(embedder)
    threads = [threading.Thread(target=classifier.scores, args=(np.zeros((1, 384), np.float32),)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(embedder.calls) == 1


def test_the_model_is_the_same_every_time() -> None:
    vectors = HashingEmbedder().embed(["Owns a kayak", "Hates queues"])
    one = PrototypeClassifier(HashingEmbedder()).scores(vectors)
    two = PrototypeClassifier(HashingEmbedder()).scores(vectors)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_allclose(one.sum(axis=1), 1.0, rtol=1e-5)


def test_the_classifier_embeds_exactly_the_text_the_add_embeds_next() -> None:
    # ingest embeds ``memory.content.strip()``: the cache only helps if the strings match.
    inner = CountingEmbedder(HashingEmbedder())
    cached = CachedEmbedder(inner)
    extractor = RuleBasedExtractor(embedder=cached)
    with cached.scope():  # one add
        memories = extractor.extract([user("I only buy secondhand books"), user("Spinach is not for me")], now=NOW)
        before = len(inner.calls)
        vectors = cached.embed([m.content.strip() for m in memories])
    assert len(inner.calls) == before and vectors.shape == (2, 384)


def test_the_default_extractor_output_is_unchanged_without_an_embedder() -> None:
    texts = [json.loads(line)["text"] for line in DATA.read_text(encoding="utf-8").splitlines()]
    with_none = RuleBasedExtractor(embedder=None).extract([user(t) for t in texts], now=NOW)
    assert with_none == RuleBasedExtractor().extract([user(t) for t in texts], now=NOW)


def test_the_classifier_changes_categories_and_doubt_only() -> None:
    texts = [json.loads(line)["text"] for line in DATA.read_text(encoding="utf-8").splitlines()]
    rules = RuleBasedExtractor().extract([user(t) for t in texts], now=NOW)
    refined = RuleBasedExtractor(embedder=HashingEmbedder()).extract([user(t) for t in texts], now=NOW)
    # Fragments without an "I" are kept only with a classifier: compare the others.
    kept = {m.content for m in rules}
    refined = [m for m in refined if m.content in kept]
    assert [m.content for m in refined] == [m.content for m in rules]

    def rest(memories: list[ExtractedMemory]) -> list[object]:
        return [(m.valid_at, m.source_index, m.tags) for m in memories]

    assert rest(refined) == rest(rules)
    assert all(m.category in CATEGORIES and 0 <= m.confidence <= 1 for m in refined)
    assert all(m.category not in m.also_categories and set(m.also_categories) <= set(CATEGORIES) for m in refined)


# --- the prototypes ------------------------------------------------------------------------------


def test_prototypes_cover_every_category_in_the_extractors_own_phrasing() -> None:
    assert set(PROTOTYPES) == set(CATEGORIES)
    every = [text for texts in PROTOTYPES.values() for text in texts]
    assert len(every) == len({t.casefold() for t in every})
    for category, texts in PROTOTYPES.items():
        assert 25 <= len(texts) <= 60, category
        for text in texts:
            assert not re.match(r"(?:I|I'm|My|We|Our)\b", text), text  # third person, no subject
            assert not text.endswith((".", "!")), text


def test_prototypes_are_not_taken_from_the_benchmark() -> None:
    def runs(text: str, n: int = 5) -> set[str]:
        words = re.findall(r"[a-z0-9']+", text.lower())
        return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}

    labelled = set().union(*(runs(json.loads(line)["text"]) for line in DATA.read_text(encoding="utf-8").splitlines()))
    shared = {text for texts in PROTOTYPES.values() for text in texts if runs(text) & labelled}
    assert not shared


def test_examples_are_not_taken_from_either_benchmark_set() -> None:
    def runs(text: str, n: int = 5) -> set[str]:
        words = re.findall(r"[a-z0-9']+", text.lower())
        return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}

    labelled: set[str] = set()
    for path in (DATA, DATA.with_name("messages_v2.jsonl"), DATA.with_name("messages_dev.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            labelled |= runs(json.loads(line)["text"])
    written = [text for texts in EXAMPLES.values() for text in texts] + list(NOT_WORTH_KEEPING)
    assert len(written) == len({t.casefold() for t in written})
    assert set(EXAMPLES) == set(CATEGORIES)
    assert not [text for text in written if runs(text) & labelled]


# --- the vector cache ---------------------------------------------------------------------------


def test_cache_returns_the_inner_vectors_and_embeds_each_text_once() -> None:
    inner = CountingEmbedder(HashingEmbedder())
    cached = CachedEmbedder(inner, maxsize=10)
    assert isinstance(cached, Embedder) and (cached.name, cached.dim) == ("hashing-384", 384)
    with cached.scope():
        first_pass = cached.embed(["alpha beta", "gamma"])
        again = cached.embed(["gamma", "delta", "alpha beta", "delta"])
    assert inner.calls == [["alpha beta", "gamma"], ["delta"]]  # the repeat within a call too
    np.testing.assert_array_equal(again, HashingEmbedder().embed(["gamma", "delta", "alpha beta", "delta"]))
    np.testing.assert_array_equal(first_pass[0], again[2])
    assert (cached.hits, cached.misses) == (2, 4)


def test_cache_is_bounded_and_forgets_the_least_recently_used() -> None:
    inner = CountingEmbedder(HashingEmbedder())
    cached = CachedEmbedder(inner, maxsize=2)
    with cached.scope():
        cached.embed(["a one"])
        cached.embed(["b two"])
        cached.embed(["a one"])  # now the most recent
        cached.embed(["c three"])  # evicts "b two"
        inner.calls.clear()
        cached.embed(["a one", "c three", "b two"])
    assert inner.calls == [["b two"]]


def test_callers_cannot_corrupt_the_cache() -> None:
    cached = CachedEmbedder(HashingEmbedder())
    with cached.scope():
        vectors = cached.embed(["some text"])
        vectors[:] = 0.0
        assert np.linalg.norm(cached.embed(["some text"])[0]) == pytest.approx(1.0, abs=1e-5)


def test_nothing_is_remembered_from_one_operation_to_the_next() -> None:
    """A vector kept after its operation would come back sooner to the next caller who embeds
    the same text, someone else's: a timing oracle on what others have stored."""
    inner = CountingEmbedder(HashingEmbedder())
    cached = CachedEmbedder(inner)
    with cached.scope():  # one tenant's add
        cached.embed(["Patient 7 was diagnosed with asthma"])
    cached.embed(["Patient 7 was diagnosed with asthma"])  # outside any operation: no memory
    with cached.scope():  # another caller's operation
        cached.embed(["Patient 7 was diagnosed with asthma"])
    assert len(inner.calls) == 3
    results: list[int] = []

    def other_thread() -> None:  # an operation running at the same time in another thread
        before = len(inner.calls)
        cached.embed(["Held in the first scope only"])
        results.append(len(inner.calls) - before)

    with cached.scope():
        cached.embed(["Held in the first scope only"])
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert results == [1]


def test_a_scope_is_seeded_with_the_vectors_its_operation_prepared() -> None:
    inner = CountingEmbedder(HashingEmbedder())
    cached = CachedEmbedder(inner)
    prepared = HashingEmbedder().embed(["Keeps bees"])[0]
    with cached.scope({"Keeps bees": prepared}):
        with cached.scope():  # a nested scope joins the open one
            np.testing.assert_array_equal(cached.embed(["Keeps bees"])[0], prepared)
    assert inner.calls == []


def test_cache_keeps_no_plaintext_and_refuses_a_bare_string() -> None:
    cached = CachedEmbedder(HashingEmbedder())
    with cached.scope():
        cached.embed(["Allergic to penicillin"])
        kept = _remembered(cached)
    assert len(kept) == 1 and all(isinstance(key, bytes) and b"penicillin" not in key for key in kept)
    with pytest.raises(TypeError):
        cached.embed("a string")
    assert cached.embed([]).shape == (0, 384)


def test_cache_passes_a_malformed_answer_through_uncached() -> None:
    class Short:
        name, dim = "short", 4

        def embed(self, texts: Sequence[str]) -> np.ndarray:
            return np.zeros((0, 4), dtype=np.float32)

    cached = CachedEmbedder(Short())
    with cached.scope():
        assert cached.embed(["x"]).shape == (0, 4)
        assert not _remembered(cached)


def _remembered(cached: CachedEmbedder) -> list[bytes]:
    """The keys the open scope holds for ``cached``."""
    from memoryos_server.engine.extraction import cached_embedder

    scopes = cached_embedder._SCOPES.get()
    return list((scopes or {}).get(id(cached), {}))


# --- wiring in the runtime -----------------------------------------------------------------------


def _runtime(tmp_path: Path, embedder: str):  # type: ignore[no-untyped-def]
    from memoryos_server.services.runtime import Runtime
    from memoryos_server.settings import Settings

    settings = Settings(
        data_dir=tmp_path,
        embedder=embedder,  # type: ignore[arg-type]
        model_cache_dir=tmp_path / "models",
    )
    # Only the embedder and the extractor are under test: nothing here touches storage or keys.
    return Runtime(settings, None, None, None, None, None, b"")  # type: ignore[arg-type]


def test_runtime_gives_the_inline_extractor_its_cached_embedder_without_loading_the_model(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, "local")
    extractor = runtime.extractor
    assert isinstance(runtime.embedder, CachedEmbedder)
    assert isinstance(runtime.embedder.inner, LocalMiniLMEmbedder)
    assert extractor.classifier.embedder is runtime.embedder  # type: ignore[attr-defined]
    assert runtime.embedder.inner._runtime is None  # built, not loaded
    assert not (tmp_path / "models").exists()


def test_runtime_keeps_the_hashing_embedder_bare_and_the_rules_alone(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, "hashing")
    assert isinstance(runtime.embedder, HashingEmbedder)
    assert runtime.extractor.classifier is None  # type: ignore[attr-defined]


def test_runtime_rebuilds_the_extractor_around_a_new_embedder(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, "hashing")
    assert runtime.extractor.classifier is None  # type: ignore[attr-defined]
    replacement = LocalMiniLMEmbedder(tmp_path / "other")
    runtime.use_embedder(replacement)
    assert isinstance(runtime.embedder, CachedEmbedder) and runtime.embedder.inner is replacement
    assert runtime.extractor.classifier.embedder is runtime.embedder  # type: ignore[attr-defined]


# --- with the real default model -------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> LocalMiniLMEmbedder:
    return LocalMiniLMEmbedder(tmp_path_factory.mktemp("minilm-classifier"))


# Said without any of the rules' cue words; none of these is in the benchmark. (Not every such
# sentence is filed: past accomplishments on topics far from the prototypes, "Wrote the
# firmware for a medical pump", still stay facts.)
WITHOUT_CUES = [
    ("Sweets are my downfall.", "preference"),
    ("Noisy restaurants wear me out.", "preference"),
    ("I keep my notes in plain text files and sync them with git.", "procedure"),
    ("I balance my chequebook with a pencil and a calculator.", "procedure"),
    ("Buying a flat before I turn thirty is the dream.", "goal"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("text", "category"), WITHOUT_CUES)
def test_minilm_files_sentences_without_cue_words(minilm: LocalMiniLMEmbedder, text: str, category: str) -> None:
    extractor = RuleBasedExtractor(embedder=minilm)
    assert first(RuleBasedExtractor(), text).category == "fact"  # what the rules alone say
    assert first(extractor, text).category == category


@pytest.mark.slow
def test_minilm_torn_between_two_categories_files_one_and_doubts_the_other(minilm: LocalMiniLMEmbedder) -> None:
    # The model gives this about as much to goal ("could …") as to expertise, and which comes
    # first moves with the numeric libraries' versions; what must not move is that the memory
    # carries both, so it reaches only an agent granted both (SPEC §7).
    memory = first(RuleBasedExtractor(embedder=minilm), "I could rebuild a carburettor with my eyes closed.")
    assert {memory.category, *memory.also_categories} >= {"goal", "expertise"}


@pytest.mark.slow
def test_minilm_leaves_clear_cases_and_plain_facts_alone(minilm: LocalMiniLMEmbedder) -> None:
    extractor = RuleBasedExtractor(embedder=minilm)
    assert first(extractor, SEED).category == "preference"
    for text, category in [
        ("My brother lives in Leeds.", "relationship"),
        ("I've shipped Kotlin backends to production.", "expertise"),
        ("I want to learn Korean.", "goal"),
        ("I'm allergic to shellfish.", "fact"),
        ("My passport expires in June.", "fact"),
        ("I live in Porto.", "fact"),
    ]:
        assert first(extractor, text).category == category, text
