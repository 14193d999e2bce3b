"""Pack what a training run needs for a machine without internet, under the 64 MiB it may carry.

    python -m rag.reader.pack --out .carry/reader

writes `base/` (the bundled model's config and tokenizer, its weights as float16: 45 MB instead
of 91 MB, with `base-source.json` naming the original's sha256, which the trained adapter records)
and `data/` (the training files, gzip-compressed). Then on that machine:

    python -m rag.reader.train --base .carry/reader/base --data-dir .carry/reader/data --out OUT
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from rag.embedding import bundled_model_path, weights_checksum
from rag.reader.data import DEFAULT_DATA_DIR, SQUAD_V1, SQUAD_V2, SQUADSHIFTS_FILES, find_file
from rag.reader.train import BASE_SOURCE_FILE

BASE_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def pack_base(base_dir: Path, out: Path) -> Path:
    import torch
    from safetensors.torch import load_file, save_file

    out.mkdir(parents=True, exist_ok=True)
    for name in BASE_FILES:
        if (base_dir / name).is_file():
            shutil.copy2(base_dir / name, out / name)
    tensors = load_file(str(base_dir / "model.safetensors"))
    half = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(half, str(out / "model.safetensors"), metadata={"format": "pt"})
    source = {
        "original_sha256": weights_checksum(base_dir),
        "copy_sha256": weights_checksum(out),
        "note": "float16 copy of the bundled float32 weights (trained on it; served on the original)",
    }
    (out / BASE_SOURCE_FILE).write_text(json.dumps(source, indent=2) + "\n", encoding="utf-8")
    return out


def pack_data(data_dir: Path, out: Path) -> Path:
    files = [("squadshifts", n) for n in SQUADSHIFTS_FILES] + [
        ("squad", SQUAD_V1),
        ("squad", SQUAD_V2),
    ]
    for subdir, name in files:
        source = find_file(data_dir, subdir, name)
        (out / subdir).mkdir(parents=True, exist_ok=True)
        target = out / subdir / (name + ".gz")
        raw = source.read_bytes()
        target.write_bytes(raw if source.suffix == ".gz" else gzip.compress(raw, mtime=0))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m rag.reader.pack", description=__doc__.split("\n")[0]
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = p.parse_args(argv)
    pack_base(bundled_model_path(), args.out / "base")
    pack_data(args.data_dir, args.out / "data")
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"packed {args.out}: {size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
