"""Fast encoding of a few short texts (questions, words, sentences): the query-time path.

`SentenceTransformer.encode` costs about 20 ms for one question on two cores, most of it
machinery around a 6 ms forward pass. For a model laid out as Transformer -> mean Pooling ->
Normalize (all-MiniLM-L6-v2 is), this module runs the same computation directly: the fast
tokenizer from `tokenizer.json`, one forward pass (PyTorch, or ONNX Runtime exported locally
from the same weights), mean pooling over the attention mask, L2 normalization. Recently
encoded texts are kept in a bounded LRU cache.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from rag.errors import ModelNotFound
from rag.lru import Lru
from rag.onnx_quant import quantize_int8

Backend = Literal["auto", "torch", "onnx", "onnx-int8"]
logger = logging.getLogger(__name__)
ONNX_OPSET = 17
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class ShortTextEncoder(Protocol):
    tokens: Tokens

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def with_threads(self, threads: int) -> ShortTextEncoder: ...


class VectorCache(Lru[str, np.ndarray]):
    """An LRU map text -> read-only float32 vector; size 0 keeps nothing.

    >>> cache = VectorCache(1)
    >>> cache.put("a", np.ones(2, np.float32)); cache.put("b", np.zeros(2, np.float32))
    >>> cache.get("a") is None, float(cache.get("b").sum())
    (True, 0.0)
    """

    def put(self, key: str, value: np.ndarray) -> None:  # type: ignore[override]
        vector = np.array(value, dtype=np.float32)
        vector.flags.writeable = False
        super().put(key, vector)


class Pinned(Protocol):
    def get(self, text: str) -> np.ndarray | None: ...


class CachedEncoder:
    """A short-text encoder behind an LRU cache, in batches of at most `batch` texts; texts
    in `pinned` (a fixed table, such as rag/word_table.py's) are looked up, not encoded."""

    def __init__(
        self,
        encoder: ShortTextEncoder,
        cache_size: int,
        batch: int = 64,
        pinned: Pinned | None = None,
    ) -> None:
        self.encoder = encoder
        self.cache = VectorCache(cache_size)
        self.batch = batch
        self.pinned = pinned

    def lookup(self, text: str) -> np.ndarray | None:
        if self.pinned is not None and (vector := self.pinned.get(text)) is not None:
            return vector
        return self.cache.get(text)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        found = [self.lookup(t) for t in texts]
        missing = list(dict.fromkeys(t for t, v in zip(texts, found, strict=True) if v is None))
        fresh: dict[str, np.ndarray] = {}
        if missing:
            parts = [
                self.encoder.encode(missing[i : i + self.batch])
                for i in range(0, len(missing), self.batch)
            ]
            fresh = dict(zip(missing, np.concatenate(parts), strict=True))
            for text, vector in fresh.items():
                self.cache.put(text, vector)
        rows = [fresh[t] if v is None else v for t, v in zip(texts, found, strict=True)]
        return np.stack(rows).astype(np.float32, copy=False)


class Tokens:
    """The model's fast tokenizer, giving batches without padding: texts of the same length
    in tokens go through the model together.

    Padding a batch to its longest text wastes most of the work when lengths vary (a word
    is 3 tokens, a sentence 20 to 120): on the answerer's sentences this halves the time.
    """

    def __init__(self, tokenizer_json: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.no_padding()

    def by_length(self, texts: Sequence[str]) -> list[tuple[list[int], dict[str, np.ndarray]]]:
        """(positions in `texts`, model inputs) for each group of texts of one length."""
        groups: dict[int, list[int]] = {}
        encodings = self.tokenizer.encode_batch(list(texts))
        for i, encoding in enumerate(encodings):
            groups.setdefault(len(encoding.ids), []).append(i)
        batches = []
        for rows in groups.values():
            ids = np.array([encodings[i].ids for i in rows], dtype=np.int64)
            types = np.array([encodings[i].type_ids for i in rows], dtype=np.int64)
            inputs = {
                "input_ids": ids,
                "attention_mask": np.ones_like(ids),
                "token_type_ids": types,
            }
            batches.append((rows, inputs))
        return batches


def encode_by_length(
    tokens: Tokens, texts: Sequence[str], forward: Callable[[dict[str, np.ndarray]], np.ndarray]
) -> np.ndarray:
    """Pooled, normalized vectors of `texts`, one forward pass per length group."""
    out: np.ndarray | None = None
    for rows, inputs in tokens.by_length(texts):
        pooled = mean_pool_normalize(forward(inputs), inputs["attention_mask"])
        if out is None:
            out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
        out[rows] = pooled
    assert out is not None, "encode_by_length needs at least one text"
    return out


def mean_pool_normalize(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the token vectors under the mask, L2-normalized (sentence-transformers' math)."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(pooled / norms, dtype=np.float32)


class TorchEncoder:
    """The model's transformer called directly, without `SentenceTransformer.encode` around it."""

    def __init__(self, transformer: Any, tokens: Tokens) -> None:
        self.transformer = transformer
        self.tokens = tokens

    def with_threads(self, threads: int) -> TorchEncoder:
        return self  # PyTorch's own thread pool serves both

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        def forward(batch: dict[str, np.ndarray]) -> np.ndarray:
            inputs = {k: torch.from_numpy(v) for k, v in batch.items()}
            return self.transformer(**inputs).last_hidden_state.numpy()

        with torch.inference_mode():
            return encode_by_length(self.tokens, texts, forward)


class OnnxEncoder:
    """The same forward pass in ONNX Runtime."""

    def __init__(self, onnx_file: Path, tokens: Tokens, threads: int = 1) -> None:
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]
        except ImportError as exc:
            raise ModelNotFound(
                "RAG_EMBEDDING_BACKEND=onnx needs ONNX Runtime: pip install onnxruntime onnx"
            ) from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        if threads > 1:
            # ONNX Runtime's pool threads spin while they wait by default: on a server busy
            # with questions that burns the cores the questions need
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self.tokens = tokens
        self.path = onnx_file

    def with_threads(self, threads: int) -> OnnxEncoder:
        """Another session on the same file (bulk work takes every core; queries take one)."""
        return OnnxEncoder(self.path, self.tokens, threads)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        def forward(batch: dict[str, np.ndarray]) -> np.ndarray:
            (hidden,) = self.session.run(["last_hidden_state"], batch)
            return np.asarray(hidden)

        return encode_by_length(self.tokens, texts, forward)


@dataclass(frozen=True)
class Layout:
    """What the fast path needs to know of a sentence-transformers folder, read from its
    configuration files (so no model has to be loaded to learn it)."""

    max_seq_length: int
    dim: int


def plain_layout(model_dir: Path) -> Layout | None:
    """The layout when the folder holds exactly Transformer -> mean Pooling -> Normalize with a
    fast tokenizer (`tokenizer.json`); None for any other model or an unreadable folder."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        kinds = [str(m["type"]).rsplit(".", 1)[-1] for m in modules]
        if kinds != ["Transformer", "Pooling", "Normalize"] or modules[0]["path"] not in ("", "."):
            return None
        pooling = json.loads(
            (model_dir / modules[1]["path"] / "config.json").read_text(encoding="utf-8")
        )
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True}
        if modes != {"pooling_mode_mean_tokens"} or not (model_dir / "tokenizer.json").is_file():
            return None
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        st_config = json.loads(
            (model_dir / "sentence_bert_config.json").read_text(encoding="utf-8")
        )
        max_len = int(st_config.get("max_seq_length") or config["max_position_embeddings"])
        return Layout(max_seq_length=max_len, dim=int(config["hidden_size"]))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def export_onnx(load_transformer: Callable[[], Any], target: Path, quantize: bool) -> Path:
    """Export the transformer to ONNX at `target` (once; written to a temporary name first)."""
    if target.is_file():
        return target
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    fp32 = target.with_name("model.onnx")
    if not fp32.is_file():
        ids = torch.ones(2, 8, dtype=torch.long)
        axes = {name: {0: "batch", 1: "tokens"} for name in (*ONNX_INPUTS, "last_hidden_state")}
        tmp = fp32.with_suffix(f".tmp{os.getpid()}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHiddenState(load_transformer()).eval(),
                (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                str(tmp),
                input_names=list(ONNX_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        os.replace(tmp, fp32)
    if quantize and not target.is_file():
        quantize_int8(fp32, target)
    return target


def make_short_encoder(
    load_transformer: Callable[[], Any],
    model_dir: Path,
    backend: Backend,
    cache_dir: Path,
    fingerprint: str,
    threads: int = 1,
    auto: Backend = "onnx",
) -> tuple[ShortTextEncoder | None, Backend]:
    """The fast path for this model and backend, or None when the model's layout is unusual;
    and the backend it runs on.

    `auto` takes the ONNX Runtime backend named by `auto` when it is installed and the export
    works (fp32: the same vectors as PyTorch to 1e-6 in about half the time; int8: about a
    third of fp32's time), PyTorch otherwise. `load_transformer` (the model's transformer in
    eval mode) is called only to export or to run on PyTorch: with the export in the cache,
    neither PyTorch nor the model is loaded.
    """
    layout = plain_layout(model_dir)
    if layout is None:
        if backend not in ("torch", "auto"):
            raise ModelNotFound(
                f"RAG_EMBEDDING_BACKEND={backend} needs a Transformer + mean pooling + normalize "
                f"model with a tokenizer.json; {model_dir} is not one: unset the variable"
            )
        return None, "torch"
    tokens = Tokens(model_dir / "tokenizer.json", layout.max_seq_length)
    if backend == "auto":
        try:
            encoder = _onnx_encoder(load_transformer, tokens, cache_dir, fingerprint, auto, threads)
            return encoder, auto
        except (ModelNotFound, OSError, RuntimeError, ImportError) as exc:
            logger.warning("ONNX query encoder unavailable (%s); using PyTorch", exc)
            backend = "torch"
    if backend == "torch":
        return TorchEncoder(load_transformer(), tokens), "torch"
    encoder = _onnx_encoder(load_transformer, tokens, cache_dir, fingerprint, backend, threads)
    return encoder, backend


def _onnx_encoder(
    load_transformer: Callable[[], Any],
    tokens: Tokens,
    cache_dir: Path,
    fingerprint: str,
    backend: Backend,
    threads: int,
) -> OnnxEncoder:
    name = "model-int8.onnx" if backend == "onnx-int8" else "model.onnx"
    onnx_file = export_onnx(
        load_transformer, cache_dir / "onnx" / fingerprint[:16] / name, backend == "onnx-int8"
    )
    return OnnxEncoder(onnx_file, tokens, threads)
