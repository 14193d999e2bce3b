"""When to trust the reader: logistic regression on its no-answer margin (and retrieval evidence).

The features of one question are `margin` = the reader's no-answer score minus its best span score
(high: the text probably does not say) and, in the open corpus, `retrieval` = the cosine of the
question and the passage the span came from, and `agreement` = the share of the other passages read
whose best spans give the same answer. The model gives P(answering is right); below `threshold`
the answerer abstains.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FEATURES = ("margin", "retrieval", "agreement")
RIGHT_F1 = 0.5  # an answer with token F1 at least this counts as right when fitting
NEWTON_STEPS = 50
L2 = 1e-2


@dataclass(frozen=True)
class AbstentionModel:
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float  # answer when probability >= threshold
    fitted_on: str
    examples: int

    def probability(
        self, margin: float, retrieval: float | None = None, agreement: float | None = None
    ) -> float:
        """P(answering is right) for one reading.

        >>> m = AbstentionModel(("margin",), (-1.0,), 0.0, 0.5, "doc", 0)
        >>> m.probability(0.0), round(m.probability(-2.0), 3)
        (0.5, 0.881)
        """
        values = {"margin": margin, "retrieval": retrieval, "agreement": agreement}
        z = self.bias
        for name, weight in zip(self.features, self.weights, strict=True):
            value = values.get(name)
            if value is None:
                raise ValueError(f"calibration needs the {name!r} feature")
            z += weight * float(value)
        return _sigmoid(z)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "weights": list(self.weights),
            "bias": self.bias,
            "threshold": self.threshold,
            "fitted_on": self.fitted_on,
            "examples": self.examples,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AbstentionModel:
        features = tuple(str(f) for f in data["features"])
        weights = tuple(float(w) for w in data["weights"])
        if len(features) != len(weights) or not set(features) <= set(FEATURES):
            raise ValueError(f"calibration features {features} do not match weights {weights}")
        return cls(
            features,
            weights,
            float(data["bias"]),
            float(data["threshold"]),
            str(data.get("fitted_on", "")),
            int(data.get("examples", 0)),
        )


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularized logistic regression, by Newton's method.

    >>> w, b = fit_logistic(np.array([[-2.0], [-1.0], [1.0], [2.0]]), np.array([1, 1, 0, 0]))
    >>> bool(w[0] < 0)
    True
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    design = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    theta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0  # the intercept is not shrunk
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ theta, -30, 30)))
        grad = design.T @ (p - y) / len(y) + penalty * theta
        hess = (design.T * (p * (1 - p))) @ design / len(y) + np.diag(penalty)
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(theta)), grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    weights = theta[:-1] / scale
    bias = float(theta[-1] - np.sum(theta[:-1] * mean / scale))
    return weights, bias


def best_threshold(
    probabilities: Sequence[float] | np.ndarray,
    answer_scores: Sequence[float] | np.ndarray,
    abstain_scores: Sequence[float] | np.ndarray,
) -> float:
    """The probability cut that maximizes the mean score: answer at or above it, abstain below.

    `answer_scores` is each question's F1 when it answers, `abstain_scores` its score when it
    abstains (1 for an unanswerable question, 0 otherwise).

    >>> best_threshold([0.9, 0.2], [1.0, 0.0], [0.0, 1.0])
    0.9
    """
    p = np.asarray(probabilities, dtype=np.float64)
    answer = np.asarray(answer_scores, dtype=np.float64)
    abstain = np.asarray(abstain_scores, dtype=np.float64)
    candidates = np.unique(np.concatenate([p, [1.0 + 1e-9]]))
    totals = [np.where(p >= c, answer, abstain).sum() for c in candidates]
    return float(candidates[int(np.argmax(totals))])


def fit_abstention(
    margins: Sequence[float],
    answer_f1: Sequence[float],
    answerable: Sequence[bool],
    *,
    retrieval: Sequence[float] | None = None,
    agreement: Sequence[float] | None = None,
    fitted_on: str,
) -> AbstentionModel:
    """Fit P(answering is right) on validation readings and choose the threshold.

    `answer_f1` is the F1 of the reader's best span (0 for an unanswerable question).
    """
    columns = [np.asarray(margins, dtype=np.float64)]
    features: tuple[str, ...] = ("margin",)
    for name, values in (("retrieval", retrieval), ("agreement", agreement)):
        if values is not None:
            columns.append(np.asarray(values, dtype=np.float64))
            features += (name,)
    x = np.stack(columns, axis=1)
    f1 = np.asarray(answer_f1, dtype=np.float64)
    y = (f1 >= RIGHT_F1).astype(np.float64)
    if len(np.unique(y)) < 2:
        raise ValueError("calibration needs both right and wrong readings")
    weights, bias = fit_logistic(x, y)
    model = AbstentionModel(
        features, tuple(float(w) for w in weights), bias, 0.5, fitted_on, len(y)
    )
    probs = [model.probability(**dict(zip(features, row, strict=True))) for row in x]
    abstain = [0.0 if a else 1.0 for a in answerable]
    threshold = best_threshold(probs, f1, abstain)
    return AbstentionModel(model.features, model.weights, bias, threshold, fitted_on, len(y))
