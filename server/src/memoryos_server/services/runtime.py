"""Everything a service needs, built once per process from the settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from memoryos_server.crypto import KeyWrapper, LoadedMasterKey, Passwords, TokenHasher, derive_key, load_or_create_master_key
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
                    self._embedder = build_embedder(
                        s.embedder,
                        cache_dir=s.resolved_model_cache_dir,
                        base_url=s.embedding_base_url,
                        model=s.embedding_model,
                        api_key=s.embedding_api_key.get_secret_value() if s.embedding_api_key else None,
                        dim=s.embedding_dim,
                        threads=s.embedding_threads,
                    )
        return self._embedder

    def use_embedder(self, embedder: Embedder) -> None:
        self._embedder = embedder

    @property
    def extractor(self) -> Extractor:
        """The inline (default) extractor: rule-based, no network."""
        if self._extractor is None:
            with self._lock:
                if self._extractor is None:
                    from memoryos_server.engine.extraction import RuleBasedExtractor

                    self._extractor = RuleBasedExtractor()
        return self._extractor

    def close(self) -> None:
        self.db.dispose()


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
