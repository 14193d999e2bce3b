"""The neural reader: LoRA-adapted MiniLM span extraction with a no-answer option.

`load_reader()` returns a `Reader` whose `read(question, windows)` proposes spans per window;
`artifact_exists()` says whether a trained adapter ships in rag/data/reader/.
"""

from rag.reader.artifact import DEFAULT_ARTIFACT_DIR, ReaderError, ReaderManifest, artifact_exists
from rag.reader.calibration import AbstentionModel
from rag.reader.inference import Reader, SpanProposal, WindowReading, load_reader

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
