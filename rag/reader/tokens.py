"""The reader's tokenizer at answer time: the model's `tokenizer.json` in the Rust `tokenizers`
library, called the way rag/reader/features.py calls a transformers fast tokenizer.

transformers' fast tokenizer is a wrapper over this same library; importing it costs about 5 s
and PyTorch here. This class does the part `features.encode` uses (question/context pairs,
`only_second` truncation with a stride and overflowing windows, padding to the longest,
offsets, token types, `overflow_to_sample_mapping`), so answering never imports transformers.
tests/test_reader.py checks that both give identical windows.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TOKENIZER_FILE = "tokenizer.json"


class PairTokenizer:
    """`tokenizer(questions, contexts, ...)` -> the dict of lists transformers would return.

    Safe to share across threads: truncation and padding are settings of the Rust tokenizer, so
    setting them and encoding hold one lock (without it, a request that set "no padding" while
    another encoded gave that one ragged windows: a 500 under concurrent /ask).
    """

    def __init__(self, tokenizer_json: Path) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self._lock = threading.Lock()
        padding = self.tokenizer.padding or {}
        self.pad_id = int(padding.get("pad_id", self.tokenizer.token_to_id("[PAD]") or 0))
        self.pad_token = str(padding.get("pad_token", "[PAD]"))

    def __call__(
        self,
        text: Sequence[str],
        text_pair: Sequence[str] | None = None,
        *,
        add_special_tokens: bool = True,
        truncation: str | bool = False,
        max_length: int | None = None,
        stride: int = 0,
        return_overflowing_tokens: bool = False,
        return_offsets_mapping: bool = False,
        return_token_type_ids: bool = True,
        padding: str | bool = False,
    ) -> dict[str, Any]:
        tok = self.tokenizer
        inputs: list[Any] = (
            list(text) if text_pair is None else list(zip(text, text_pair, strict=True))
        )
        with self._lock:
            if truncation and max_length:
                strategy = "only_second" if truncation == "only_second" else "longest_first"
                tok.enable_truncation(max_length, stride=stride, strategy=strategy)
            else:
                tok.no_truncation()
            if padding in ("longest", True):
                tok.enable_padding(pad_id=self.pad_id, pad_token=self.pad_token)
            elif padding == "max_length" and max_length:
                tok.enable_padding(pad_id=self.pad_id, pad_token=self.pad_token, length=max_length)
            else:
                tok.no_padding()
            encodings = tok.encode_batch(inputs, add_special_tokens=add_special_tokens)
        out: dict[str, list[Any]] = {"input_ids": [], "attention_mask": []}
        if return_token_type_ids:
            out["token_type_ids"] = []
        if return_offsets_mapping:
            out["offset_mapping"] = []
        if return_overflowing_tokens:
            out["overflow_to_sample_mapping"] = []
        for sample, encoding in enumerate(encodings):
            pieces = [encoding, *encoding.overflowing] if return_overflowing_tokens else [encoding]
            for piece in pieces:
                out["input_ids"].append(list(piece.ids))
                out["attention_mask"].append(list(piece.attention_mask))
                if return_token_type_ids:
                    out["token_type_ids"].append(list(piece.type_ids))
                if return_offsets_mapping:
                    out["offset_mapping"].append([tuple(o) for o in piece.offsets])
                if return_overflowing_tokens:
                    out["overflow_to_sample_mapping"].append(sample)
        return out


def load_pair_tokenizer(base_dir: Path) -> PairTokenizer:
    from rag.errors import ModelNotFound

    path = base_dir / TOKENIZER_FILE
    if not path.is_file():
        raise ModelNotFound(f"{base_dir} has no fast tokenizer ({TOKENIZER_FILE})")
    return PairTokenizer(path)
