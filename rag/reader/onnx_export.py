"""Optional ONNX Runtime backend: the merged reader exported once, fused, int8-quantized, cached.

The export traces BERT's eager attention, which ONNX Runtime's transformer optimizer fuses into
one Attention operator per layer (with embedding + layer norm, bias + GELU and skip + layer norm
fused too); the int8 copy of that graph reads about 1.5x faster on the CPU than the unfused one.

The ONNX file is derived data (base + adapter), never committed: it is rebuilt when missing, under
a name made of both checksums, so a new adapter or base can never run with a stale export.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.onnx_quant import quantize_int8, quiet_root_logger
from rag.reader.artifact import ReaderError, ReaderManifest

if TYPE_CHECKING:
    from rag.reader.model import SpanReader

OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUTS = ("start_logits", "end_logits")
GRAPH = "fused"  # in the cache names: an export of another layout is never picked up
CACHE_SUBDIR = "onnx"  # git-ignored, inside the artifact folder when writable


def export_onnx(module: SpanReader, path: Path) -> Path:
    """Write the (merged) reader as a fused ONNX graph with dynamic batch and length."""
    import torch

    module = module.eval()
    encoder: Any = module.encoder
    attention = encoder.config._attn_implementation
    encoder.set_attn_implementation("eager")  # SDPA traces to a graph nothing fuses
    example = tuple(torch.ones((1, 8), dtype=torch.int64) for _ in INPUTS)
    dynamic = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, *OUTPUTS)}
    traced = path.with_name(f"{path.name}.traced{os.getpid()}")
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about Python control flow in BERT
            torch.onnx.export(
                module,
                example,
                str(traced),
                input_names=list(INPUTS),
                output_names=list(OUTPUTS),
                dynamic_axes=dynamic,
                opset_version=OPSET,
                dynamo=False,  # the TorchScript exporter needs no onnxscript
            )
        fuse_bert(traced, path, encoder.config.num_attention_heads, encoder.config.hidden_size)
    finally:
        encoder.set_attn_implementation(attention)
        traced.unlink(missing_ok=True)
    return path


def fuse_bert(source: Path, target: Path, heads: int, hidden: int) -> Path:
    """ONNX Runtime's BERT fusions applied to `source`, written atomically to `target`.

    Same function to 1e-5; a graph without the patterns is written back unchanged.
    """
    from onnxruntime.transformers.optimizer import optimize_model  # type: ignore[import-untyped]

    with quiet_root_logger():
        fused = optimize_model(str(source), model_type="bert", num_heads=heads, hidden_size=hidden)
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    fused.save_model_to_file(str(tmp))
    os.replace(tmp, target)
    return target


class OnnxSpanModel:
    """The SpanModel protocol over an ONNX Runtime CPU session."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]
        except ImportError as exc:
            raise ReaderError(
                "the ONNX reader backend needs onnxruntime: pip install onnxruntime onnx"
            ) from exc
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session: Any = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

    def __call__(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        feeds = dict(zip(INPUTS, (input_ids, attention_mask, token_type_ids), strict=True))
        start, end = self.session.run(list(OUTPUTS), feeds)
        return start, end


def cache_dir(artifact_dir: Path) -> Path:
    """The artifact's own onnx/ folder, or a temporary one where the artifact is read-only."""
    for candidate in (artifact_dir / CACHE_SUBDIR, Path(tempfile.gettempdir()) / "rag-reader-onnx"):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(candidate, os.W_OK):
            return candidate
    raise ReaderError(
        f"no writable folder for the ONNX export (tried {artifact_dir / CACHE_SUBDIR})"
    )


def export_paths(artifact_dir: Path, manifest: ReaderManifest) -> tuple[Path, Path]:
    """Where this adapter's fp32 and int8 exports are (or will be) cached."""
    folder = cache_dir(artifact_dir)
    stem = f"reader-{manifest.base_sha256[:12]}-{manifest.adapter_sha256[:12]}-{GRAPH}"
    return folder / f"{stem}-fp32.onnx", folder / f"{stem}-int8.onnx"


def cached_export(artifact_dir: Path, manifest: ReaderManifest, *, quantize: bool) -> Path | None:
    """The export already made for this adapter and base, if any (no PyTorch needed then)."""
    fp32, int8 = export_paths(artifact_dir, manifest)
    path = int8 if quantize else fp32
    return path if path.is_file() else None


def onnx_span_model(
    module: SpanReader, manifest: ReaderManifest, artifact_dir: Path, *, quantize: bool = True
) -> OnnxSpanModel:
    """Export (once) and open the reader as an ONNX Runtime session."""
    fp32, int8 = export_paths(artifact_dir, manifest)
    if not fp32.is_file():
        export_onnx(module, fp32)
    if not quantize:
        return OnnxSpanModel(fp32)
    if not int8.is_file():
        quantize_int8(fp32, int8)
    return OnnxSpanModel(int8)
