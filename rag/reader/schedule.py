"""What a CPU training run needs around its loop: length-bucketed batches, a time budget that the
learning-rate schedule follows, and a progress line with windows/s and ETA.

Batches are drawn from windows of similar length and padded to a multiple of `pad_multiple`
tokens, so a batch of short windows costs what short windows cost, and the number of distinct
shapes (which is what grows the CPU allocator's caches) stays small.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


class BatchPlan:
    """Every epoch's batches, fixed by the seed: resuming at step k gives the same batches."""

    def __init__(
        self, lengths: np.ndarray, batch_size: int, pad_multiple: int, seed: int, epochs: int
    ) -> None:
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.pad_multiple = pad_multiple
        self.seed = seed
        self.epochs = epochs
        self.steps_per_epoch = math.ceil(len(self.lengths) / batch_size)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    def epoch(self, epoch: int) -> list[np.ndarray]:
        """Windows sorted by length (ties shuffled), cut into batches, batches shuffled.

        >>> plan = BatchPlan(np.array([5, 90, 6, 88]), 2, 32, seed=0, epochs=1)
        >>> sorted(sorted(b.tolist()) for b in plan.epoch(0))
        [[0, 2], [1, 3]]
        """
        rng = np.random.default_rng([self.seed, epoch])
        jitter = rng.random(len(self.lengths))
        order = np.lexsort((jitter, self.lengths))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def batches(self, start: int = 0) -> Iterator[tuple[int, int, np.ndarray]]:
        """(epoch, step, window indices) from global step `start` on."""
        for epoch in range(start // self.steps_per_epoch, self.epochs):
            for i, batch in enumerate(self.epoch(epoch)):
                step = epoch * self.steps_per_epoch + i
                if step >= start:
                    yield epoch, step, batch

    def width(self, batch: np.ndarray) -> int:
        """The batch's padded length: its longest window rounded up to `pad_multiple`.

        >>> BatchPlan(np.array([33, 40, 250]), 2, 32, 0, 1).width(np.array([0, 1]))
        64
        """
        longest = int(self.lengths[batch].max())
        return min(
            int(self.lengths.max()), math.ceil(longest / self.pad_multiple) * self.pad_multiple
        )


@dataclass
class Budget:
    """Linear warm-up then linear decay to 0 over the run, the run being whichever ends first:
    the planned steps or `max_minutes` of training time (`elapsed`, seconds, set by the loop)."""

    total_steps: int
    warmup: float
    max_minutes: float | None
    elapsed: float = 0.0

    def progress(self, step: int) -> float:
        """Share of the run done: by steps, or by time when the time budget is nearer its end.

        >>> Budget(100, 0.1, 10.0, elapsed=300.0).progress(10)
        0.5
        """
        by_steps = step / max(1, self.total_steps)
        if self.max_minutes is None:
            return by_steps
        return max(by_steps, self.elapsed / (60.0 * self.max_minutes))

    def factor(self, step: int) -> float | None:
        """The learning-rate multiplier at this point, or None when the run is over.

        >>> b = Budget(100, 0.1, None)
        >>> b.factor(0), b.factor(10), round(b.factor(55), 2), b.factor(100)
        (0.01, 1.0, 0.5, None)
        """
        p = self.progress(step)
        if p >= 1.0:
            return None
        if p < self.warmup:
            return max(0.01, p / self.warmup)
        return (1.0 - p) / (1.0 - self.warmup)


@dataclass
class TrainState:
    """What a checkpoint records besides the tensors."""

    step: int = 0
    elapsed: float = 0.0  # seconds of training, summed over resumed runs
    loss_sum: dict[int, float] = field(default_factory=dict)
    loss_count: dict[int, int] = field(default_factory=dict)

    def add_loss(self, epoch: int, loss: float, windows: int) -> None:
        self.loss_sum[epoch] = self.loss_sum.get(epoch, 0.0) + loss * windows
        self.loss_count[epoch] = self.loss_count.get(epoch, 0) + windows

    def epoch_losses(self) -> list[float]:
        return [self.loss_sum[e] / self.loss_count[e] for e in sorted(self.loss_sum)]

    def to_dict(self) -> dict[str, object]:
        return {
            "step": self.step,
            "elapsed": self.elapsed,
            "loss_sum": {str(k): v for k, v in self.loss_sum.items()},
            "loss_count": {str(k): v for k, v in self.loss_count.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> TrainState:
        sums = data.get("loss_sum") or {}
        counts = data.get("loss_count") or {}
        assert isinstance(sums, dict) and isinstance(counts, dict)
        return cls(
            step=int(data["step"]),  # type: ignore[arg-type]
            elapsed=float(data["elapsed"]),  # type: ignore[arg-type]
            loss_sum={int(k): float(v) for k, v in sums.items()},
            loss_count={int(k): int(v) for k, v in counts.items()},
        )


class Progress:
    """A tqdm bar on a terminal; a plain line every `every` seconds otherwise (nohup logs)."""

    def __init__(self, plan: BatchPlan, budget: Budget, state: TrainState, every: float = 60.0):
        self.plan, self.budget, self.every = plan, budget, every
        self.began = self.lap_began = self.last_line = time.perf_counter()
        self.windows = 0
        self.loss = float("nan")
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm  # type: ignore[import-untyped]

            self.bar = tqdm(
                total=plan.total_steps, initial=state.step, unit="step", file=sys.stderr
            )
        self.step = state.step

    def seconds(self) -> float:
        """Training seconds since the last lap."""
        return time.perf_counter() - self.lap_began

    def lap(self) -> float:
        took = self.seconds()
        self.lap_began = time.perf_counter()
        return took

    def rate(self) -> float:
        return self.windows / max(1e-9, time.perf_counter() - self.began)

    def eta_seconds(self) -> float:
        done = self.budget.progress(self.step)
        spent = time.perf_counter() - self.began
        return spent * (1 - done) / max(1e-9, done - self.start_progress) if done > 0 else math.nan

    def update(self, windows: int, loss: float, factor: float) -> None:
        if self.windows == 0:
            self.start_progress = self.budget.progress(self.step)
        self.step += 1
        self.windows += windows
        self.loss = loss if math.isnan(self.loss) else 0.98 * self.loss + 0.02 * loss
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(
                loss=f"{self.loss:.3f}", win_s=f"{self.rate():.1f}", lr_x=f"{factor:.2f}"
            )
            return
        now = time.perf_counter()
        if now - self.last_line >= self.every:
            self.last_line = now
            print(
                f"step {self.step}/{self.plan.total_steps} "
                f"({100 * self.budget.progress(self.step):.1f}% of the run), "
                f"loss {self.loss:.4f}, {self.rate():.1f} windows/s, lr x{factor:.3f}, "
                f"ETA {self.eta_seconds() / 60:.1f} min",
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
