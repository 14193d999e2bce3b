"""The hand-written eval sets pass their own validators (so neither set nor script rots)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["conflict", "updates"])
def test_the_hand_written_set_passes_its_validator(name: str) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "eval" / name / "validate.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
