"""The reader at answer time, on the CPU: question + windows -> scored spans and a no-answer score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from rag.embedding import bundled_model_path
from rag.reader.artifact import (
    DEFAULT_ARTIFACT_DIR,
    ReaderError,
    ReaderManifest,
    load_artifact,
    verify_artifact,
)
from rag.reader.features import Encoded, best_spans, encode, snap_to_words
from rag.reader.tokens import load_pair_tokenizer

if TYPE_CHECKING:  # PyTorch loads only to build the network (training, a first ONNX export)
    from rag.reader.model import SpanReader

Backend = Literal["torch", "onnx"]
BATCH_SIZE = 16
TOP_SPANS = 5


@dataclass(frozen=True)
class SpanProposal:
    """Characters `start:end` of the window; score = start logit + end logit."""

    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class WindowReading:
    spans: list[SpanProposal]  # best first
    no_answer: float  # the [CLS] span's score: high when the window does not say

    @property
    def best(self) -> SpanProposal | None:
        return self.spans[0] if self.spans else None

    @property
    def margin(self) -> float:
        """No-answer score minus best span score: above 0 the reader would rather abstain."""
        return self.no_answer - self.spans[0].score if self.spans else float("inf")


class SpanModel(Protocol):
    """Token ids -> start and end logits, [batch, tokens] float32 each."""

    def __call__(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...


class TorchSpanModel:
    """The SpanModel protocol over a PyTorch module (bf16 autocast on a GPU, or when asked)."""

    def __init__(self, module: SpanReader, device: str = "cpu", *, bf16: bool = False) -> None:
        import torch

        self.module = module
        self.device = torch.device(device)
        self.bf16 = bf16 or self.device.type == "cuda"

    def __call__(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        import torch

        self.module.eval()
        with (
            torch.inference_mode(),
            torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16),
        ):
            start, end = self.module(
                *(
                    torch.from_numpy(a).to(self.device)
                    for a in (input_ids, attention_mask, token_type_ids)
                )
            )
        return start.float().cpu().numpy(), end.float().cpu().numpy()


class Reader:
    """Reads windows of text for a question; one instance per process, loaded once."""

    def __init__(
        self,
        model: SpanModel,
        tokenizer: Any,
        manifest: ReaderManifest,
        *,
        batch_size: int = BATCH_SIZE,
        top_spans: int = TOP_SPANS,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.manifest = manifest
        self.batch_size = batch_size
        self.top_spans = top_spans

    def logits(self, encoded: Encoded) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits of every window, run in batches trimmed to their longest."""
        starts, ends = [], []
        for lo in range(0, len(encoded), self.batch_size):
            mask = encoded.attention_mask[lo : lo + self.batch_size]
            width = int(mask.sum(axis=1).max())
            s, e = self.model(
                np.ascontiguousarray(encoded.input_ids[lo : lo + self.batch_size, :width]),
                np.ascontiguousarray(mask[:, :width]),
                np.ascontiguousarray(encoded.token_type_ids[lo : lo + self.batch_size, :width]),
            )
            pad = encoded.input_ids.shape[1] - width
            starts.append(np.pad(s, ((0, 0), (0, pad)), constant_values=-1e4))
            ends.append(np.pad(e, ((0, 0), (0, pad)), constant_values=-1e4))
        return np.concatenate(starts), np.concatenate(ends)

    def read(self, question: str, windows: Sequence[str]) -> list[WindowReading]:
        """For each window, its best spans (characters of that window) and its no-answer score."""
        return self.read_pairs([question] * len(windows), windows)

    def read_pairs(self, questions: Sequence[str], windows: Sequence[str]) -> list[WindowReading]:
        """`read` for a batch of (question, window) pairs, as the evaluation reads them."""
        if not windows:
            return []
        m = self.manifest
        encoded = encode(
            self.tokenizer,
            list(questions),
            list(windows),
            max_seq_len=m.max_seq_len,
            stride=m.stride,
            max_question_tokens=m.max_question_tokens,
        )
        start, end = self.logits(encoded)
        spans: list[dict[tuple[int, int], float]] = [{} for _ in windows]
        no_answer = [float("inf")] * len(windows)
        for f, w in enumerate(encoded.sample.tolist()):
            # a long window read in pieces: keep each span's best score, and the no-answer
            # score of the piece that most believes in an answer (SQuAD 2.0 practice)
            no_answer[w] = min(no_answer[w], float(start[f, 0] + end[f, 0]))
            found = best_spans(
                start[f],
                end[f],
                encoded.context_mask[f],
                encoded.offsets[f],
                max_answer_tokens=m.max_answer_tokens,
                top_n=self.top_spans,
            )
            for a, b, score in found:
                key = snap_to_words(windows[w], a, b)
                spans[w][key] = max(score, spans[w].get(key, -np.inf))
        readings = []
        for w, text in enumerate(windows):
            ranked = sorted(spans[w].items(), key=lambda kv: -kv[1])[: self.top_spans]
            proposals = [SpanProposal(a, b, text[a:b], s) for (a, b), s in ranked]
            readings.append(WindowReading(proposals, no_answer[w]))
        return readings


def load_span_module(
    artifact_dir: Path, base_dir: Path, *, base_sha256: str | None = None
) -> tuple[SpanReader, ReaderManifest]:
    """The verified adapter on its base, LoRA merged in, ready for inference."""
    from rag.reader.model import adapter_mismatch, build_reader, load_adapter, merged

    manifest, tensors = load_artifact(artifact_dir, base_dir, base_sha256=base_sha256)
    reader = build_reader(base_dir, manifest.lora)
    problem = adapter_mismatch(reader, tensors)
    if problem:
        raise ReaderError(
            f"reader adapter in {artifact_dir} does not fit its LoRA settings ({problem}); "
            "retrain it with `python -m rag.reader.train --out DIR`"
        )
    load_adapter(reader, tensors)
    return merged(reader), manifest


def load_reader(
    artifact_dir: Path | None = None,
    *,
    base_dir: Path | None = None,
    backend: Backend = "torch",
    quantize: bool = True,
    base_sha256: str | None = None,
) -> Reader:
    """The reader from its artifact folder (default rag/data/reader/) on the bundled base.

    `backend="onnx"` exports the merged model once (cached beside the artifact, int8 when
    `quantize`) and runs it with ONNX Runtime. `base_sha256`, when the caller already knows it
    (the embedder's fingerprint), saves hashing the base weights again.
    """
    artifact_dir = artifact_dir or DEFAULT_ARTIFACT_DIR
    base_dir = base_dir or bundled_model_path()
    if backend == "onnx":  # an export made before: no PyTorch model to build
        from rag.reader.onnx_export import OnnxSpanModel, cached_export

        manifest = verify_artifact(artifact_dir, base_dir, base_sha256=base_sha256)
        cached = cached_export(artifact_dir, manifest, quantize=quantize)
        if cached is not None:
            return Reader(OnnxSpanModel(cached), load_pair_tokenizer(base_dir), manifest)
    module, manifest = load_span_module(artifact_dir, base_dir, base_sha256=base_sha256)
    model: SpanModel
    if backend == "onnx":
        from rag.reader.onnx_export import onnx_span_model

        model = onnx_span_model(module, manifest, artifact_dir, quantize=quantize)
    else:
        model = TorchSpanModel(module)
    return Reader(model, load_pair_tokenizer(base_dir), manifest)
