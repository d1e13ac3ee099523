"""Build the MiniLM ONNX files once and keep them in a cache directory.

A cache file's name carries a digest of the weights and ``BUILDER_VERSION``, so new weights or
a changed builder simply miss the cache and build afresh. Files are written under a temporary
name and renamed into place: two processes building at once each produce a whole file, and
whichever rename lands last wins, so no reader ever sees half a model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from memoryos_server.engine.embeddings._model_files import MiniLMFiles

# Bump whenever the graph builder or the quantization settings change what is written.
BUILDER_VERSION = 2
_MODEL_STEM = "all-MiniLM-L6-v2"
_DIGEST_MEMO = "weights-digest.json"
_SCRATCH_MAX_AGE_SECONDS = 3600


def cached_model_path(cache_dir: Path, weights_digest: str, *, quantized: bool) -> Path:
    return cache_dir / f"{_variant_prefix(quantized)}{weights_digest[:16]}-b{BUILDER_VERSION}.onnx"


def _variant_prefix(quantized: bool) -> str:
    return f"{_MODEL_STEM}-{'int8' if quantized else 'fp32'}-"


def weights_digest(weights: Path, cache_dir: Path) -> str:
    """SHA-256 of the weights file, remembered against its size and mtime.

    Hashing 90 MB costs about 0.15 s, as much as loading the model, so a warm start reuses the
    digest while the file's stat is unchanged (a reinstall writes a new file, new mtime).
    """
    stat = weights.stat()
    fingerprint = {"path": str(weights.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    memo_path = cache_dir / _DIGEST_MEMO
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = None
    if isinstance(memo, dict) and memo.get("fingerprint") == fingerprint and isinstance(memo.get("sha256"), str):
        return memo["sha256"]

    with weights.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    payload = json.dumps({"fingerprint": fingerprint, "sha256": digest}).encode()
    _write_atomically(memo_path, lambda tmp: tmp.write_bytes(payload))
    return digest


def build_cached_model(files: MiniLMFiles, target: Path, *, quantized: bool) -> None:
    """Build the ONNX model from ``files`` and place it at ``target`` atomically."""
    # Imported here: onnx and the builder are only needed on a cache miss.
    import onnx

    from memoryos_server.engine.embeddings._bert_graph import BertConfig, build_bert_onnx
    from memoryos_server.engine.embeddings._safetensors import read_safetensors

    model = build_bert_onnx(read_safetensors(files.weights), BertConfig.from_file(files.config))
    if not quantized:
        _write_atomically(target, lambda tmp: tmp.write_bytes(model.SerializeToString()))
        return
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as scratch:
        fp32_path = Path(scratch) / "fp32.onnx"
        onnx.save(model, fp32_path)
        _write_atomically(target, lambda tmp: _quantize(fp32_path, tmp))


def remove_stale_models(keep: Path, *, quantized: bool) -> None:
    """Delete other builds of the same variant and scratch files a killed build left behind.

    Another process may be building right now, so scratch younger than an hour stays, and a
    failure to delete anything is ignored.
    """
    cutoff = time.time() - _SCRATCH_MAX_AGE_SECONDS
    for path in keep.parent.iterdir():
        try:
            if path.name.startswith(_variant_prefix(quantized)) and path.suffix == ".onnx" and path != keep:
                path.unlink()
            elif path.name.startswith(".") and path.name.endswith(".tmp") and path.stat().st_mtime < cutoff:
                path.unlink()
            elif path.name.startswith(".build-") and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def _quantize(source: Path, destination: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from memoryos_server.engine.embeddings._row_quantization import quantize_activations_per_row

    # Weights, measured against the fp32 graph on 32 sentences (short, long, empty, non-Latin):
    #   per-tensor  QInt8   mean cosine 0.950 (min 0.85): the FFN output weights carry outliers
    #                       up to 7.9 beside a median of 0.03, so one scale per tensor rounds
    #                       most of them to zero;
    #   per-tensor  QUInt8  0.975 (min 0.94);
    #   per-channel QUInt8  0.990 (min 0.97), but 1.7-2.2x slower than QInt8 on this CPU;
    #   per-channel QInt8   0.990 (min 0.97), and 0.993 (min 0.98) on 500 memory-like texts:
    #                       the choice below.
    # MatMul only: with MatMulConstBOnly (the default for dynamic quantization) that is the
    # weight projections; the attention products between activations stay in float.
    # Activations are then requantized per row (see _row_quantization): on 500 memory-like
    # texts, queries and chat turns the mean cosine to fp32 goes from 0.993 to 0.997, and a
    # text's vector no longer depends on its batch. Measured in CPU seconds on one thread, that
    # costs ~15% per text at batch 1 (255 against 300 texts/s) and ~15% at batch 32 (425
    # against 500), while batches of 32 run 1.6x faster than texts one at a time.
    with _quiet_preprocessing_advice():
        quantize_dynamic(
            source,
            destination,
            op_types_to_quantize=["MatMul"],
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
    model = onnx.load(destination)
    onnx.save(quantize_activations_per_row(model), destination)


class _DropPreprocessingAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider to run pre-processing")


@contextmanager
def _quiet_preprocessing_advice() -> Iterator[None]:
    # quantize_dynamic logs, on the root logger, advice to run its pre-processing step, which
    # serves static quantization and needs sympy; for dynamic quantization of this graph it
    # changes nothing, and operators could not act on the warning anyway.
    root = logging.getLogger()
    advice_filter = _DropPreprocessingAdvice()
    root.addFilter(advice_filter)
    try:
        yield
    finally:
        root.removeFilter(advice_filter)


def _write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        # mkstemp creates 0600; the cache holds public model data that a service account
        # other than the builder's may need to read.
        tmp.chmod(0o644)
        # Flush to disk before the rename so a crash cannot leave a complete-looking name
        # pointing at incomplete data.
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
