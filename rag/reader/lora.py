"""The LoRA settings an adapter was trained with (kept apart from the network, so reading a
manifest needs no PyTorch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TARGET_MODULES = (
    "query",
    "key",
    "value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.1
    target_modules: tuple[str, ...] = TARGET_MODULES

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "alpha": self.alpha,
            "dropout": self.dropout,
            "target_modules": list(self.target_modules),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoraSettings:
        return cls(
            rank=int(data["rank"]),
            alpha=int(data["alpha"]),
            dropout=float(data["dropout"]),
            target_modules=tuple(str(m) for m in data["target_modules"]),
        )
