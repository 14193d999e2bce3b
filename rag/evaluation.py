"""Run question sets through the pipeline the API uses and score answers, abstentions and retrieval.

A question set is JSONL, one question a line:
`{"id", "question", "answers": [acceptable strings], "doc_id"?, "answer_type"?}`;
`answers: []` means the sources do not say and the right response is to abstain.
Sets about several reports of one event (eval/updates.jsonl) add `kind` (latest, source, date,
date_resolution), `agreement` (the expected label) and `normalized` (the expected ISO date).
"""

from __future__ import annotations

import bisect
import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.metrics import best_score, exact_match, number_match, token_f1
from rag.pipeline import Pipeline

RETRIEVAL_DEPTH = 20  # articles ranked for hit@k and MRR
HIT_AT = (1, 5, 20)
CALIBRATION_BUCKETS = 10
RIGHT_F1 = 0.5  # an answer with token F1 at least this is right (as the reader's calibration)
SURE = 0.8  # "confidently wrong": answered at this confidence or more, and wrong


UPDATE_KINDS = ("latest", "source", "date", "date_resolution")
AGREEMENTS = ("single", "consistent", "updated", "disputed")


class BadQuestionSet(RagError):
    status_code = 422


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    doc_id: str | None = None
    answer_type: str | None = None
    kind: str | None = None  # latest | source | date | date_resolution
    agreement: str | None = None  # the expected agreement label
    normalized: str | None = None  # the expected ISO date of a date answer

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class QuestionResult:
    """One question's outcome; `raw_*` is what the answerer proposed before abstaining."""

    question: EvalQuestion
    prediction: str | None
    abstained: bool
    confidence: float
    answer_type: str
    em: float
    f1: float
    number_match: float
    doc_rank: int | None  # 1-based rank of the gold article among retrieved articles
    latency_ms: float
    raw_answer: str | None = None
    raw_confidence: float | None = None  # None: the answerer found no candidate at all
    agreement: str | None = None  # what the answer document said
    normalized: float | int | str | None = None

    @property
    def group(self) -> str:
        return self.question.answer_type or self.answer_type


@dataclass
class EvalReport:
    name: str
    index_dir: str
    settings: dict[str, Any]
    results: list[QuestionResult]
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, with_results: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "index_dir": self.index_dir,
            "settings": self.settings,
            "summary": self.summary,
        }
        if with_results:
            out["results"] = [result_dict(r) for r in self.results]
        return out


def result_dict(result: QuestionResult) -> dict[str, Any]:
    """The question's fields, then the answer's; where both have a field (agreement,
    normalized), the question's is kept as `expected_...`."""
    out = asdict(result)
    question = out.pop("question")
    for key in question.keys() & out.keys():
        question[f"expected_{key}"] = question.pop(key)
    return {**question, **out}


# ----- question sets ------------------------------------------------------------------------
def question_from_record(record: Any, where: str) -> EvalQuestion:
    if not isinstance(record, dict):
        raise BadQuestionSet(f"{where}: expected a JSON object")
    qid, text, answers = record.get("id"), record.get("question"), record.get("answers")
    if not isinstance(qid, str | int) or not str(qid).strip():
        raise BadQuestionSet(f"{where}: 'id' must be a non-empty string")
    if not isinstance(text, str) or not text.strip():
        raise BadQuestionSet(f"{where}: 'question' must be a non-empty string")
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        raise BadQuestionSet(
            f"{where}: 'answers' must be a list of non-empty strings ([] for unanswerable)"
        )
    for key in ("doc_id", "answer_type", "kind", "agreement", "normalized"):
        if record.get(key) is not None and not isinstance(record[key], str):
            raise BadQuestionSet(f"{where}: {key!r} must be a string")
    if record.get("kind") not in (None, *UPDATE_KINDS):
        raise BadQuestionSet(f"{where}: 'kind' must be one of {', '.join(UPDATE_KINDS)}")
    if record.get("agreement") not in (None, *AGREEMENTS):
        raise BadQuestionSet(f"{where}: 'agreement' must be one of {', '.join(AGREEMENTS)}")
    return EvalQuestion(
        str(qid),
        text,
        tuple(answers),
        record.get("doc_id"),
        record.get("answer_type"),
        record.get("kind"),
        record.get("agreement"),
        record.get("normalized"),
    )


def load_questions(paths: Iterable[Path]) -> list[EvalQuestion]:
    """Questions of JSONL files, in order; ids must be unique across the files."""
    questions: list[EvalQuestion] = []
    seen: dict[str, str] = {}
    for path in paths:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise BadQuestionSet(f"cannot read question set {path}: {exc}") from None
        for lineno, line in enumerate(lines, start=1):
            where = f"{path}:{lineno}"
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadQuestionSet(f"{where}: invalid JSON ({exc.msg})") from None
            question = question_from_record(record, where)
            if question.id in seen:
                raise BadQuestionSet(
                    f"{where}: id {question.id!r} already used at {seen[question.id]}"
                )
            seen[question.id] = where
            questions.append(question)
    if not questions:
        raise BadQuestionSet("the question sets hold no questions")
    return questions


def sample(questions: list[EvalQuestion], limit: int | None, seed: int) -> list[EvalQuestion]:
    """`limit` questions drawn at random with `seed`, kept in file order; all when no limit."""
    if limit is None or limit >= len(questions):
        return list(questions)
    picked = sorted(random.Random(seed).sample(range(len(questions)), limit))
    return [questions[i] for i in picked]


# ----- running --------------------------------------------------------------------------------
def gold_rank(doc_ids: Sequence[str], gold: str | None) -> int | None:
    """1-based rank of `gold` among distinct articles, in order of first appearance.

    >>> gold_rank(["a", "a", "b", "c"], "b"), gold_rank(["a"], "z"), gold_rank(["a"], None)
    (2, None, None)
    """
    if gold is None:
        return None
    distinct = list(dict.fromkeys(doc_ids))
    return distinct.index(gold) + 1 if gold in distinct else None


def score_question(
    question: EvalQuestion,
    prediction: str | None,
    *,
    abstained: bool,
    confidence: float,
    answer_type: str,
    doc_rank: int | None = None,
    latency_ms: float = 0.0,
    raw_answer: str | None = None,
    raw_confidence: float | None = None,
    agreement: str | None = None,
    normalized: float | int | str | None = None,
) -> QuestionResult:
    said = None if abstained else prediction
    return QuestionResult(
        question=question,
        prediction=said,
        abstained=abstained,
        confidence=confidence,
        answer_type=answer_type,
        em=best_score(said, question.answers, exact_match),
        f1=best_score(said, question.answers, token_f1),
        number_match=best_score(said, question.answers, number_match),
        doc_rank=doc_rank,
        latency_ms=latency_ms,
        raw_answer=raw_answer,
        raw_confidence=raw_confidence,
        agreement=agreement,
        normalized=normalized,
    )


def evaluate(
    pipeline: Pipeline,
    questions: Sequence[EvalQuestion],
    *,
    name: str = "eval",
    sweep: bool = True,
    progress: Callable[[Iterable[EvalQuestion]], Iterable[EvalQuestion]] | None = None,
) -> EvalReport:
    """Ask every question with `pipeline.ask` (timed) and rank its gold article with `search`.

    With `sweep`, questions the pipeline abstained on are asked again by a twin pipeline that
    never abstains, so that the best abstention threshold can be computed from real answers.
    """
    twin = None
    if sweep:
        never_abstain = pipeline.settings.model_copy(
            update={"abstain_threshold": 0.0, "reader_threshold": 0.0}
        )
        twin = Pipeline(never_abstain, embedder=pipeline.embedder)
    if questions:  # untimed: the first call builds lazy caches a running service already has
        pipeline.ask(questions[0].question)
    results = []
    for q in progress(questions) if progress else questions:
        started = time.perf_counter()
        answer = pipeline.ask(q.question)
        latency_ms = (time.perf_counter() - started) * 1000.0
        rank = None
        if q.doc_id is not None:
            passages = pipeline.search(q.question, k=RETRIEVAL_DEPTH)
            rank = gold_rank([p.doc_id for p in passages], q.doc_id)
        raw_answer: str | None = answer.answer
        raw_confidence: float | None = answer.confidence
        if answer.abstained:
            raw_answer, raw_confidence = None, None
            if twin is not None:
                raw = twin.ask(q.question)
                if not raw.abstained:
                    raw_answer, raw_confidence = raw.answer, raw.confidence
        results.append(
            score_question(
                q,
                answer.answer,
                abstained=answer.abstained,
                confidence=answer.confidence,
                answer_type=answer.answer_type,
                doc_rank=rank,
                latency_ms=round(latency_ms, 2),
                raw_answer=raw_answer,
                raw_confidence=raw_confidence,
                agreement=answer.agreement,
                normalized=answer.normalized,
            )
        )
    settings = pipeline.settings
    threshold = pipeline.answerer.threshold
    report = EvalReport(
        name=name,
        index_dir=str(pipeline.store.root),
        settings={
            "embedding_model": pipeline.embedder.name,
            "answerer": pipeline.answerer.name,
            "abstain_threshold": threshold,
            "top_k": settings.top_k,
            "answer_passages": settings.answer_passages,
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
        },
        results=results,
    )
    report.summary = summarize(results, threshold, swept=sweep)
    return report


# ----- summaries (pure) --------------------------------------------------------------------
def mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def share(flags: Sequence[bool]) -> float | None:
    return mean([float(f) for f in flags])


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Linear-interpolated percentile, as numpy's default.

    >>> percentile([10, 20, 30, 40], 50), percentile([5.0], 95), percentile([], 50)
    (25.0, 5.0, None)
    """
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * pct / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), 2)


def answer_scores(results: Sequence[QuestionResult]) -> dict[str, Any]:
    return {
        "n": len(results),
        "em": mean([r.em for r in results]),
        "f1": mean([r.f1 for r in results]),
        "number_match": mean([r.number_match for r in results]),
    }


def retrieval_scores(results: Sequence[QuestionResult]) -> dict[str, Any]:
    ranked = [r for r in results if r.question.doc_id is not None]
    out: dict[str, Any] = {"n": len(ranked)}
    for k in HIT_AT:
        out[f"hit@{k}"] = share([r.doc_rank is not None and r.doc_rank <= k for r in ranked])
    out["mrr"] = mean([1.0 / r.doc_rank if r.doc_rank else 0.0 for r in ranked])
    return out


def calibration(
    results: Sequence[QuestionResult], buckets: int = CALIBRATION_BUCKETS
) -> list[dict[str, Any]]:
    """Accuracy of the responses in each confidence bucket, abstentions included: `accuracy` is
    EM, `right` the share of answers with F1 >= 0.5 and of abstentions on questions the sources
    do not answer (what the confidence claims to predict)."""
    rows = []
    for b in range(buckets):
        lo, hi = b / buckets, (b + 1) / buckets
        inside = [
            r
            for r in results
            if lo <= r.confidence < hi or (b == buckets - 1 and r.confidence == 1.0)
        ]
        if inside:
            rows.append(
                {
                    "lo": round(lo, 4),
                    "hi": round(hi, 4),
                    "n": len(inside),
                    "accuracy": mean([r.em for r in inside]),
                    "right": mean([float(is_right(r)) for r in inside]),
                    "mean_confidence": mean([r.confidence for r in inside]),
                    "abstained": sum(r.abstained for r in inside),
                }
            )
    return rows


def update_scores(results: Sequence[QuestionResult]) -> dict[str, Any] | None:
    """Scores of a set about several reports of one event (None for other sets).

    A figure is right when it matches an acceptable answer as a number or exactly; a date
    question is resolved right when the answer's ISO date is the expected one.
    """
    if not any(r.question.kind or r.question.agreement for r in results):
        return None

    def right(r: QuestionResult) -> bool:
        return not r.abstained and max(r.em, r.number_match) >= 1.0

    def of(kind: str) -> list[QuestionResult]:
        return [r for r in results if r.question.kind == kind]

    labelled = [r for r in results if r.question.agreement]
    resolving = of("date_resolution")
    return {
        "latest_correct": share([right(r) for r in of("latest")]),
        "source_correct": share([right(r) for r in of("source")]),
        "date_correct": share([right(r) for r in of("date")]),
        "agreement_accuracy": share([r.agreement == r.question.agreement for r in labelled]),
        "dates_resolved": share([r.normalized == r.question.normalized for r in resolving]),
        "n": {
            "latest": len(of("latest")),
            "source": len(of("source")),
            "date": len(of("date")),
            "agreement": len(labelled),
            "date_resolution": len(resolving),
        },
    }


def is_right(r: QuestionResult) -> bool:
    """An abstention on a question the sources do not answer, or an answer with F1 >= 0.5."""
    return not r.question.answerable if r.abstained else r.f1 >= RIGHT_F1


def expected_calibration_error(results: Sequence[QuestionResult]) -> float | None:
    """Mean |confidence - right| over the confidence buckets, weighted by their sizes.

    >>> q = EvalQuestion("1", "q", ("a",))
    >>> sure = score_question(q, "a", abstained=False, confidence=0.95, answer_type="count")
    >>> round(expected_calibration_error([sure]), 3)
    0.05
    """
    rows = calibration(results)
    n = sum(b["n"] for b in rows)
    if not n:
        return None
    return round(sum(b["n"] * abs(b["right"] - b["mean_confidence"]) for b in rows) / n, 4)


def confidently_wrong(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Answers given at confidence >= 0.8 with F1 < 0.5, as a share of all answers given."""
    answered = [r for r in results if not r.abstained]
    wrong = [r for r in answered if r.confidence >= SURE and r.f1 < RIGHT_F1]
    return {
        "share": share([True] * len(wrong) + [False] * (len(answered) - len(wrong))),
        "n": len(wrong),
        "answered": len(answered),
    }


class ThresholdSweep:
    """Overall (EM, F1) at any abstention threshold, from each question's proposed answer.

    Scores are computed once per question, so sweeping every threshold costs O(n log n).
    """

    def __init__(self, results: Sequence[QuestionResult]) -> None:
        self.n = len(results)
        rows = []
        self.base_em = self.base_f1 = 0.0  # everyone abstains
        for r in results:
            golds = r.question.answers
            abstain_em = best_score(None, golds, exact_match)
            abstain_f1 = best_score(None, golds, token_f1)
            self.base_em += abstain_em
            self.base_f1 += abstain_f1
            if r.raw_confidence is not None:
                gain_em = best_score(r.raw_answer, golds, exact_match) - abstain_em
                gain_f1 = best_score(r.raw_answer, golds, token_f1) - abstain_f1
                rows.append((r.raw_confidence, gain_em, gain_f1))
        rows.sort()
        self.confidences = [c for c, _, _ in rows]
        # suffix sums: what answering every question from position i on adds
        self.gain_em = [0.0] * (len(rows) + 1)
        self.gain_f1 = [0.0] * (len(rows) + 1)
        for i in range(len(rows) - 1, -1, -1):
            self.gain_em[i] = self.gain_em[i + 1] + rows[i][1]
            self.gain_f1[i] = self.gain_f1[i + 1] + rows[i][2]

    def at(self, threshold: float) -> tuple[float, float]:
        """Overall (EM, F1) had the answerer abstained below `threshold`."""
        i = bisect.bisect_left(self.confidences, threshold)
        return (
            (self.base_em + self.gain_em[i]) / self.n,
            (self.base_f1 + self.gain_f1[i]) / self.n,
        )


def threshold_ranges(confidences: Iterable[float]) -> list[tuple[float, float]]:
    """Ranges (lo, hi] of thresholds that give the same answers: cut at each confidence.

    >>> threshold_ranges([0.7, 0.2, 0.7])
    [(0.0, 0.2), (0.2, 0.7), (0.7, 1.0)]
    """
    cuts = sorted(set(confidences))
    if not cuts:
        return [(0.0, 1.0)]
    ranges = [(0.0, cuts[0]), *zip(cuts, cuts[1:], strict=False)]
    return ranges + [(cuts[-1], 1.0)] if cuts[-1] < 1.0 else ranges


def best_threshold(results: Sequence[QuestionResult], current: float) -> dict[str, Any] | None:
    """The abstention threshold with the best overall F1 (ties: the range nearest `current`).

    Every threshold in a range (lo, hi] between consecutive proposal confidences gives the same
    answers; the middle of the best range is reported, with the range.
    """
    if not results:
        return None
    sweep = ThresholdSweep(results)
    best: tuple[tuple[float, float], float, float, float, float] | None = None
    for lo, hi in threshold_ranges(sweep.confidences):
        em, f1 = sweep.at(hi)
        inside = lo < current <= hi or (lo == 0.0 and current <= hi)
        distance = 0.0 if inside else min(abs(current - lo), abs(current - hi))
        key = (round(f1, 9), -distance)
        if best is None or key > best[0]:
            best = (key, f1, em, lo, hi)
    assert best is not None
    _, f1, em, lo, hi = best
    now_em, now_f1 = sweep.at(current)
    return {
        "threshold": round((lo + hi) / 2, 4),
        "range": [round(lo, 4), round(hi, 4)],
        "overall_f1": round(f1, 4),
        "overall_em": round(em, 4),
        "current_threshold": current,
        "current_f1": round(now_f1, 4),
        "current_em": round(now_em, 4),
    }


def failure(r: QuestionResult) -> dict[str, Any]:
    if not r.question.answerable:
        kind = "answered an unanswerable question"
    elif r.abstained:
        kind = "abstained on an answerable question"
    else:
        kind = "wrong answer"
    return {
        "id": r.question.id,
        "question": r.question.question,
        "expected": list(r.question.answers),
        "got": r.prediction,
        "confidence": r.confidence,
        "answer_type": r.question.answer_type,
        "predicted_type": r.answer_type,
        "f1": round(r.f1, 4),
        "kind": kind,
    }


def summarize(
    results: Sequence[QuestionResult], abstain_threshold: float, *, swept: bool = True
) -> dict[str, Any]:
    """Every score of a run, as plain JSON values (None where nothing was measured)."""
    has = [r for r in results if r.question.answerable]
    no = [r for r in results if not r.question.answerable]
    typed = [r for r in results if r.question.answer_type]
    groups = sorted({r.group for r in results})
    latencies = [r.latency_ms for r in results]
    return {
        "questions": len(results),
        "overall": answer_scores(results),
        "has_ans": answer_scores(has),
        "no_ans": answer_scores(no),
        "abstention": {
            "correct": share([r.abstained for r in no]),
            "wrong": share([r.abstained for r in has]),
            "rate": share([r.abstained for r in results]),
        },
        "retrieval": retrieval_scores(results),
        "confidently_wrong": confidently_wrong(results),
        "calibration": {
            "ece": expected_calibration_error(results),
            "buckets": calibration(results),
            "best_threshold": best_threshold(results, abstain_threshold) if swept else None,
        },
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "mean": mean(latencies),
            "max": max(latencies) if latencies else None,
        },
        "type_agreement": share([r.answer_type == r.question.answer_type for r in typed]),
        "updates": update_scores(results),
        "by_answer_type": {
            g: {
                **answer_scores([r for r in results if r.group == g]),
                "answerable": sum(r.question.answerable for r in results if r.group == g),
                "has_ans_em": mean([r.em for r in has if r.group == g]),
                "correct_abstention": share([r.abstained for r in no if r.group == g]),
            }
            for g in groups
        },
        "failures": [failure(r) for r in results if r.em < 1.0],
    }


# ----- the quality gate ------------------------------------------------------------------
@dataclass(frozen=True)
class GateCheck:
    metric: str
    bound: str  # "min" or "max"
    threshold: float
    value: float | None

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.threshold if self.bound == "min" else self.value <= self.threshold


def load_gate(path: Path) -> dict[str, dict[str, float]]:
    """Thresholds: `{"min": {"has_ans.em": 0.9, ...}, "max": {"abstention.wrong": 0.1}}`."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadQuestionSet(f"cannot read the gate config {path}: {exc}") from None
    if not isinstance(config, dict) or not ({"min", "max"} & config.keys()):
        raise BadQuestionSet(f"gate config {path} needs a 'min' and/or 'max' object of thresholds")
    gate: dict[str, dict[str, float]] = {}
    for bound in ("min", "max"):
        table = config.get(bound, {})
        if not isinstance(table, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in table.values()
        ):
            raise BadQuestionSet(f"gate config {path}: {bound!r} must map metric names to numbers")
        gate[bound] = {str(k): float(v) for k, v in table.items()}
    return gate


def metric_value(summary: dict[str, Any], dotted: str) -> float | None:
    """A summary value by dotted path, e.g. "has_ans.em" or "retrieval.hit@5"."""
    node: Any = summary
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise BadQuestionSet(f"the gate names an unknown metric {dotted!r}")
        node = node[part]
    if node is not None and not isinstance(node, int | float):
        raise BadQuestionSet(f"the gate metric {dotted!r} is not a number")
    return node


def check_gate(summary: dict[str, Any], gate: dict[str, dict[str, float]]) -> list[GateCheck]:
    return [
        GateCheck(metric, bound, threshold, metric_value(summary, metric))
        for bound in ("min", "max")
        for metric, threshold in gate.get(bound, {}).items()
    ]
