"""The hand-written eval sets pass their validators (so neither a set nor its script rots)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEV = ["--articles", "eval/updates-dev/articles.jsonl", "--questions", "eval/updates-dev.jsonl"]


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("eval/conflict/validate.py", []),
        ("eval/updates/validate.py", []),
        ("eval/updates/validate.py", [*DEV, "--prefix", "dev"]),  # the development set
    ],
)
def test_the_hand_written_set_passes_its_validator(script: str, args: list[str]) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
