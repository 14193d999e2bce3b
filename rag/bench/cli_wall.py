"""Wall time of `rag ask` as a person meets it: a fresh process per question, timed from the
outside (interpreter start, imports, index load, one answer, exit).

    python -m rag.bench.cli_wall [--runs 5] [--index DIR] [--drop-caches]

"cold" is the first run after the operating system's page cache is dropped (root only,
`--drop-caches`; otherwise the first run of this script, which is only as cold as the
cache happens to be); "warm" is the median of the runs after it. The index is the one the
settings name (RAG_INDEX_DIR), built from the seeds when absent, as `rag ask` does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUESTION = "how many were wounded in Odessa?"
DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def one_run(question: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", question],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"rag ask failed ({run.returncode}): {run.stderr.strip()[-300:]}")
    return elapsed


def drop_caches() -> bool:
    try:
        os.sync()
        DROP_CACHES.write_text("3\n")
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="warm runs after the first (5)")
    parser.add_argument("--index", help="index folder (default: the settings' index_dir)")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--drop-caches", action="store_true", help="drop the page cache first")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.index:
        env["RAG_INDEX_DIR"] = args.index
    one_run(args.question, env)  # builds the index and the ONNX exports when missing
    dropped = args.drop_caches and drop_caches()
    if args.drop_caches and not dropped:
        print("could not drop the page cache (needs root); 'cold' is only a first run")
    cold = one_run(args.question, env)
    warm = [one_run(args.question, env) for _ in range(max(1, args.runs))]
    load = os.getloadavg()[0]
    print("| `rag ask` wall | seconds | runs |\n|---|---:|---:|")
    print(f"| {'cold (page cache dropped)' if dropped else 'first'} | {cold:.2f} | 1 |")
    print(f"| warm, median | {statistics.median(warm):.2f} | {len(warm)} |")
    print(f"| warm, max | {max(warm):.2f} | {len(warm)} |")
    print(f"load average at the end: {load:.2f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
