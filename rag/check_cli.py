"""`rag check [--index DIR] [--json]`: verify the index and say exactly what is wrong (exit 1)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any


def cmd_check(args: argparse.Namespace) -> int:
    from rag.cli import _pipeline
    from rag.integrity import inspect_index

    pipeline = _pipeline(args)
    store = pipeline.store
    if args.upgrade:
        upgraded = pipeline.upgrade()
        print(
            f"index at {store.root} "
            + ("migrated to segments" if upgraded else "already uses segments; nothing to migrate")
        )
    report = inspect_index(store)
    if args.json:
        document = {
            "index_dir": str(store.root),
            "snapshot": report.snapshot,
            "ok": report.ok,
            "counts": report.counts,
            "problems": [{"where": p.where, "message": p.message} for p in report.problems],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    elif report.ok:
        print(
            f"index at {store.root} is whole: snapshot {report.snapshot}, "
            f"{_count(report.counts.get('segments', 1), 'segment')}, "
            f"{_count(report.counts.get('articles', 0), 'article')}, "
            f"{_count(report.counts.get('chunks', 0), 'chunk')}; "
            "checksums, counts, ids and offsets agree"
        )
    else:
        print(f"index at {store.root}: {_count(len(report.problems), 'problem')}")
        for problem in report.problems:
            print(f"  {problem}")
    return 0 if report.ok else 1


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add `rag check` to the CLI (called by rag.cli)."""
    p = add("check", cmd_check, "verify the index: manifest, checksums, counts, ids, offsets")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--upgrade",
        action="store_true",
        help="first migrate an index written before segments (the first write also does)",
    )
