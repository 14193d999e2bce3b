"""The neural reader: LoRA-adapted MiniLM span extraction with a no-answer option.

`load_reader()` returns a `Reader` whose `read(question, windows)` proposes spans per window;
`artifact_exists()` says whether a trained adapter ships in rag/data/reader/. The network and
its runtime load on first use of `Reader` or `load_reader`, so asking with the rule answerer
never imports PyTorch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag.reader.artifact import DEFAULT_ARTIFACT_DIR, ReaderError, ReaderManifest, artifact_exists
from rag.reader.calibration import AbstentionModel

if TYPE_CHECKING:
    from rag.reader.inference import Reader, SpanProposal, WindowReading, load_reader

_LAZY = {"Reader", "SpanProposal", "WindowReading", "load_reader"}

__all__ = [
    "DEFAULT_ARTIFACT_DIR",
    "AbstentionModel",
    "Reader",
    "ReaderError",
    "ReaderManifest",
    "SpanProposal",
    "WindowReading",
    "artifact_exists",
    "load_reader",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from rag.reader import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'rag.reader' has no attribute {name!r}")
