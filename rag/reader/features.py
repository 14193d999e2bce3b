"""Question + context -> token windows with character offsets, and token logits -> character spans.

Everything here is numpy over the fast tokenizer's output; the same code serves training and
answering, so both see exactly the same windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

TOP_TOKENS = 20  # start and end candidates searched per window


@dataclass(frozen=True)
class Encoded:
    """Token windows ("features"); `sample[i]` is the context window i was cut from."""

    input_ids: np.ndarray  # int64 [F, L]
    attention_mask: np.ndarray  # int64 [F, L]
    token_type_ids: np.ndarray  # int64 [F, L]
    offsets: np.ndarray  # int64 [F, L, 2], characters of the context
    context_mask: np.ndarray  # bool [F, L], the tokens of the context
    sample: np.ndarray  # int64 [F]

    def __len__(self) -> int:
        return len(self.sample)


def clip_questions(tokenizer: Any, questions: Sequence[str], max_tokens: int) -> list[str]:
    """Each question cut after `max_tokens` tokens, so the context always has room."""
    enc = tokenizer(list(questions), add_special_tokens=False, return_offsets_mapping=True)
    return [
        q if len(offsets) <= max_tokens else q[: offsets[max_tokens - 1][1]]
        for q, offsets in zip(questions, enc["offset_mapping"], strict=True)
    ]


def encode(
    tokenizer: Any,
    questions: Sequence[str],
    contexts: Sequence[str],
    *,
    max_seq_len: int,
    stride: int,
    max_question_tokens: int,
    pad_to_max: bool = False,
) -> Encoded:
    """Windows of at most `max_seq_len` tokens; long contexts overlap by `stride` tokens."""
    enc = tokenizer(
        clip_questions(tokenizer, questions, max_question_tokens),
        list(contexts),
        truncation="only_second",
        max_length=max_seq_len,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_token_type_ids=True,
        padding="max_length" if pad_to_max else "longest",
    )
    offsets = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(
        len(enc["input_ids"]), -1, 2
    )
    token_type = np.asarray(enc["token_type_ids"], dtype=np.int64)
    # context tokens: the second segment, less its closing [SEP] (the only one with empty offsets)
    context_mask = (token_type == 1) & (offsets[..., 1] > offsets[..., 0])
    return Encoded(
        input_ids=np.asarray(enc["input_ids"], dtype=np.int64),
        attention_mask=np.asarray(enc["attention_mask"], dtype=np.int64),
        token_type_ids=token_type,
        offsets=offsets,
        context_mask=context_mask,
        sample=np.asarray(enc["overflow_to_sample_mapping"], dtype=np.int64),
    )


def answer_positions(
    encoded: Encoded, answer_starts: np.ndarray, answer_ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Token start/end of each window's answer; 0 ([CLS], no answer) where it is not inside.

    `answer_starts[s]` < 0 means sample s has no answer. Characters are of the context.
    """
    a_start = answer_starts[encoded.sample][:, None]
    a_end = answer_ends[encoded.sample][:, None]
    ctx = encoded.context_mask
    tok_start, tok_end = encoded.offsets[..., 0], encoded.offsets[..., 1]
    first = np.where(ctx, tok_start, np.iinfo(np.int64).max).min(axis=1)
    last = np.where(ctx, tok_end, -1).max(axis=1)
    inside = (a_start[:, 0] >= 0) & (first <= a_start[:, 0]) & (last >= a_end[:, 0])
    starts = np.argmax(ctx & (tok_end > a_start), axis=1)
    length = ctx.shape[1]
    ends = length - 1 - np.argmax((ctx & (tok_start < a_end))[:, ::-1], axis=1)
    inside &= starts <= ends
    return np.where(inside, starts, 0), np.where(inside, ends, 0)


def best_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    context_mask: np.ndarray,
    offsets: np.ndarray,
    *,
    max_answer_tokens: int,
    top_n: int,
) -> list[tuple[int, int, float]]:
    """The best (char_start, char_end, score) spans of one window, score = start + end logit.

    >>> s = np.array([0.0, 5.0, 1.0, 0.0]); e = np.array([0.0, 0.0, 4.0, 0.0])
    >>> m = np.array([False, True, True, False]); o = np.array([[0, 0], [0, 3], [4, 9], [0, 0]])
    >>> best_spans(s, e, m, o, max_answer_tokens=5, top_n=1)
    [(0, 9, 9.0)]
    """
    positions = np.flatnonzero(context_mask)
    if positions.size == 0:
        return []
    k = min(TOP_TOKENS, positions.size)
    starts = positions[np.argsort(-start_logits[positions], kind="stable")[:k]]
    ends = positions[np.argsort(-end_logits[positions], kind="stable")[:k]]
    scores = start_logits[starts][:, None] + end_logits[ends][None, :]
    width = ends[None, :] - starts[:, None]
    scores = np.where((width >= 0) & (width < max_answer_tokens), scores, -np.inf)
    order = np.argsort(-scores, axis=None, kind="stable")[:top_n]
    out = []
    for flat in order:
        i, j = divmod(int(flat), k)
        if not np.isfinite(scores[i, j]):
            break
        out.append((int(offsets[starts[i], 0]), int(offsets[ends[j], 1]), float(scores[i, j])))
    return out


def snap_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a span that starts or ends inside a word (a sub-word token) to whole words.

    >>> text = "Dmitry Peskov said"
    >>> text[slice(*snap_to_words(text, 12, 18))]
    'Peskov said'
    >>> text = "nearly 3,000 violations and 2.5 million"  # a figure's digit groups are one word
    >>> text[slice(*snap_to_words(text, 7, 8))], text[slice(*snap_to_words(text, 30, 31))]
    ('3,000', '2.5')
    """

    def joined(i: int) -> bool:  # text[i] continues the word before it
        if text[i - 1].isalnum() and text[i].isalnum():
            return True
        return (  # "3|,000", "3,|000"
            text[i] in ",."
            and text[i - 1].isdigit()
            and i + 1 < len(text)
            and text[i + 1].isdigit()
        ) or (text[i - 1] in ",." and text[i].isdigit() and i >= 2 and text[i - 2].isdigit())

    while start > 0 and joined(start):
        start -= 1
    while end < len(text) and joined(end):
        end += 1
    return start, end
