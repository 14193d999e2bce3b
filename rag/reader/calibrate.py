"""Fit the reader's confidence where it is used: in the open corpus, on questions it never trained on.

    python -m rag.reader.calibrate                       # rag/data/reader, SQuAD from ../shared/data
    python -m rag.reader.calibrate --checkpoint rag/data/reader-checkpoint --dir /tmp/r  # mid-run

The corpus is every paragraph of the SQuAD v1.1 public half (the index `rag eval --squad`
builds). The questions are those of the 8 validation articles (rag.reader.data), answerable
(v1.1) and unanswerable (v2.0), split by article in two halves: the calibration (logistic
regression on the no-answer margin, the passage's cosine to the question and the agreement of
the other passages, and the threshold that maximizes overall F1), and the weight of the
retrieval score when spans of different passages compete, are fitted on one half
and scored on the other, and written into the artifact's manifest. Yes/no questions are left out:
the answerer abstains on them before reading.

News: SQuAD is Wikipedia; the product reads news. `eval/fit/` holds short conflict reports and
questions written for fitting only (blind of the eval sets, never reported as held-out). Its
articles get an index of their own, its questions are split by article the same way (even
articles fit, odd ones score), and the fit rows of news are repeated so that the two domains
weigh the same in the logistic fit and the threshold. `--no-news` fits on SQuAD alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag.evaluation import EvalQuestion, sample
from rag.metrics import best_score, token_f1
from rag.reader.artifact import (
    DEFAULT_ARTIFACT_DIR,
    METRICS_FILE,
    read_manifest,
    write_manifest,
)
from rag.reader.calibration import RIGHT_F1, AbstentionModel, fit_abstention
from rag.reader.card import write_model_card
from rag.reader.data import DEFAULT_DATA_DIR, SQUAD_V1, SQUAD_V2, is_validation_article

SURE = 0.8
NEWS_DIR = Path(__file__).resolve().parents[2] / "eval" / "fit"
NEWS_ARTICLES, NEWS_QUESTIONS = "articles.jsonl", "questions.jsonl"
NEWS_INDEX = Path(__file__).resolve().parents[2] / "eval" / ".cache" / "fit-news"  # git-ignored
PASSAGE_WEIGHTS = (0.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0)
FEATURE_SETS = {"margin": ("margin",), "all": ("margin", "retrieval", "agreement")}


@dataclass(frozen=True)
class Row:
    question: EvalQuestion
    margin: float
    retrieval: float
    agreement: float
    f1: float  # of the picked span (0 where the question is unanswerable)
    span: str | None
    count: bool = False  # a "how many" question
    f1_untyped: float = 0.0  # F1 had a count not preferred a span holding a number
    f1_narrowed: float = (
        0.0  # F1 of the reader's own span cut to its figure (rag.reading.count_part)
    )

    @property
    def answerable(self) -> bool:
        return bool(self.question.answers)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m rag.reader.calibrate", description=__doc__.split("\n")[0]
    )
    p.add_argument("--dir", type=Path, default=DEFAULT_ARTIFACT_DIR, help="artifact folder")
    p.add_argument(
        "--checkpoint", type=Path, help="first write --dir from this training checkpoint"
    )
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    p.add_argument("--index", type=Path, help="the SQuAD v1.1 index (default: rag eval's)")
    p.add_argument("--limit", type=int, help="at most this many questions per half (a quick run)")
    p.add_argument("--out", type=Path, help="write the readings and scores here (JSON)")
    p.add_argument("--dry-run", action="store_true", help="score, but leave the manifest as it is")
    p.add_argument("--news", type=Path, default=NEWS_DIR, help="news fitting set (eval/fit)")
    p.add_argument("--no-news", action="store_true", help="fit on SQuAD alone")
    return p.parse_args(argv)


def news_halves(folder: Path) -> tuple[list[EvalQuestion], list[EvalQuestion], list[Any]]:
    """(fit, report) questions of the news fitting set, split by article, and its articles."""
    from rag.documents import Article, read_file
    from rag.evaluation import load_questions

    articles = [a for a in read_file(folder / NEWS_ARTICLES) if isinstance(a, Article)]
    questions = load_questions([folder / NEWS_QUESTIONS])
    ids = sorted(a.id for a in articles)
    fit_ids = set(ids[0::2])
    fit = [q for q in questions if q.doc_id in fit_ids]
    report = [q for q in questions if q.doc_id not in fit_ids]
    return fit, report, articles


def news_pipeline(articles: Sequence[Any]) -> Any:
    """A pipeline over the news fitting set's articles (index kept in eval/.cache)."""
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    pipeline = Pipeline(Settings(index_dir=NEWS_INDEX, answerer="rules"))
    report = pipeline.ingest(list(articles))
    if report.added or report.replaced:
        print(f"indexed {len(report.added)} news articles in {NEWS_INDEX}", file=sys.stderr)
    return pipeline


def balanced(squad: Sequence[Any], news: Sequence[Any]) -> list[Any]:
    """SQuAD rows and news rows repeated to about as many (each domain weighs the same).

    >>> balanced([1, 2, 3, 4], [9]), balanced([1], [])
    ([1, 2, 3, 4, 9, 9, 9, 9], [1])
    """
    if not news:
        return list(squad)
    return list(squad) + list(news) * max(1, round(len(squad) / len(news)))


def halves(data_dir: Path) -> tuple[list[EvalQuestion], list[EvalQuestion], Any]:
    """(fit, report) questions of the validation articles, and the v1.1 SquadSet."""
    from rag.reader.data import find_file
    from rag.squad import load_squad

    v1 = load_squad(find_file(data_dir, "squad", SQUAD_V1))
    v2 = load_squad(find_file(data_dir, "squad", SQUAD_V2))
    titles = list(dict.fromkeys(a.title for a in v1.articles))
    validation = [t for i, t in enumerate(titles) if is_validation_article(i)]
    fit_titles = set(validation[0::2])
    report_titles = set(validation[1::2])
    title_of = {a.id: a.title for a in (*v1.articles, *v2.articles)}
    questions = v1.questions + [q for q in v2.questions if not q.answers]
    fit = [q for q in questions if title_of.get(q.doc_id or "") in fit_titles]
    report = [q for q in questions if title_of.get(q.doc_id or "") in report_titles]
    return fit, report, v1


@dataclass(frozen=True)
class Reading:
    """Every span the reader proposed for one question (all passages), read once."""

    question: EvalQuestion
    choices: list[Any]  # rag.reading.SpanChoice
    count: bool


def read_all(pipeline: Any, answerer: Any, questions: Sequence[EvalQuestion]) -> list[Reading]:
    from rag.question import AnswerType, answer_type_of
    from rag.reading import is_yes_no

    out = []
    began = time.perf_counter()
    for n, q in enumerate(questions, start=1):
        if is_yes_no(q.question):
            continue
        passages = pipeline.search(q.question, k=pipeline.settings.answer_passages)
        choices = answerer.choices(q.question, passages)
        if choices:
            out.append(Reading(q, choices, answer_type_of(q.question) is AnswerType.COUNT))
        if n % 250 == 0:
            rate = n / (time.perf_counter() - began)
            print(f"  {n}/{len(questions)} questions ({rate:.1f}/s)", file=sys.stderr, flush=True)
    return out


def rows_at(readings: Sequence[Reading], weight: float, typed: bool = True) -> list[Row]:
    """The picked span of every question when passages weigh `weight` (see rag.reading)."""
    from rag.quantities import find_quantities
    from rag.reading import count_part

    rows = []
    for r in readings:
        ranked = sorted(r.choices, key=lambda c: -(c.score + weight * c.passage.score))
        numeric = [c for c in ranked if find_quantities(c.text)] if r.count and typed else []
        # typed=True measures the count rule; the shipped answerer reads without it
        choice = numeric[0] if numeric else ranked[0]
        golds = list(r.question.answers)
        f1 = best_score(choice.text, golds, token_f1) if golds else 0.0
        untyped = best_score(ranked[0].text, golds, token_f1) if golds else 0.0
        part = count_part(ranked[0].text) if r.count else None
        narrowed_text = ranked[0].text[part[0] : part[1]] if part else ranked[0].text
        narrowed = best_score(narrowed_text, golds, token_f1) if golds else 0.0
        rows.append(
            Row(
                r.question,
                choice.margin,
                choice.retrieval,
                choice.agreement,
                f1,
                choice.text,
                r.count,
                untyped,
                narrowed,
            )
        )
    return rows


def best_weight(readings: Sequence[Reading]) -> tuple[float, dict[str, float]]:
    """The passage weight that gives the answerable questions the best span F1."""
    answerable = [r for r in readings if r.question.answers]
    scores = {
        w: float(np.mean([row.f1 for row in rows_at(answerable, w)])) for w in PASSAGE_WEIGHTS
    }
    return max(scores, key=lambda w: scores[w]), {str(w): round(v, 4) for w, v in scores.items()}


def fit(rows: Sequence[Row], features: tuple[str, ...], note: str) -> tuple[AbstentionModel, float]:
    """The calibration with the threshold that maximizes overall F1 on these rows (SQuAD 2.0
    practice); and that threshold. Answering only at P(right) >= 0.5 was tried first: on the
    held-out half it answered 17% of the answerable questions (HasAns F1 0.115 against 0.285)."""
    columns = {name: [getattr(r, name) for r in rows] for name in features if name != "margin"}
    model = fit_abstention(
        [r.margin for r in rows],
        [r.f1 for r in rows],
        [r.answerable for r in rows],
        retrieval=columns.get("retrieval"),
        agreement=columns.get("agreement"),
        fitted_on=note,
    )
    return model, model.threshold


def scores(model: AbstentionModel, rows: Sequence[Row]) -> dict[str, Any]:
    """SQuAD 2.0-style scores of answering at or above the model's threshold, and calibration."""
    probs = np.array(
        [model.probability(**{f: getattr(r, f) for f in model.features}) for r in rows]
    )
    said = probs >= model.threshold
    f1 = np.array([r.f1 for r in rows])
    answerable = np.array([r.answerable for r in rows])
    overall = np.where(said, f1, (~answerable).astype(float))
    right = np.where(said, f1 >= RIGHT_F1, ~answerable)
    confidence = np.where(said, probs, 1.0 - probs)
    bins = np.minimum((confidence * 10).astype(int), 9)
    ece = sum(
        (bins == b).sum() * abs(right[bins == b].mean() - confidence[bins == b].mean())
        for b in range(10)
        if (bins == b).any()
    ) / len(rows)
    answered = int(said.sum())
    sure_wrong = int((said & (probs >= SURE) & (f1 < RIGHT_F1)).sum())
    return {
        "questions": len(rows),
        "overall_f1": round(float(overall.mean()), 4),
        "has_ans_f1": round(float(np.where(said, f1, 0.0)[answerable].mean()), 4),
        "has_ans_f1_always_answering": round(float(f1[answerable].mean()), 4),
        "no_ans_abstained": round(float((~said)[~answerable].mean()), 4),
        "answered": answered,
        "confidently_wrong": round(sure_wrong / answered, 4) if answered else None,
        "ece": round(float(ece), 4),
    }


def export_checkpoint(checkpoint: Path, out: Path) -> None:
    """Write an artifact (adapter + manifest, no calibration yet) from a training checkpoint."""
    from safetensors.torch import load_file

    from rag.embedding import BUNDLED_MODEL_NAME, bundled_model_path, weights_checksum
    from rag.reader.artifact import ReaderManifest, save_artifact
    from rag.reader.checkpoint import MODEL_FILE, STATE_FILE
    from rag.reader.model import LoraSettings
    from rag.reader.train import parse_args as train_args

    defaults = train_args(["--out", str(out)])
    state = json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8"))
    manifest = ReaderManifest(
        base_model=BUNDLED_MODEL_NAME,
        base_sha256=weights_checksum(bundled_model_path()),
        lora=LoraSettings(defaults.rank, defaults.alpha, defaults.lora_dropout),
        max_seq_len=defaults.max_seq_len,
        stride=defaults.stride,
        max_question_tokens=defaults.max_question_tokens,
        max_answer_tokens=defaults.max_answer_tokens,
        adapter_sha256="",
        training={"from_checkpoint": str(checkpoint), "step": state["step"]},
    )
    save_artifact(out, load_file(str(checkpoint / MODEL_FILE)), manifest)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from rag.lexicon import load_lexicon
    from rag.pipeline import Pipeline
    from rag.reader.inference import load_reader
    from rag.reading import ReaderAnswerer
    from rag.settings import Settings
    from rag.squad import default_index_dir, ensure_squad_index

    if args.checkpoint:
        export_checkpoint(args.checkpoint, args.dir)
    fit_q, report_q, v1 = halves(args.data_dir)
    if args.limit:
        fit_q = sample(fit_q, args.limit, seed=0)
        report_q = sample(report_q, args.limit, seed=0)
    settings = Settings(index_dir=args.index or default_index_dir(v1), answerer="rules")
    pipeline = Pipeline(settings)
    if ensure_squad_index(pipeline, v1):
        print(f"indexed the SQuAD v1.1 paragraphs in {settings.index_dir}", file=sys.stderr)
    reader = load_reader(args.dir, backend="onnx", quantize=True)
    shipped, shipped_weight = reader.manifest.calibration, reader.manifest.passage_weight
    placeholder = AbstentionModel(("margin",), (-1.0,), 0.0, 0.0, "placeholder", 0)
    reader.manifest = replace(reader.manifest, calibration=placeholder)
    answerer = ReaderAnswerer(reader, load_lexicon())
    print(f"reading {len(fit_q)} + {len(report_q)} questions", file=sys.stderr)
    fit_read = read_all(pipeline, answerer, fit_q)
    report_read = read_all(pipeline, answerer, report_q)
    news_fit_read: list[Reading] = []
    news_report_read: list[Reading] = []
    if not args.no_news and (args.news / NEWS_QUESTIONS).is_file():
        news_fit_q, news_report_q, news_articles = news_halves(args.news)
        news = news_pipeline(news_articles)
        print(f"reading {len(news_fit_q)} + {len(news_report_q)} news questions", file=sys.stderr)
        news_fit_read = read_all(news, answerer, news_fit_q)
        news_report_read = read_all(news, answerer, news_report_q)
    weight, by_weight = best_weight(balanced(fit_read, news_fit_read))
    squad_fit_rows = rows_at(fit_read, weight, typed=False)
    news_fit_rows = rows_at(news_fit_read, weight, typed=False)
    fit_rows = balanced(squad_fit_rows, news_fit_rows)
    report_rows = rows_at(report_read, weight, typed=False)
    news_report_rows = rows_at(news_report_read, weight, typed=False)
    typed_rows = rows_at(fit_read, weight) + rows_at(report_read, weight)
    result: dict[str, Any] = {
        "fit_questions": len(squad_fit_rows),
        "report_questions": len(report_rows),
        "news_fit_questions": len(news_fit_rows),
        "news_report_questions": len(news_report_rows),
        "passage_weight": weight,
        "answerable_f1_by_passage_weight": by_weight,
        "held_out_answerable_f1_unweighted": round(
            float(np.mean([r.f1 for r in rows_at(report_read, 0.0) if r.answerable])), 4
        ),
    }
    if shipped is not None:  # the calibration in the manifest now, on the same held-out rows
        result["shipped"] = {
            "model": shipped.to_dict(),
            "passage_weight": shipped_weight,
            "held_out": scores(shipped, rows_at(report_read, shipped_weight, typed=False)),
        }
        if news_report_read:
            result["shipped"]["news_held_out"] = scores(
                shipped, rows_at(news_report_read, shipped_weight, typed=False)
            )

    def narrowing(rows: Sequence[Row]) -> dict[str, Any]:
        counts = [r for r in rows if r.count and r.answerable]
        return {
            "count_questions": len(counts),
            "f1_reader_span": round(float(np.mean([r.f1_untyped for r in counts])), 4)
            if counts
            else None,
            "f1_narrowed": round(float(np.mean([r.f1_narrowed for r in counts])), 4)
            if counts
            else None,
        }

    result["count_narrowing"] = {  # a rule: chosen on the fit halves, reported on the others
        "fit_squad": narrowing(squad_fit_rows),
        "fit_news": narrowing(news_fit_rows),
        "held_out_squad": narrowing(report_rows),
        "held_out_news": narrowing(news_report_rows),
    }
    counts = [r for r in typed_rows if r.count and r.answerable]
    result["count_rule"] = {  # measured on both halves: it is a rule, not a fitted value
        "count_questions": len(counts),
        "f1_with": round(float(np.mean([r.f1 for r in counts])), 4) if counts else None,
        "f1_without": round(float(np.mean([r.f1_untyped for r in counts])), 4) if counts else None,
    }
    models = {}
    for name, features in FEATURE_SETS.items():
        note = (
            f"open corpus (SQuAD v1.1 public half, {pipeline.settings.answer_passages} passages), "
            f"{len(squad_fit_rows)} questions of validation articles never trained on"
        ) + (
            f", and {len(news_fit_rows)} questions of the news fitting set (eval/fit), weighted "
            "to count as much"
            if news_fit_rows
            else ""
        )
        model, f1_threshold = fit(fit_rows, features, note)
        models[name] = model
        result[name] = {
            "model": model.to_dict(),
            "f1_max_threshold": round(f1_threshold, 4),
            "held_out_at_f1_max_threshold": scores(
                replace(model, threshold=f1_threshold), report_rows
            ),
            "fit": scores(model, fit_rows),
            "held_out": scores(model, report_rows),
        }
        if news_report_rows:
            result[name]["news_held_out"] = scores(model, news_report_rows)
    if not args.dry_run:
        manifest = replace(
            read_manifest(args.dir), calibration=models["all"], passage_weight=weight
        )
        write_manifest(args.dir, manifest)
        metrics_path = args.dir / METRICS_FILE
        if metrics_path.is_file():  # the card of a trained artifact gains these numbers
            metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
            metrics["open_corpus_calibration"] = result
            metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
            write_model_card(args.dir, manifest, metrics)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {
                "id": r.question.id,
                "span": r.span,
                "f1": r.f1,
                "margin": r.margin,
                "retrieval": r.retrieval,
                "agreement": r.agreement,
                "answerable": r.answerable,
            }
            for r in report_rows
        ]
        args.out.write_text(json.dumps({**result, "held_out_rows": rows}, indent=1) + "\n")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = parse_args(argv)
    result = run(args)
    print(
        f"passage weight {result['passage_weight']} (answerable span F1 on the fit half by weight: "
        f"{result['answerable_f1_by_passage_weight']}; held-out F1 unweighted "
        f"{result['held_out_answerable_f1_unweighted']})"
    )
    print(f"count narrowing (span F1 of 'how many' answers): {result['count_narrowing']}")
    for name in ("shipped", *FEATURE_SETS):
        if name not in result:
            continue
        r = result[name]
        print(f"{name}: threshold {r['model']['threshold']:.3f}")
        for part in ("fit", "held_out", "news_held_out"):
            if part not in r:
                continue
            s = r[part]
            print(
                f"  {part:9s} n={s['questions']:5d} overall F1 {s['overall_f1']:.3f}  "
                f"HasAns F1 {s['has_ans_f1']:.3f} (always answering {s['has_ans_f1_always_answering']:.3f})  "
                f"NoAns abstained {s['no_ans_abstained']:.3f}  confidently wrong {s['confidently_wrong']}  "
                f"ECE {s['ece']:.3f}"
            )
    print(
        "wrote the 'all' calibration into "
        + ("(dry run: nothing)" if args.dry_run else str(args.dir / "manifest.json"))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
