"""Eval results for people: a terminal table, and a Markdown report with two charts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.evaluation import EvalReport, GateCheck


def _num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _answers_rows(summary: dict[str, Any]) -> list[list[str]]:
    rows = []
    for label, key in (
        ("overall", "overall"),
        ("answerable", "has_ans"),
        ("unanswerable", "no_ans"),
    ):
        s = summary[key]
        rows.append([label, str(s["n"]), _num(s["em"]), _num(s["f1"]), _num(s["number_match"])])
    return rows


def _type_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [
        [
            name,
            str(s["n"]),
            str(s["answerable"]),
            _num(s["em"]),
            _num(s["f1"]),
            _num(s["number_match"]),
            _num(s["has_ans_em"]),
            _num(s["correct_abstention"]),
        ]
        for name, s in summary["by_answer_type"].items()
    ]


def _bucket_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [
        [
            f"{b['lo']:.1f}-{b['hi']:.1f}",
            str(b["n"]),
            str(b["abstained"]),
            _num(b["accuracy"]),
            _num(b["right"]),
            _num(b["mean_confidence"]),
        ]
        for b in summary["calibration"]["buckets"]
    ]


ANSWER_HEAD = ["answers", "n", "EM", "F1", "number"]
TYPE_HEAD = [
    "answer type",
    "n",
    "answerable",
    "EM",
    "F1",
    "number",
    "EM answerable",
    "correct abstention",
]
TYPE_NOTE = "by answer type (the gold type where the set gives one, else the answerer's)"
BUCKET_HEAD = ["confidence", "n", "abstentions", "EM", "right", "mean confidence"]


def _table(head: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return indent + "  ".join([first, *rest])

    return [line(head), *(line(r) for r in rows)]


def _threshold_line(best: dict[str, Any] | None) -> str:
    if not best:
        return "not computed"
    lo, hi = best["range"]
    return (
        f"{best['threshold']:.3f} (any in ({lo:.3f}, {hi:.3f}]) gives overall "
        f"F1 {best['overall_f1']:.3f}, EM {best['overall_em']:.3f}; the current {best['current_threshold']:.2f} gives "
        f"F1 {best['current_f1']:.3f}"
    )


def _updates_lines(summary: dict[str, Any]) -> list[str]:
    u = summary.get("updates")
    if not u:
        return []
    n = u["n"]
    return [
        f"  reports: latest correct {_num(u['latest_correct'])} ({n['latest']}), "
        f"source-scoped {_num(u['source_correct'])} ({n['source']}), date-scoped "
        f"{_num(u['date_correct'])} ({n['date']}), agreement label {_num(u['agreement_accuracy'])} "
        f"({n['agreement']}), dates resolved {_num(u['dates_resolved'])} ({n['date_resolution']})"
    ]


def _wrong_line(summary: dict[str, Any]) -> str:
    cw = summary["confidently_wrong"]
    return (
        f"  confidently wrong: {_num(cw['share'])} of answers given "
        f"({cw['n']} of {cw['answered']} at confidence >= 0.8 with F1 < 0.5)"
    )


def _headline(report: EvalReport) -> str:
    s = report.settings
    return (
        f"rag eval: {report.name}: {report.summary['questions']} questions; "
        f"index {report.index_dir}; model {s['embedding_model']}; answerer {s.get('answerer', '?')}; "
        f"abstain threshold {float(s['abstain_threshold']):.3f}"
    )


def render_table(report: EvalReport, max_failures: int = 25) -> str:
    """The whole report as aligned plain text."""
    s = report.summary
    ab, rt, lat = s["abstention"], s["retrieval"], s["latency_ms"]
    lines = [_headline(report), ""]
    lines += _table(ANSWER_HEAD, _answers_rows(s))
    lines += [
        "",
        f"  abstention: correct {_num(ab['correct'])} (unanswerable abstained), "
        f"wrong {_num(ab['wrong'])} (answerable abstained), overall rate {_num(ab['rate'])}",
        f"  retrieval ({rt['n']} with a gold article): hit@1 {_num(rt['hit@1'])}  "
        f"hit@5 {_num(rt['hit@5'])}  hit@20 {_num(rt['hit@20'])}  MRR {_num(rt['mrr'])}",
        f"  latency per question: p50 {_num(lat['p50'], 1)} ms  p95 {_num(lat['p95'], 1)} ms  "
        f"max {_num(lat['max'], 1)} ms",
        f"  answer type agreement with the gold type: {_num(s['type_agreement'])}",
        _wrong_line(s),
        *_updates_lines(s),
        f"  expected calibration error: {_num(s['calibration']['ece'])} (confidence against "
        "'right': an answer with F1 >= 0.5, or an abstention where the sources do not say)",
        "",
    ]
    lines += _table(BUCKET_HEAD, _bucket_rows(s))
    lines += [
        "",
        "  best abstention threshold: " + _threshold_line(s["calibration"]["best_threshold"]),
        "",
    ]
    lines += [f"  {TYPE_NOTE}:", *_table(TYPE_HEAD, _type_rows(s))]
    failures = s["failures"]
    lines += ["", f"failures: {len(failures)}"]
    for f in failures[:max_failures]:
        got = "(abstained)" if f["got"] is None else repr(f["got"])
        expected = " | ".join(f["expected"]) or "(abstain)"
        lines += [
            f"  [{f['id']}] {f['question']}",
            f"      expected: {expected}",
            f"      got: {got}  confidence {f['confidence']:.2f}, "
            f"type {f['predicted_type']}: {f['kind']}",
        ]
    if len(failures) > max_failures:
        lines.append(f"  ... {len(failures) - max_failures} more (see --json or --report)")
    return "\n".join(lines)


def render_gate(checks: Sequence[GateCheck]) -> str:
    lines = []
    for c in checks:
        sign = ">=" if c.bound == "min" else "<="
        state = "ok  " if c.passed else "FAIL"
        lines.append(f"gate {state} {c.metric} = {_num(c.value)} (needs {sign} {c.threshold:.3f})")
    failed = sum(not c.passed for c in checks)
    lines.append(f"gate: {'passed' if not failed else f'{failed} of {len(checks)} checks failed'}")
    return "\n".join(lines)


# ----- Markdown + charts --------------------------------------------------------------------
def pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise RagError(
            "the eval report's charts need matplotlib, a dependency of the project: "
            "pip install -c constraints.txt -e . (or pip install matplotlib)"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_calibration(summary: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    buckets = summary["calibration"]["buckets"]
    fig, ax = plt.subplots(figsize=(6, 4))
    mids = [(b["lo"] + b["hi"]) / 2 for b in buckets]
    ax.bar(mids, [b["right"] for b in buckets], width=0.08, color="#4c72b0", label="right")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    for x, b in zip(mids, buckets, strict=True):
        ax.annotate(f"n={b['n']}", (x, b["right"]), ha="center", va="bottom", fontsize=8)
    ax.set(xlim=(0, 1), ylim=(0, 1.1), xlabel="confidence", ylabel="share right")
    ece = summary["calibration"].get("ece")
    ax.set_title(f"Reliability (expected calibration error {_num(ece)})")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_answer_types(summary: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    types = summary["by_answer_type"]
    names = list(types)
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [types[n]["f1"] for n in names], width=0.4, label="F1")
    ax.bar([x + 0.2 for x in xs], [types[n]["em"] for n in names], width=0.4, label="EM")
    ax.set_xticks(list(xs), [f"{n}\n(n={types[n]['n']})" for n in names], fontsize=8)
    ax.set(ylim=(0, 1.05), ylabel="score")
    ax.set_title("F1 by answer type")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_markdown(report: EvalReport, path: Path) -> list[Path]:
    """The report at `path` and its charts beside it; returns every file written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    s = report.summary
    calib_png = path.with_name(path.stem + "-calibration.png")
    types_png = path.with_name(path.stem + "-answer-types.png")
    plot_calibration(s, calib_png)
    plot_answer_types(s, types_png)
    ab, rt, lat = s["abstention"], s["retrieval"], s["latency_ms"]
    lines = [f"# Eval report: {report.name}", "", _headline(report).removeprefix("rag eval: "), ""]
    lines += ["## Answers", "", *_md_table(ANSWER_HEAD, _answers_rows(s)), ""]
    lines += [
        f"- Correct abstention (unanswerable questions abstained): {_num(ab['correct'])}",
        f"- Wrong abstention (answerable questions abstained): {_num(ab['wrong'])}",
        f"- Retrieval of the gold article ({rt['n']} questions): hit@1 {_num(rt['hit@1'])}, "
        f"hit@5 {_num(rt['hit@5'])}, hit@20 {_num(rt['hit@20'])}, MRR {_num(rt['mrr'])}",
        f"- Latency per question: p50 {_num(lat['p50'], 1)} ms, p95 {_num(lat['p95'], 1)} ms",
        f"- Answer type agreement with the gold type: {_num(s['type_agreement'])}",
        "",
        "## Calibration",
        "",
        f"- Expected calibration error: {_num(s['calibration']['ece'])} (confidence against "
        "'right': an answer with F1 >= 0.5, or an abstention where the sources do not say)",
        "- " + _wrong_line(s).strip()[0].upper() + _wrong_line(s).strip()[1:],
        "",
        *_md_table(BUCKET_HEAD, _bucket_rows(s)),
        "",
        "Best abstention threshold: " + _threshold_line(s["calibration"]["best_threshold"]),
        "",
        f"![Reliability diagram]({calib_png.name})",
        "",
        "## By answer type",
        "",
        TYPE_NOTE[0].upper() + TYPE_NOTE[1:] + ".",
        "",
        *_md_table(TYPE_HEAD, _type_rows(s)),
        "",
        f"![F1 by answer type]({types_png.name})",
        "",
        f"## Failures ({len(s['failures'])})",
        "",
    ]
    rows = [
        [
            _md_cell(f["id"]),
            _md_cell(f["question"]),
            _md_cell(" / ".join(f["expected"]) or "(abstain)"),
            _md_cell("(abstained)" if f["got"] is None else f["got"]),
            f"{f['confidence']:.2f}",
            _md_cell(f["kind"]),
        ]
        for f in s["failures"]
    ]
    lines += _md_table(["id", "question", "expected", "got", "confidence", "why"], rows)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [path, calib_png, types_png]
