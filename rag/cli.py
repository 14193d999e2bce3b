"""The `rag` command line: ingest, delete, info, search, ask (and the subcommands other modules add)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag.errors import RagError


def _settings(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from rag.settings import Settings

    overrides = {}
    if getattr(args, "index", None):
        overrides["index_dir"] = Path(args.index)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RagError(f"bad setting {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def _pipeline(args: argparse.Namespace, build_default: bool = False) -> Any:
    from rag.pipeline import open_pipeline

    settings = _settings(args)
    pipeline = open_pipeline(settings)
    default_index = not getattr(args, "index", None)
    if build_default and default_index and not pipeline.store.exists():
        print(f"rag: no index yet; building it from {settings.seeds_dir}", file=sys.stderr)
        report = pipeline.ensure_index()
        if report is not None:
            _print_skipped(report)
    return pipeline


def _print_skipped(report: Any) -> None:
    for problem in report.skipped:
        print(f"rag: skipped {problem}", file=sys.stderr)


def cmd_ingest(args: argparse.Namespace) -> int:
    if args.ray:
        return _ingest_on_ray(args)
    pipeline = _pipeline(args)
    paths = [Path(p) for p in args.paths]
    report = pipeline.ingest_paths(
        paths, strict=args.strict, show_progress=sys.stderr.isatty(), id_from=args.id_from
    )
    pipeline.wait_merges()  # the write is committed; let a merge it started finish
    _print_skipped(report)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        state = "written" if report.committed else "unchanged"
        print(
            f"{len(report.added)} added, {len(report.replaced)} replaced, "
            f"{len(report.folded)} folded as copies, {len(report.unchanged)} unchanged, "
            f"{len(report.skipped)} skipped; "
            f"{report.chunks_added} chunks embedded; index {state} at {pipeline.store.root}"
        )
    if args.strict and report.skipped:
        print("rag: nothing was written (--strict) because of the errors above", file=sys.stderr)
        return 1
    return 1 if report.skipped and not (report.added or report.replaced or report.unchanged) else 0


def _ingest_on_ray(args: argparse.Namespace) -> int:
    from rag.cluster.ingest import ingest_on_ray

    report = ingest_on_ray(
        _settings(args),
        [Path(p) for p in args.paths],
        args.ray,
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker,
        id_from=args.id_from,
        show_progress=not args.json,
    )
    for problem in report.skipped:
        print(f"rag: skipped {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(
            f"{report.written} written, {report.unchanged} unchanged, "
            f"{len(report.skipped)} skipped; {report.chunks} chunks embedded on Ray "
            f"in {report.seconds:.1f} s"
        )
    return 1 if report.skipped and not (report.written or report.unchanged) else 0


def cmd_delete(args: argparse.Namespace) -> int:
    pipeline = _pipeline(args)
    pipeline.delete(args.doc_id)
    pipeline.wait_merges()
    print(f"deleted {args.doc_id}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    pipeline = _pipeline(args)
    info = pipeline.info()
    if args.json:
        info["documents"] = [
            {
                "id": a.id,
                "title": a.title,
                "source": a.source,
                "published_at": a.published_at,
                "also_published": len(a.also_published),
            }
            for a in pipeline.snapshot.articles.values()
        ]
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    for key, value in info.items():
        print(f"{key:16} {value}")
    for article in pipeline.snapshot.articles.values():
        copies = f"  (+{len(article.also_published)} copies)" if article.also_published else ""
        print(f"  {article.id}  {article.title[:70]}{copies}")
    return 0


def _filters(args: argparse.Namespace) -> Any:
    from rag.retrieval import Filters

    return Filters(args.source, args.after, args.before)


def _check_question(args: argparse.Namespace) -> None:
    from rag.pipeline import check_question

    check_question(args.question, _settings(args).max_question_chars)
    _filters(args)


def cmd_search(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    _check_question(args)
    pipeline = _pipeline(args, build_default=True)
    passages = pipeline.search(args.question, args.k, _filters(args))
    if args.json:
        print(json.dumps({"results": [asdict(p) for p in passages]}, indent=2, ensure_ascii=False))
        return 0
    for rank, p in enumerate(passages, start=1):
        print(f"[{rank}] {p.title}  ({p.doc_id}, chars {p.start}-{p.end}, score {p.score:.4f})")
        print("    " + " ".join(p.text.split())[:300])
        if p.also_published:
            print("    also published by: " + copies_line(p.also_published))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.ask_cli import cmd_ask as ask

    return ask(args)


def copies_line(copies: Any) -> str:
    """Who else published a wire story ("Kyiv Post 2024-03-03, ...")."""
    return ", ".join(
        " ".join(x for x in (c.source or c.url or c.id, (c.published_at or "")[:10]) if x)
        for c in copies
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help_: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("--index", help="index folder (default: RAG_INDEX_DIR or ./index)")
        p.set_defaults(func=func)
        return p

    p = add("ingest", cmd_ingest, "add or replace articles from files and folders")
    p.add_argument(
        "paths",
        nargs="+",
        help=".txt/.md/.json/.jsonl, .html/.htm, .xml/.rss/.atom feeds, .pdf; files or folders",
    )
    p.add_argument("--strict", action="store_true", help="write nothing if any file is bad")
    p.add_argument(
        "--id-from",
        choices=("content", "path"),
        default="content",
        help="id of a .txt/.md file (or a page or PDF without a URL): a hash of its "
        "text (default), or its path, so an edited file replaces the old version",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="ingest on the Ray cluster at ADDRESS (host:port of `ray start --head`, or auto) "
        "into RAG_STORE=postgres; resumable",
    )
    p.add_argument("--workers", type=int, default=2, help="--ray: embedding actors (default 2)")
    p.add_argument(
        "--cpus-per-worker", type=float, default=1.0, help="--ray: CPUs per actor (default 1)"
    )

    p = add("delete", cmd_delete, "remove one article")
    p.add_argument("doc_id")

    p = add("info", cmd_info, "what the index holds")
    p.add_argument("--json", action="store_true")

    for name, func, help_ in (
        ("search", cmd_search, "retrieve cited passages"),
        ("ask", cmd_ask, "answer a question from the sources"),
    ):
        p = add(name, func, help_)
        if name == "ask":
            from rag.ask_cli import add_ask_arguments

            add_ask_arguments(p)
        else:
            p.add_argument("question")
        p.add_argument("-k", type=int, default=None, help="passages to return (1-50)")
        p.add_argument("--json", action="store_true")
        p.add_argument("--source", help="only articles from this source")
        p.add_argument("--after", help="only articles published on or after YYYY-MM-DD")
        p.add_argument("--before", help="only articles published on or before YYYY-MM-DD")
    for extend in EXTENSIONS:
        extend(sub, add)
    return parser


# Other modules (serve, eval, check, bench) register subcommands here.
EXTENSIONS: list[Callable[[Any, Any], None]] = []


def _load_extensions() -> None:
    import importlib

    if EXTENSIONS:
        return
    for module in ("api.cli", "rag.eval_cli", "rag.check_cli", "rag.bench_cli", "rag.reader_cli"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        EXTENSIONS.append(mod.register)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _load_extensions()
    args = build_parser().parse_args(argv)
    if getattr(args, "k", None) is not None and not 1 <= args.k <= 50:
        print("rag: -k must be between 1 and 50", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except RagError as exc:
        print(f"rag: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "rag: interrupted; the index is unchanged unless a write had completed", file=sys.stderr
        )
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
