"""`rag eval`: score question sets (or a SQuAD file) through the pipeline, optionally gated."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import RagError
from rag.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from rag.pipeline import Pipeline
    from rag.squad import SquadSet

DEFAULT_SET = PROJECT_ROOT / "eval" / "seed.jsonl"


PROGRESS_LINES = 10  # without a terminal, long runs report every tenth of the way
PROGRESS_MIN_QUESTIONS = 100


def _progress(total: int) -> Any:
    if sys.stderr.isatty():
        from tqdm import tqdm  # type: ignore[import-untyped]

        def bar(items: Iterable[Any]) -> Iterable[Any]:
            return tqdm(items, total=total, desc="questions", file=sys.stderr, leave=False)

        return bar
    if total < PROGRESS_MIN_QUESTIONS:
        return None
    step = max(1, total // PROGRESS_LINES)

    def lines(items: Iterable[Any]) -> Iterator[Any]:
        for done, item in enumerate(items):
            if done and done % step == 0:
                print(f"rag eval: {done}/{total} questions", file=sys.stderr, flush=True)
            yield item

    return lines


def _squad_run(args: argparse.Namespace) -> tuple[Any, list[Any], str]:
    from rag.cli import _settings
    from rag.evaluation import sample
    from rag.pipeline import open_pipeline
    from rag.squad import default_index_dir, ensure_squad_index, load_squad, resolve_squad_file

    path = resolve_squad_file(args.squad)
    squad = load_squad(path)
    index_dir = Path(args.index) if args.index else default_index_dir(squad)
    settings = _settings(args).model_copy(update={"index_dir": index_dir})
    pipeline = open_pipeline(settings)
    if ensure_squad_index(pipeline, squad, show_progress=sys.stderr.isatty()):
        print(
            f"rag eval: indexed {len(squad.articles)} paragraphs of {path} in {index_dir}",
            file=sys.stderr,
        )
    if pipeline.answerer.name == "reader":
        warning = _seen_by_reader(pipeline, squad)
        if warning:
            print(f"rag eval: {warning}", file=sys.stderr)
    return pipeline, sample(squad.questions, args.limit, args.seed), squad.name


def _seen_by_reader(pipeline: Pipeline, squad: SquadSet) -> str | None:
    """A warning when the reader trained on articles of this SQuAD file: known by the articles
    its training held out for validation (listed in the artifact's metrics.json)."""
    from rag.reader import DEFAULT_ARTIFACT_DIR
    from rag.reader.artifact import METRICS_FILE

    directory = pipeline.settings.reader_dir or DEFAULT_ARTIFACT_DIR
    try:
        metrics = json.loads((directory / METRICS_FILE).read_text(encoding="utf-8"))
        held_out = {str(t).replace("_", " ") for t in metrics["data"]["validation_articles"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    titles = {a.title for a in squad.articles}
    if not titles & held_out or titles <= held_out:
        return None
    return (
        f"the reader trained on {len(titles - held_out)} of this file's {len(titles)} articles "
        f"(it held out {len(titles & held_out)}), so these scores flatter it; its open-corpus "
        f"scores on articles it never saw: {directory / 'MODEL_CARD.md'} "
        "(python -m rag.reader.calibrate --dry-run), or RAG_ANSWERER=rules"
    )


def _question_run(args: argparse.Namespace) -> tuple[Any, list[Any], str]:
    from rag.cli import _pipeline
    from rag.evaluation import load_questions, sample

    paths = [Path(p) for p in args.files] or [DEFAULT_SET]
    questions = load_questions(paths)
    pipeline = _pipeline(args, build_default=True)
    return pipeline, sample(questions, args.limit, args.seed), "+".join(p.stem for p in paths)


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.eval_report import pyplot, render_gate, render_table, write_markdown
    from rag.evaluation import check_gate, evaluate, load_gate

    if args.squad and args.files:
        raise RagError("give question files or --squad FILE, not both")
    if args.limit is not None and args.limit < 1:
        raise RagError("--limit must be at least 1")
    gate = load_gate(Path(args.gate)) if args.gate else None  # a bad config fails before the run
    if args.report:
        pyplot()  # a missing chart library fails before the run, not after it
    pipeline, questions, name = _squad_run(args) if args.squad else _question_run(args)
    report = evaluate(pipeline, questions, name=name, progress=_progress(len(questions)))
    checks = check_gate(report.summary, gate) if gate is not None else []
    if args.json:
        out = report.to_dict()
        if gate is not None:
            out["gate"] = [{**c.__dict__, "passed": c.passed} for c in checks]
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print(render_table(report))
    if args.report:
        written = write_markdown(report, Path(args.report))
        print(f"rag eval: wrote {', '.join(map(str, written))}", file=sys.stderr)
    if gate is not None:
        print(render_gate(checks), file=sys.stderr if args.json else sys.stdout)
        return 0 if all(c.passed for c in checks) else 1
    return 0


def register(sub: Any, add: Any) -> None:
    """Add `rag eval` to the `rag` command line (called by rag.cli)."""
    p = add("eval", cmd_eval, "score question sets or a SQuAD file: answers, abstention, retrieval")
    p.add_argument(
        "files",
        nargs="*",
        help=f"JSONL question sets (default: {DEFAULT_SET.relative_to(PROJECT_ROOT)})",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--report", metavar="PATH", help="write a Markdown report with two PNG charts")
    p.add_argument(
        "--squad", metavar="FILE", help="a SQuAD v1.1/v2.0 file (indexed in its own folder)"
    )
    p.add_argument("--limit", type=int, metavar="N", help="evaluate N questions drawn at random")
    p.add_argument(
        "--seed", type=int, default=0, metavar="S", help="random seed for --limit (default 0)"
    )
    p.add_argument(
        "--gate", metavar="CONFIG", help="JSON thresholds; exit 1 when a score falls below"
    )
