"""Everything a service needs, built once per process from the settings."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from memoryos_server.crypto import KeyWrapper, LoadedMasterKey, Passwords, TokenHasher, derive_key, load_or_create_master_key
from memoryos_server.engine.retrieval.answerable import NO_FLOOR, AnswerabilityModel, SearchFloor
from memoryos_server.settings import Settings
from memoryos_server.storage.db import Database
from memoryos_server.storage.vault import Vault

if TYPE_CHECKING:
    from memoryos_server.engine.types import Embedder, Extractor


@dataclass
class Runtime:
    settings: Settings
    db: Database
    master: LoadedMasterKey
    vault: Vault
    hasher: TokenHasher
    passwords: Passwords
    jwt_key: bytes
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _embedder: Embedder | None = field(default=None, repr=False)
    _extractor: Extractor | None = field(default=None, repr=False)

    @property
    def embedder(self) -> Embedder:
        """The configured embedder, built on first use (model loading is not import-time work)."""
        if self._embedder is None:
            with self._lock:
                if self._embedder is None:
                    from memoryos_server.engine.embeddings import build_embedder

                    s = self.settings
                    self._embedder = _cached(
                        build_embedder(
                            s.embedder,
                            cache_dir=s.resolved_model_cache_dir,
                            base_url=s.embedding_base_url,
                            model=s.embedding_model,
                            api_key=s.embedding_api_key.get_secret_value() if s.embedding_api_key else None,
                            dim=s.embedding_dim,
                            threads=s.embedding_threads,
                        )
                    )
        return self._embedder

    def use_embedder(self, embedder: Embedder) -> None:
        self._embedder = _cached(embedder)
        self._extractor = None  # rebuilt around the new embedder

    @property
    def extractor(self) -> Extractor:
        """The inline (default) extractor: rule-based, no network. With a semantic embedder
        (not the hashing one, which only sees shared words) its category classifier files what
        the rules are unsure of; within one add's embedding scope, the add then takes those
        vectors instead of embedding the texts again (``CachedEmbedder``)."""
        if self._extractor is None:
            embedder = self.classifier_embedder  # outside the lock, which the property takes itself
            with self._lock:
                if self._extractor is None:
                    from memoryos_server.engine.extraction import RuleBasedExtractor

                    self._extractor = RuleBasedExtractor(embedder=embedder)
        return self._extractor

    @property
    def classifier_embedder(self) -> Embedder | None:
        """The embedder extractors may file unsure categories with: None for the lexical one."""
        embedder = self.embedder
        return None if _lexical(embedder) else embedder

    @property
    def search_floor(self) -> SearchFloor:
        """The floor searches use unless a request sets its own ``min_relevance``: the
        ``retrieval_min_relevance`` setting as a plain floor on the best relevance, else the
        embedder's calibrated answerability model (its cutoff replaced by
        ``retrieval_min_answerability`` when set; 0 turns it off), else none."""
        if self.settings.retrieval_min_relevance is not None:
            return SearchFloor(min_relevance=self.settings.retrieval_min_relevance)
        embedder = self.embedder
        model: AnswerabilityModel | None = getattr(getattr(embedder, "inner", embedder), "answerability", None)
        cutoff = self.settings.retrieval_min_answerability
        if model is None or cutoff == 0:
            return NO_FLOOR
        return SearchFloor(model=model if cutoff is None else dataclasses.replace(model, cutoff=cutoff))

    def warm_up(self) -> None:
        """Load the embedder and the extractor now (a first start builds the ONNX model, a few
        seconds), so the first add or search does not wait for it."""
        self.embedder.embed(["warm up"])
        classifier = getattr(self.extractor, "classifier", None)
        if classifier is not None:
            classifier.prepare()  # the category model learns from its examples (under a second)

    def close(self) -> None:
        self.db.dispose()


def _cached(embedder: Embedder) -> Embedder:
    """A semantic embedder behind a vector cache that lasts one operation (the extractor's
    classifier and the add then embed each text once; nothing outlives the operation, see
    ``CachedEmbedder``); the hashing one, cheap and only lexical, as it is."""
    from memoryos_server.engine.extraction import CachedEmbedder

    return embedder if _lexical(embedder) or isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder)


def _lexical(embedder: Embedder) -> bool:
    from memoryos_server.engine.embeddings import HashingEmbedder
    from memoryos_server.engine.extraction import CachedEmbedder

    return isinstance(embedder.inner if isinstance(embedder, CachedEmbedder) else embedder, HashingEmbedder)


def build_runtime(settings: Settings, *, database: Database | None = None) -> Runtime:
    master = load_or_create_master_key(
        settings.master_key.get_secret_value() if settings.master_key else None, settings.data_dir
    )
    db = database or Database(settings.resolved_database_url)
    return Runtime(
        settings=settings,
        db=db,
        master=master,
        vault=Vault(KeyWrapper(master.key)),
        hasher=TokenHasher(master.key),
        passwords=Passwords(
            time_cost=settings.argon2_time_cost,
            memory_cost_kib=settings.argon2_memory_cost_kib,
            parallelism=settings.argon2_parallelism,
        ),
        jwt_key=derive_key(master.key, "jwt-signing"),
    )
