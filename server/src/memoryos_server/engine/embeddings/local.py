"""The default embedder: all-MiniLM-L6-v2 run by ONNX Runtime, with no torch anywhere.

Nothing happens at import or construction time. The first ``embed`` (or ``load``) finds the
model files, builds the ONNX graph into ``cache_dir`` if no valid build is there, and opens
one inference session for the life of the object; later calls reuse it from any thread.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from memoryos_server.engine.embeddings._graph_io import ATTENTION_MASK, INPUT_IDS, OUTPUT
from memoryos_server.engine.embeddings._errors import EmbeddingModelMissing
from memoryos_server.engine.embeddings._model_files import MiniLMFiles, find_minilm_files
from memoryos_server.engine.embeddings._onnx_cache import (
    build_cached_model,
    cached_model_path,
    remove_stale_models,
    weights_digest,
)
from memoryos_server.engine.embeddings._vectors import as_text_list, empty_vectors
from memoryos_server.engine.retrieval.answerable import ANSWERABILITY

if TYPE_CHECKING:  # both are imported on first use, not when this module loads
    from onnxruntime import InferenceSession
    from tokenizers import Tokenizer

MINILM_DIM = 384
# sentence-transformers cuts this model's input at 256 word pieces (sentence_bert_config.json);
# the position table itself has 512 rows.
DEFAULT_MAX_TOKENS = 256
MAX_POSITIONS = 512
# Texts are sorted by length and run in batches this large: big enough to keep the matrix
# kernels busy, small enough that a long text pads few others. Batching changes no vector:
# fp32 is exact, and int8 quantizes each token row on its own (_row_quantization), so a text
# embeds the same alone or beside any others.
DEFAULT_BATCH_SIZE = 32


def default_threads() -> int:
    """Intra-op threads: every core, up to two.

    Measured on the 2-core reference machine, int8, memory-like texts of 5 to 45 words, idle
    machine: one thread 3.2 ms a query and 320 texts/s in batches; two threads without spin
    waiting 3.3 ms and 560 texts/s. Past two, the server's own request threads need the
    remaining cores more than one embedding call does.
    """
    return max(1, min(2, os.cpu_count() or 1))


@dataclass(frozen=True, slots=True)
class _Runtime:
    session: InferenceSession
    tokenizer: Tokenizer
    model_path: Path


class LocalMiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions, mean pooled, unit length).

    ``cache_dir`` keeps the built ONNX files; ``quantized`` picks int8 (default) or fp32;
    ``threads`` sets ONNX Runtime's intra-op threads (default: cores, up to two);
    ``batch_size`` texts run together (default 32);
    ``max_tokens`` overrides the model's 256 word-piece limit; ``model_dir`` points at model
    files other than the installed wheel's; ``spin_wait`` lets idle worker threads spin.
    """

    name = "all-MiniLM-L6-v2"
    dim = MINILM_DIM
    # Searches with this model return nothing when this model, fitted on its cosines, finds the
    # query unanswerable (engine.retrieval.answerable; bench/calibrate_floor.py).
    answerability = ANSWERABILITY

    def __init__(
        self,
        cache_dir: Path,
        *,
        quantized: bool = True,
        threads: int | None = None,
        batch_size: int | None = None,
        max_tokens: int | None = None,
        model_dir: Path | None = None,
        spin_wait: bool = False,
    ) -> None:
        if batch_size is None:
            batch_size = DEFAULT_BATCH_SIZE
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1")
        if max_tokens is not None and not 2 < max_tokens <= MAX_POSITIONS:
            raise ValueError(f"max_tokens must be between 3 and {MAX_POSITIONS}")
        self.cache_dir = Path(cache_dir)
        self.quantized = quantized
        self.threads = threads or default_threads()
        self.batch_size = batch_size
        self.spin_wait = spin_wait
        self._max_tokens = max_tokens
        self._model_dir = model_dir
        self._runtime: _Runtime | None = None
        self._lock = threading.Lock()

    @property
    def model_path(self) -> Path:
        """The ONNX file in use (loads the model if it is not loaded yet)."""
        return self._load().model_path

    def load(self) -> None:
        """Build or open the model now instead of on the first ``embed``."""
        self._load()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = as_text_list(texts)
        if not items:
            return empty_vectors(self.dim)
        runtime = self._load()
        # One text at a time, not encode_batch: the batch call starts the tokenizer's own
        # thread pool, which competes with ONNX Runtime's threads for the same cores.
        token_ids = [np.asarray(runtime.tokenizer.encode(text).ids, dtype=np.int64) for text in items]

        out = np.empty((len(items), self.dim), dtype=np.float32)
        # Sorting by length makes each batch's padding (to its own longest text) small.
        order = sorted(range(len(items)), key=lambda i: len(token_ids[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            ids, mask = _pad([token_ids[i] for i in rows])
            (vectors,) = runtime.session.run([OUTPUT], {INPUT_IDS: ids, ATTENTION_MASK: mask})
            out[rows] = vectors
        return out

    # --- loading --------------------------------------------------------------------------

    def _load(self) -> _Runtime:
        runtime = self._runtime
        if runtime is not None:
            return runtime
        with self._lock:
            if self._runtime is None:
                self._runtime = self._open()
            return self._runtime

    def _open(self) -> _Runtime:
        files = find_minilm_files(self._model_dir)
        max_tokens = self._max_tokens or _configured_max_tokens(files)
        _check_mean_pooling(files)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        path = cached_model_path(self.cache_dir, weights_digest(files.weights, self.cache_dir), quantized=self.quantized)
        session = self._open_or_build(files, path)
        return _Runtime(session=session, tokenizer=_open_tokenizer(files, max_tokens), model_path=path)

    def _open_or_build(self, files: MiniLMFiles, path: Path) -> InferenceSession:
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf

        if path.is_file():
            try:
                return self._session(path)
            except (InvalidProtobuf, InvalidGraph, Fail):
                # A damaged cache file (disk trouble, a copy cut short) is rebuilt, not fatal.
                pass
        build_cached_model(files, path, quantized=self.quantized)
        remove_stale_models(path, quantized=self.quantized)
        return self._session(path)

    def _session(self, path: Path) -> InferenceSession:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        # Batches run one after another; parallelism lives inside each operator.
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads spin by default. On an idle 2-core machine that saves about 1 ms a
        # query (2.3 vs 3.3 ms), but beside a database and request handlers the spinning
        # threads fight them for the cores: queries measured 18-23 ms with spinning against
        # 4-7 ms without, under the same load. A server shares its cores, so it stays off.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin_wait else "0")
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _pad(sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    longest = max(len(s) for s in sequences)
    ids = np.zeros((len(sequences), longest), dtype=np.int64)  # 0 is [PAD]
    mask = np.zeros((len(sequences), longest), dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return ids, mask


def _open_tokenizer(files: MiniLMFiles, max_tokens: int) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(files.tokenizer))
    # tokenizer.json ships with truncation at 128 and fixed padding to 128; the model reads up
    # to 256 word pieces and we pad per batch ourselves, so both settings are replaced.
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    return tokenizer


def _configured_max_tokens(files: MiniLMFiles) -> int:
    try:
        raw = json.loads(files.sentence_config.read_text(encoding="utf-8"))
        return int(raw["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_MAX_TOKENS


def _check_mean_pooling(files: MiniLMFiles) -> None:
    try:
        pooling = json.loads(files.pooling_config.read_text(encoding="utf-8"))
    except OSError:
        return  # no pooling file: the model card's mean pooling is assumed
    except ValueError as exc:
        raise EmbeddingModelMissing(f"{files.pooling_config} is not valid JSON") from exc
    if not pooling.get("pooling_mode_mean_tokens", False):
        raise EmbeddingModelMissing(f"{files.pooling_config} asks for a pooling other than mean pooling")
