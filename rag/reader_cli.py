"""`rag reader check|read`: verify the shipped reader adapter, or read windows of text with it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any


def _artifact_dir(args: argparse.Namespace) -> Path:
    from rag.reader import DEFAULT_ARTIFACT_DIR

    return Path(args.dir) if args.dir else DEFAULT_ARTIFACT_DIR


def cmd_check(args: argparse.Namespace) -> int:
    from rag.reader import load_reader

    directory = _artifact_dir(args)
    reader = load_reader(directory)  # raises ReaderError (one line, exit 1) when anything is off
    m = reader.manifest
    summary = {
        "artifact_dir": str(directory),
        "adapter_sha256": m.adapter_sha256,
        "base_sha256": m.base_sha256,
        "lora": m.lora.to_dict(),
        "calibration": m.calibration.to_dict() if m.calibration else None,
        "training": m.training,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"reader at {directory} is whole: adapter sha256 {m.adapter_sha256[:12]}..., "
            f"base sha256 {m.base_sha256[:12]}... matches, rank-{m.lora.rank} LoRA, "
            f"{'calibrated' if m.calibration else 'not calibrated'}"
        )
    return 0


def cmd_read(args: argparse.Namespace) -> int:
    from rag.reader import load_reader

    reader = load_reader(_artifact_dir(args), backend="onnx" if args.onnx else "torch")
    readings = reader.read(args.question, args.window)
    if args.json:
        print(json.dumps([asdict(r) for r in readings], indent=2, ensure_ascii=False))
        return 0
    for n, reading in enumerate(readings, start=1):
        print(f"[{n}] no-answer score {reading.no_answer:.3f}")
        for span in reading.spans:
            print(f"    {span.score:7.3f}  {span.start}-{span.end}  {span.text!r}")
    return 0


def register(sub: Any, add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add `rag reader check|read` to the CLI (called by rag.cli)."""
    p = add("reader", cmd_check, "the neural reader: verify its adapter, or read text with it")
    actions = p.add_subparsers(dest="reader_command", required=True)
    check = actions.add_parser("check", help="verify the adapter against its manifest and base")
    check.set_defaults(func=cmd_check)
    read = actions.add_parser("read", help="propose answer spans in windows of text")
    read.set_defaults(func=cmd_read)
    read.add_argument("question")
    read.add_argument("--window", action="append", required=True, help="a text to read (repeat)")
    read.add_argument("--onnx", action="store_true", help="run with ONNX Runtime (int8)")
    for q in (check, read):
        q.add_argument("--dir", help="artifact folder (default: rag/data/reader/)")
        q.add_argument("--json", action="store_true")
