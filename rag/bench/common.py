"""What every benchmark part shares: latency summaries, memory, the machine, tables."""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of a non-empty sample.

    >>> percentile([1, 2, 3, 4], 0.5), percentile([1, 2, 3, 4], 0.99)
    (2, 4)
    """
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


@dataclass(frozen=True)
class Latency:
    """A latency sample in milliseconds."""

    n: int
    p50: float
    p95: float
    p99: float
    mean: float

    @classmethod
    def of_seconds(cls, seconds: Sequence[float]) -> Latency:
        """
        >>> Latency.of_seconds([0.001, 0.002, 0.003]).p50
        2.0
        """
        ms = [s * 1000 for s in seconds]
        if not ms:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        return cls(
            len(ms),
            round(percentile(ms, 0.50), 2),
            round(percentile(ms, 0.95), 2),
            round(percentile(ms, 0.99), 2),
            round(statistics.fmean(ms), 2),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def anon_mb(pid: int | None = None) -> float | None:
    """Anonymous resident memory (the heap; not the memory-mapped index files, whose pages
    count in the RSS while they are cached) in MB; None off Linux."""
    status = Path(f"/proc/{pid or os.getpid()}/status")
    if not status.is_file():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("RssAnon:"):
            return round(int(line.split()[1]) * 1024 / 1e6, 1)
    return None


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default), in MB (Linux: /proc; else psutil)."""
    statm = Path(f"/proc/{pid or os.getpid()}/statm")
    if statm.is_file():
        pages = int(statm.read_text().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 1e6, 1)
    import psutil  # type: ignore[import-untyped]

    return round(psutil.Process(pid or os.getpid()).memory_info().rss / 1e6, 1)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def machine() -> dict[str, Any]:
    """What the numbers were measured on (the load average says how busy it was)."""
    import faiss
    import numpy

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "faiss": faiss.__version__,
        "load_average_at_start": load_average(),
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return info


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; floats get up to 3 significant decimals.

    >>> print(table(["a", "b"], [[1, 2.5]]))
    | a | b |
    |---|---|
    | 1 | 2.5 |
    """

    def cell(value: Any) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "-"
            return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
