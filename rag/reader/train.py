"""Train the reader's LoRA adapter and head; write the artifact, its model card and its metrics.

    # the shipped run: this 2-core CPU, bf16 autocast, a 100-minute budget
    nohup python -m rag.reader.train --out rag/data/reader --epochs 2 --lr 1e-3 \
        --max-minutes 100 --synthetic 3000 > reader-train.log 2>&1 &
    python -m rag.reader.train --out rag/data/reader ... --resume   # after an interruption
    python -m rag.reader.train --out DIR --init-from rag/data/reader --lr 5e-4 ...  # a second pass
    python -m rag.reader.train --out /tmp/r --max-examples 64 --epochs 1 --max-eval 64   # smoke

On a CPU, batches are bucketed by length and padded to a multiple of 32 tokens, and the
learning-rate schedule decays to 0 at whichever comes first, the planned epochs or
--max-minutes of training. A checkpoint is written every --checkpoint-minutes to
--checkpoint-dir (default: the --out folder's name + "-checkpoint"); --resume continues from it.
Seeded: the sample, the initialization and the batch order depend only on --seed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rag.embedding import BUNDLED_MODEL_NAME, bundled_model_path, weights_checksum
from rag.reader.artifact import (
    METRICS_FILE,
    ReaderManifest,
    load_artifact,
    save_artifact,
    verify_artifact,
)
from rag.reader.card import write_model_card
from rag.reader.checkpoint import Checkpointer
from rag.reader.data import DEFAULT_DATA_DIR, DataMissing, QAExample, load_split
from rag.reader.features import answer_positions, encode
from rag.reader.inference import Reader, TorchSpanModel
from rag.reader.model import (
    LoraSettings,
    SpanReader,
    adapter_tensors,
    build_reader,
    load_adapter,
    load_tokenizer,
)
from rag.reader.schedule import BatchPlan, Budget, Progress, TrainState
from rag.reader.validation import read_all, score

BASE_SOURCE_FILE = "base-source.json"  # beside a reduced-precision copy of the base (pack.py)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m rag.reader.train", description=__doc__.split("\n")[0]
    )
    p.add_argument("--out", type=Path, required=True, help="artifact folder to write")
    p.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="holds squadshifts/, squad/"
    )
    p.add_argument("--base", type=Path, default=None, help="base model folder (default: bundled)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-4, help="learning rate of the LoRA matrices")
    p.add_argument("--head-lr", type=float, default=None, help="of the head (default: --lr)")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=float, default=0.06, help="share of steps warming up")
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=int, default=32)
    p.add_argument("--lora-dropout", type=float, default=0.1)
    p.add_argument("--max-seq-len", type=int, default=256)
    p.add_argument("--stride", type=int, default=128, help="tokens shared by adjacent windows")
    p.add_argument("--max-question-tokens", type=int, default=64)
    p.add_argument("--max-answer-tokens", type=int, default=30)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--max-examples", type=int, default=None, help="train on a seeded sample")
    p.add_argument("--max-eval", type=int, default=None, help="validate on a seeded sample")
    p.add_argument("--eval-batch-size", type=int, default=256)
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    p.add_argument(
        "--precision", choices=("bf16", "fp32"), default="bf16", help="autocast (CPU or GPU)"
    )
    p.add_argument("--pad-multiple", type=int, default=32, help="batches padded to a multiple")
    p.add_argument(
        "--max-minutes", type=float, default=None, help="training time budget (schedule follows)"
    )
    p.add_argument("--checkpoint-dir", type=Path, default=None)
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint-dir")
    p.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="start from this artifact's adapter and head (a second pass); its LoRA settings win",
    )
    p.add_argument(
        "--synthetic",
        type=int,
        default=0,
        help="add this many generated conflict-style examples (rag.reader.synthetic)",
    )
    p.add_argument(
        "--synthetic-reports",
        type=int,
        default=0,
        help="add this many generated examples of updated figures and of figures by named "
        "sources (rag.reader.synthetic_reports)",
    )
    args = p.parse_args(argv)
    if args.checkpoint_dir is None:
        args.checkpoint_dir = args.out.with_name(args.out.name + "-checkpoint")
    room = args.max_seq_len - args.max_question_tokens - 3  # [CLS] q [SEP] context [SEP]
    if not 0 <= args.stride < room:
        p.error(f"--stride must be below the context room of a window ({room} tokens)")
    return args


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def sample(examples: list[QAExample], limit: int | None, seed: int) -> list[QAExample]:
    if limit is None or limit >= len(examples):
        return examples
    picked = sorted(random.Random(seed).sample(range(len(examples)), limit))
    return [examples[i] for i in picked]


def base_identity(base_dir: Path) -> tuple[str, dict[str, Any]]:
    """sha256 of the base's original weights, and a note when training reads a packed copy."""
    actual = weights_checksum(base_dir)
    source = base_dir / BASE_SOURCE_FILE
    if not source.is_file():
        return actual, {}
    info = json.loads(source.read_text(encoding="utf-8"))
    if info.get("copy_sha256") != actual:
        raise SystemExit(
            f"{base_dir}: the packed base does not match {BASE_SOURCE_FILE}; repack it"
        )
    return str(info["original_sha256"]), {"base_copy": info.get("note", "packed copy")}


def warm_start_settings(
    directory: Path, base_dir: Path, asked: LoraSettings
) -> tuple[LoraSettings, dict[str, Any]]:
    """The LoRA settings of the artifact a second pass starts from, and what the manifest keeps
    of it (its adapter's checksum and its own training), so the card can add the times up."""
    manifest = verify_artifact(directory, base_dir)
    if (manifest.lora.rank, manifest.lora.alpha) != (asked.rank, asked.alpha):
        print(
            f"--init-from {directory}: rank {manifest.lora.rank}, alpha {manifest.lora.alpha} "
            f"(the artifact's) instead of {asked.rank}, {asked.alpha}",
            flush=True,
        )
    lora = LoraSettings(manifest.lora.rank, manifest.lora.alpha, asked.dropout)
    before = manifest.training or {}
    note = {
        "init_from": {
            "adapter_sha256": manifest.adapter_sha256,
            "train_seconds": before.get("train_seconds"),
            "train_windows": before.get("train_windows"),
            "lr": before.get("lr"),
            "hardware": before.get("hardware"),
            "init_from": before.get("init_from"),
        }
    }
    return lora, note


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"1x {torch.cuda.get_device_name(device)}"
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def train_features(
    tokenizer: Any, examples: list[QAExample], args: argparse.Namespace
) -> dict[str, torch.Tensor]:
    encoded = encode(
        tokenizer,
        [e.question for e in examples],
        [e.context for e in examples],
        max_seq_len=args.max_seq_len,
        stride=args.stride,
        max_question_tokens=args.max_question_tokens,
        pad_to_max=True,
    )
    starts, ends = answer_positions(
        encoded,
        np.array([e.answer_start for e in examples], dtype=np.int64),
        np.array([e.answer_end for e in examples], dtype=np.int64),
    )
    return {
        "input_ids": torch.from_numpy(encoded.input_ids),
        "attention_mask": torch.from_numpy(encoded.attention_mask),
        "token_type_ids": torch.from_numpy(encoded.token_type_ids),
        "start": torch.from_numpy(starts),
        "end": torch.from_numpy(ends),
    }


def fit(
    reader: SpanReader,
    features: dict[str, torch.Tensor],
    args: argparse.Namespace,
    device: torch.device,
) -> list[float]:
    """AdamW over the LoRA matrices and the head (see rag.reader.schedule); mean loss per epoch."""
    lora = [
        p for n, p in reader.named_parameters() if p.requires_grad and not n.startswith("head.")
    ]
    head = list(reader.head.parameters())
    optimizer = torch.optim.AdamW(
        [
            {"params": lora, "lr": args.lr},
            {"params": head, "lr": args.head_lr or args.lr},
        ],
        weight_decay=args.weight_decay,
    )
    lengths = features["attention_mask"].sum(dim=1).numpy()
    plan = BatchPlan(lengths, args.batch_size, args.pad_multiple, args.seed, args.epochs)
    budget = Budget(plan.total_steps, args.warmup, args.max_minutes)
    checkpoints = Checkpointer(args.checkpoint_dir, args.checkpoint_minutes)
    state = checkpoints.resume(reader, optimizer) if args.resume else TrainState()
    loss_fn = torch.nn.CrossEntropyLoss()
    bf16 = args.precision == "bf16"
    progress = Progress(plan, budget, state)
    reader.train()
    for epoch, _step, batch in plan.batches(start=state.step):
        budget.elapsed = state.elapsed + progress.seconds()
        factor = budget.factor(state.step)
        if factor is None:
            print(f"time budget of {args.max_minutes} min reached at step {state.step}", flush=True)
            break
        for group, base_lr in zip(
            optimizer.param_groups, (args.lr, args.head_lr or args.lr), strict=True
        ):
            group["lr"] = base_lr * factor
        idx = torch.from_numpy(batch)
        width = plan.width(batch)
        inputs = [
            features[k][idx, :width].to(device)
            for k in ("input_ids", "attention_mask", "token_type_ids")
        ]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            start, end = reader(*inputs)
        gold_start, gold_end = features["start"][idx].to(device), features["end"][idx].to(device)
        loss = (loss_fn(start, gold_start) + loss_fn(end, gold_end)) / 2
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lora + head, 1.0)
        optimizer.step()
        state.step += 1
        state.add_loss(epoch, float(loss.detach()), len(batch))
        progress.update(len(batch), float(loss.detach()), factor)
        if checkpoints.due():
            state.elapsed += progress.lap()
            checkpoints.save(reader, optimizer, state)
    state.elapsed += progress.lap()
    progress.close()
    checkpoints.save(reader, optimizer, state)
    reader.eval()
    return state.epoch_losses()


def run(args: argparse.Namespace) -> dict[str, Any]:
    began = time.perf_counter()
    seed_everything(args.seed)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    base_dir = args.base or bundled_model_path()
    base_sha, base_note = base_identity(base_dir)
    split = load_split(args.data_dir)
    train = sample(split.train, args.max_examples, args.seed)
    if args.synthetic:
        from rag.reader.synthetic import generate

        train = train + generate(args.synthetic, seed=args.seed)
        split.counts["train:synthetic-conflict"] = args.synthetic
    if args.synthetic_reports:
        from rag.reader.synthetic_reports import generate as generate_reports

        train = train + generate_reports(args.synthetic_reports, seed=args.seed)
        split.counts["train:synthetic-reports"] = args.synthetic_reports
    validation = sample(split.validation, args.max_eval, args.seed)
    print(f"{len(train)} training questions, {len(validation)} validation questions", flush=True)

    tokenizer = load_tokenizer(base_dir)
    t0 = time.perf_counter()
    features = train_features(tokenizer, train, args)
    tokenize_s = time.perf_counter() - t0
    print(f"{len(features['start'])} training windows ({tokenize_s:.1f} s to tokenize)", flush=True)

    lora = LoraSettings(args.rank, args.alpha, args.lora_dropout)
    init_note: dict[str, Any] = {}
    if args.init_from is not None:
        lora, init_note = warm_start_settings(args.init_from, base_dir, lora)
    reader = build_reader(base_dir, lora, seed=args.seed)
    if args.init_from is not None:
        load_adapter(reader, load_artifact(args.init_from, base_dir)[1])
    reader = reader.to(device)
    t0 = time.perf_counter()
    losses = fit(reader, features, args, device)
    train_s = time.perf_counter() - t0

    manifest = ReaderManifest(
        base_model=BUNDLED_MODEL_NAME,
        base_sha256=base_sha,
        lora=lora,
        max_seq_len=args.max_seq_len,
        stride=args.stride,
        max_question_tokens=args.max_question_tokens,
        max_answer_tokens=args.max_answer_tokens,
        adapter_sha256="",
    )
    t0 = time.perf_counter()
    evaluator = Reader(
        TorchSpanModel(reader, str(device), bf16=args.precision == "bf16"),
        tokenizer,
        manifest,
        batch_size=args.eval_batch_size,
    )
    scores, calibration = score(read_all(evaluator, validation))
    eval_s = time.perf_counter() - t0
    trainable = sum(p.numel() for p in reader.parameters() if p.requires_grad)
    settings = {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"
    }
    training = {
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "head_lr": args.head_lr or args.lr,
        "train_questions": len(train),
        "train_windows": len(features["start"]),
        "validation_questions": len(validation),
        "trainable_parameters": trainable,
        "hardware": hardware(device),
        "train_seconds": round(train_s, 1),
        "precision": args.precision,
        "max_minutes": args.max_minutes,
        "synthetic_examples": args.synthetic,
        "synthetic_report_examples": args.synthetic_reports,
        **init_note,
        **base_note,
    }
    manifest = save_artifact(
        args.out,
        adapter_tensors(reader),
        ReaderManifest(**{**manifest.__dict__, "calibration": calibration, "training": training}),
    )
    metrics = {
        "validation": scores,
        "epoch_loss": [round(x, 5) for x in losses],
        "timing_seconds": {
            "tokenize": round(tokenize_s, 1),
            "train": round(train_s, 1),
            "validate": round(eval_s, 1),
            "total": round(time.perf_counter() - began, 1),
        },
        "hardware": hardware(device),
        "torch": torch.__version__,
        "command": "python -m rag.reader.train " + " ".join(sys.argv[1:]),
        "data": split.counts | {"validation_articles": split.validation_titles},
        "settings": settings,
        "adapter_sha256": manifest.adapter_sha256,
        "base_sha256": base_sha,
        **base_note,
    }
    (args.out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_model_card(args.out, manifest, metrics)
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")  # batched tokenizing on all cores
    args = parse_args(argv)
    try:
        metrics = run(args)
    except DataMissing as exc:
        print(f"rag.reader.train: {exc}", file=sys.stderr)
        return 1
    v = metrics["validation"]
    print(
        f"validation: answerable EM {v['answerable_em']} F1 {v['answerable_f1']}; "
        f"overall F1 {v.get('overall_f1')}; unanswerable abstained {v.get('unanswerable_abstained')}%; "
        f"train {metrics['timing_seconds']['train']} s on {metrics['hardware']}; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
