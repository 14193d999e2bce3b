"""Training checkpoints a run can resume from: tensors in safetensors, the rest in JSON (no pickle).

A checkpoint is the trainable tensors (LoRA and head), AdamW's moments and step counts, and the
loop's TrainState. It is written to a temporary folder and renamed into place, so a run killed
mid-write leaves the previous checkpoint whole. Resuming continues at the same batch of the same
seeded plan; dropout draws differ, so a resumed run is equivalent, not bit-identical.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import torch

from rag.reader.model import SpanReader, adapter_mismatch, adapter_tensors, load_adapter
from rag.reader.schedule import TrainState

MODEL_FILE = "trainable.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "state.json"


class Checkpointer:
    def __init__(self, directory: Path, every_minutes: float) -> None:
        self.directory = directory
        self.every = 60.0 * every_minutes
        self.last = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.every

    def save(self, reader: SpanReader, optimizer: torch.optim.Optimizer, state: TrainState) -> None:
        from safetensors.torch import save_file

        tmp = self.directory.with_name(self.directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_file(adapter_tensors(reader), str(tmp / MODEL_FILE))
        moments: dict[str, torch.Tensor] = {}
        for index, values in optimizer.state_dict()["state"].items():
            for name, tensor in values.items():
                moments[f"{index}.{name}"] = torch.as_tensor(tensor).detach().cpu().contiguous()
        save_file(moments, str(tmp / OPTIMIZER_FILE))
        (tmp / STATE_FILE).write_text(json.dumps(state.to_dict()) + "\n", encoding="utf-8")
        old = self.directory.with_name(self.directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.directory.exists():
            os.replace(self.directory, old)
        os.replace(tmp, self.directory)
        shutil.rmtree(old, ignore_errors=True)
        self.last = time.monotonic()
        print(f"checkpoint at step {state.step} in {self.directory}", flush=True)

    def resume(self, reader: SpanReader, optimizer: torch.optim.Optimizer) -> TrainState:
        """Load the checkpoint into `reader` and `optimizer`; SystemExit when there is none."""
        from safetensors.torch import load_file

        if not (self.directory / STATE_FILE).is_file():
            raise SystemExit(f"--resume: no checkpoint in {self.directory}")
        tensors = load_file(str(self.directory / MODEL_FILE))
        problem = adapter_mismatch(reader, tensors)
        if problem:
            raise SystemExit(f"--resume: the checkpoint does not fit these settings ({problem})")
        load_adapter(reader, tensors)
        saved = load_file(str(self.directory / OPTIMIZER_FILE))
        wanted = optimizer.state_dict()
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, tensor in saved.items():
            index, name = key.split(".", 1)
            state.setdefault(int(index), {})[name] = tensor
        wanted["state"] = state
        optimizer.load_state_dict(wanted)
        loaded = TrainState.from_dict(
            json.loads((self.directory / STATE_FILE).read_text(encoding="utf-8"))
        )
        print(f"resuming at step {loaded.step} ({loaded.elapsed / 60:.1f} min trained)", flush=True)
        return loaded
