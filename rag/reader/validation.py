"""Score the reader on the validation split (gold paragraph given) and fit its abstention model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.metrics import best_score, exact_match, token_f1
from rag.reader.calibration import AbstentionModel, fit_abstention
from rag.reader.data import QAExample
from rag.reader.inference import Reader


@dataclass(frozen=True)
class Reading:
    example: QAExample
    span: str | None  # the best span, always proposed (what "reader alone" scores)
    margin: float  # no-answer score minus best span score
    em: float  # of `span` against the gold answers (0 for an unanswerable question)
    f1: float


def read_all(reader: Reader, examples: Sequence[QAExample], chunk: int = 512) -> list[Reading]:
    """The reader's best span for every example, its gold paragraph as the only window."""
    out = []
    for lo in range(0, len(examples), chunk):
        part = examples[lo : lo + chunk]
        readings = reader.read_pairs([e.question for e in part], [e.context for e in part])
        for example, reading in zip(part, readings, strict=True):
            span = reading.best.text if reading.best else None
            golds = list(example.answers)
            em = best_score(span, golds, exact_match) if golds else 0.0
            f1 = best_score(span, golds, token_f1) if golds else 0.0
            out.append(Reading(example, span, reading.margin, em, f1))
    return out


def _mean(values: Sequence[float]) -> float:
    return round(100.0 * float(np.mean(values)), 2) if len(values) else float("nan")


def score(readings: Sequence[Reading]) -> tuple[dict[str, Any], AbstentionModel | None]:
    """Metrics (percentages) and the abstention model fitted on these readings."""
    answerable = [r for r in readings if r.example.answers]
    unanswerable = [r for r in readings if not r.example.answers]
    metrics: dict[str, Any] = {
        "answerable_questions": len(answerable),
        "unanswerable_questions": len(unanswerable),
        # the "reader alone, gold paragraph given" figures: always answer
        "answerable_em": _mean([r.em for r in answerable]),
        "answerable_f1": _mean([r.f1 for r in answerable]),
    }
    finite = [r for r in readings if np.isfinite(r.margin)]
    try:
        model = fit_abstention(
            [r.margin for r in finite],
            [r.f1 for r in finite],
            [bool(r.example.answers) for r in finite],
            fitted_on="validation split, gold paragraph (in-sample)",
        )
    except ValueError as exc:
        metrics["calibration"] = f"not fitted: {exc}"
        return metrics, None
    said = {
        id(r): r.span
        if np.isfinite(r.margin) and model.probability(r.margin) >= model.threshold
        else None
        for r in readings
    }
    golds = [list(r.example.answers) for r in readings]
    metrics |= {
        "calibration": model.to_dict(),
        # SQuAD 2.0-style with the calibrated abstention (threshold chosen on these readings)
        "overall_em": _mean(
            [best_score(said[id(r)], g, exact_match) for r, g in zip(readings, golds, strict=True)]
        ),
        "overall_f1": _mean(
            [best_score(said[id(r)], g, token_f1) for r, g in zip(readings, golds, strict=True)]
        ),
        "unanswerable_abstained": _mean([float(said[id(r)] is None) for r in unanswerable]),
        "answerable_answered": _mean([float(said[id(r)] is not None) for r in answerable]),
    }
    return metrics, model
