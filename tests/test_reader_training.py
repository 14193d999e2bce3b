"""The CPU training loop's parts: length-bucketed batches, the time budget, checkpoints, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rag.embedding import bundled_model_path
from rag.reader.checkpoint import STATE_FILE, Checkpointer
from rag.reader.data import DEFAULT_DATA_DIR
from rag.reader.model import LoraSettings, adapter_tensors, build_reader
from rag.reader.schedule import BatchPlan, Budget, TrainState

BASE = bundled_model_path()
pytestmark = pytest.mark.integration  # the real base model, a short training run


def test_every_window_is_read_once_per_epoch_in_batches_of_like_length() -> None:
    lengths = np.random.default_rng(0).integers(20, 256, size=1000)
    plan = BatchPlan(lengths, batch_size=32, pad_multiple=32, seed=3, epochs=2)
    for epoch in range(2):
        batches = plan.epoch(epoch)
        seen = np.concatenate(batches)
        assert sorted(seen.tolist()) == list(range(1000))
        spread = [int(lengths[b].max() - lengths[b].min()) for b in batches[:-1]]
        assert max(spread) < 40  # sorted by length: a batch pads little
        for b in batches:
            width = plan.width(b)
            assert width % 32 == 0 or width == lengths.max()
            assert width >= lengths[b].max()
    assert [b.tolist() for b in plan.epoch(0)] != [b.tolist() for b in plan.epoch(1)]


def test_resuming_at_a_step_gives_the_same_remaining_batches() -> None:
    plan = BatchPlan(np.arange(100) % 50 + 10, batch_size=8, pad_multiple=32, seed=1, epochs=2)
    whole = [(e, s, b.tolist()) for e, s, b in plan.batches()]
    assert len(whole) == plan.total_steps == 26
    tail = [(e, s, b.tolist()) for e, s, b in plan.batches(start=17)]
    assert tail == whole[17:]


def test_the_time_budget_ends_the_run_and_the_schedule_follows_it() -> None:
    budget = Budget(total_steps=10_000, warmup=0.1, max_minutes=1.0)
    budget.elapsed = 30.0  # half the time, few steps: time decides
    assert budget.progress(10) == pytest.approx(0.5)
    assert budget.factor(10) == pytest.approx(0.5 / 0.9)
    budget.elapsed = 60.0
    assert budget.factor(10) is None
    steps = Budget(total_steps=100, warmup=0.1, max_minutes=None)
    factors = [steps.factor(s) for s in range(100)]
    assert factors[0] < factors[5] < factors[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:], strict=False))
    assert steps.factor(100) is None


def test_a_checkpoint_restores_weights_optimizer_and_state(tmp_path: Path) -> None:
    lora = LoraSettings(rank=2, alpha=4, dropout=0.0)
    reader = build_reader(BASE, lora, seed=0)
    params = [p for p in reader.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-2)
    ids = torch.randint(1000, 2000, (2, 12))
    start, end = reader(ids, torch.ones_like(ids), torch.zeros_like(ids))
    (start.sum() + end.sum()).backward()
    optimizer.step()
    state = TrainState(step=7, elapsed=12.5)
    state.add_loss(0, 2.0, 4)
    saver = Checkpointer(tmp_path / "ckpt", every_minutes=5)
    saver.save(reader, optimizer, state)
    assert json.loads((tmp_path / "ckpt" / STATE_FILE).read_text())["step"] == 7
    assert not list(tmp_path.glob("ckpt.*"))  # no temporary or old folder left behind

    fresh = build_reader(BASE, lora, seed=1)
    fresh_optimizer = torch.optim.AdamW([p for p in fresh.parameters() if p.requires_grad], lr=1e-2)
    restored = Checkpointer(tmp_path / "ckpt", every_minutes=5).resume(fresh, fresh_optimizer)
    assert (restored.step, restored.elapsed, restored.epoch_losses()) == (7, 12.5, [2.0])
    for name, tensor in adapter_tensors(reader).items():
        assert torch.equal(tensor, adapter_tensors(fresh)[name]), name
    saved = optimizer.state_dict()["state"]
    loaded = fresh_optimizer.state_dict()["state"]
    assert saved.keys() == loaded.keys()
    for index in saved:
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(
                torch.as_tensor(saved[index][key]), torch.as_tensor(loaded[index][key])
            )


def test_resume_without_a_checkpoint_says_so(tmp_path: Path) -> None:
    reader = build_reader(BASE, LoraSettings(rank=2, alpha=4, dropout=0.0))
    optimizer = torch.optim.AdamW([p for p in reader.parameters() if p.requires_grad])
    with pytest.raises(SystemExit, match="no checkpoint"):
        Checkpointer(tmp_path / "none", 5).resume(reader, optimizer)


@pytest.mark.skipif(
    not (DEFAULT_DATA_DIR / "squadshifts").is_dir() or not (DEFAULT_DATA_DIR / "squad").is_dir(),
    reason=f"training data not at {DEFAULT_DATA_DIR} (kept out of git)",
)
def test_a_budgeted_run_stops_checkpoints_and_resumes(tmp_path: Path, monkeypatch) -> None:
    from rag.reader.train import main

    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    out = tmp_path / "reader"
    common = [
        "--out",
        str(out),
        "--max-examples",
        "48",
        "--max-eval",
        "8",
        "--epochs",
        "1",
        "--max-seq-len",
        "96",
        "--stride",
        "16",
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--synthetic",
        "16",
        "--rank",
        "2",
        "--alpha",
        "4",
    ]
    assert main([*common, "--max-minutes", "0.001"]) == 0  # stops after its first step
    state = json.loads((tmp_path / "reader-checkpoint" / STATE_FILE).read_text())
    assert 1 <= state["step"] < 3
    assert main([*common, "--resume"]) == 0
    resumed = json.loads((tmp_path / "reader-checkpoint" / STATE_FILE).read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    windows = manifest["training"]["train_windows"]
    assert resumed["step"] == -(-windows // 8)  # on to the end of the epoch
    assert manifest["training"]["synthetic_examples"] == 16
    assert manifest["training"]["precision"] == "bf16"


@pytest.mark.skipif(
    not (DEFAULT_DATA_DIR / "squadshifts").is_dir() or not (DEFAULT_DATA_DIR / "squad").is_dir(),
    reason=f"training data not at {DEFAULT_DATA_DIR} (kept out of git)",
)
def test_a_second_pass_starts_from_the_artifact_it_names(tmp_path: Path, monkeypatch) -> None:
    from safetensors.torch import load_file

    from rag.reader.train import main

    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    tiny = ["--max-examples", "16", "--max-eval", "8", "--epochs", "1", "--max-seq-len", "96"]
    tiny += ["--stride", "16", "--batch-size", "8", "--device", "cpu"]
    first, second = tmp_path / "first", tmp_path / "second"
    assert main([*tiny, "--out", str(first), "--rank", "2", "--alpha", "4"]) == 0
    # a learning rate of 0 leaves the weights where they started: the first pass's, not fresh ones
    assert main([*tiny, "--out", str(second), "--init-from", str(first), "--lr", "0"]) == 0
    before = load_file(str(first / "adapter.safetensors"))
    after = load_file(str(second / "adapter.safetensors"))
    assert before.keys() == after.keys()  # rank 2 taken from the artifact, not the default 16
    assert all(torch.equal(before[k], after[k]) for k in before)
    manifest = json.loads((second / "manifest.json").read_text())
    first_manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["lora"]["rank"] == 2
    assert manifest["training"]["init_from"]["adapter_sha256"] == first_manifest["adapter_sha256"]
    card = (second / "MODEL_CARD.md").read_text()
    assert f"started from | adapter sha256 {first_manifest['adapter_sha256'][:12]}" in card
