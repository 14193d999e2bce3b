"""`rag ask`: one question, a stream of them (`-`), or an interactive prompt; answered here or by
a running server (`--server URL`, `RAG_SERVER_URL`), which keeps the model loaded between asks.

Every mode works on the answer document `rag ask --json` prints (`Answer.to_dict()`, the same
JSON `POST /ask` returns), so a local and a remote answer print alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from rag.errors import RagError

SERVER_ENV = "RAG_SERVER_URL"
TOKEN_ENV = "RAG_API_TOKEN"  # sent as a bearer token where the server protects reads
SERVER_TIMEOUT_S = 120.0
HISTORY_FILE = Path("~/.rag_history")
HISTORY_LENGTH = 1000
PROMPT = "? "
SOURCES_SHOWN = 300  # characters of each passage `:sources` prints
HELP = (
    "Ask a question and press Enter. :json toggles JSON output, :sources shows the passages "
    "of the last answer, :quit (or Ctrl-D) leaves."
)
NUMERIC_TYPES = {"count", "date"}  # answer types whose `normalized` value means something

Ask = Callable[[str], dict[str, Any]]


# ----- where answers come from ----------------------------------------------------------------
def local_asker(args: argparse.Namespace, one_question: bool) -> Ask:
    """The pipeline in this process: loaded once, then asked any number of times."""
    from rag.cli import _check_question, _filters, _pipeline

    # bad filters (and a bad single question) fail before the model loads
    _check_question(args) if one_question else _filters(args)
    pipeline = _pipeline(args, build_default=True)
    filters = _filters(args)
    return lambda question: dict(pipeline.ask(question, args.k, filters).to_dict())


def server_asker(server: str, args: argparse.Namespace) -> Ask:
    """POST /ask on a running `rag serve`; its errors become one-line RagErrors."""
    base = server.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise RagError(f"the server address must start with http:// or https://, not {server!r}")
    filters = {
        key: value
        for key, value in (
            ("source", args.source),
            ("published_after", args.after),
            ("published_before", args.before),
        )
        if value
    }
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if os.environ.get(TOKEN_ENV, "").strip():
        headers["Authorization"] = f"Bearer {os.environ[TOKEN_ENV].strip()}"

    def ask(question: str) -> dict[str, Any]:
        body: dict[str, Any] = {"question": question}
        if args.k is not None:
            body["top_k"] = args.k
        if filters:
            body["filters"] = filters
        try:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise RagError("the question is not valid UTF-8 text") from None
        request = urllib.request.Request(f"{base}/ask", data, headers, method="POST")
        return post(request, base)

    return ask


def post(request: urllib.request.Request, base: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(request, timeout=SERVER_TIMEOUT_S) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as exc:
        raise RagError(f"the server answered {exc.code}: {server_message(exc)}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RagError(
            f"could not reach the server at {base} ({reason}); is `rag serve` running?"
        ) from None
    except ValueError:
        raise RagError(
            f"the server at {base} did not answer with JSON; is it `rag serve`?"
        ) from None


def server_message(exc: urllib.error.HTTPError) -> str:
    """The `{"error": {"message"}}` of a refusal, or its status text."""
    try:
        return str(json.loads(exc.read())["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return str(exc.reason)


# ----- how answers print ------------------------------------------------------------------------
def render_answer(doc: dict[str, Any]) -> str:
    """An answer document as people read it (`rag ask` without --json)."""
    if doc["abstained"]:
        lines = [f"{doc['message']} (confidence {doc['confidence']:.2f})"]
        if doc["passages"]:
            lines.append("Closest passages:")
            for rank, p in enumerate(doc["passages"][:3], start=1):
                lines.append(f"  [{rank}] {p['title']} ({p['doc_id']}): {flat(p['text'])[:200]}")
        return "\n".join(lines)
    claim = f" (according to {doc['attribution']})" if doc.get("attribution") else ""
    lines = [f"Answer: {doc['answer']}{claim}"]
    if doc.get("normalized") is not None and doc.get("answer_type") in NUMERIC_TYPES:
        lines.append(f"Value: {doc['normalized']}")
    lines.append(f"Confidence: {doc['confidence']:.2f}")
    lines.append(f"Sentence: {doc['sentence']}")
    lines.append("Citations:")
    for n, c in enumerate(doc["citations"], start=1):
        lines.append(f"  [{n}] {c['title']} ({c['doc_id']}), characters {c['start']}-{c['end']}")
        lines.append(f'      "{c["quote"]}"')
    if doc.get("message"):
        lines.append(doc["message"])
    lines += report_lines(doc)
    return "\n".join(lines)


def report_lines(doc: dict[str, Any]) -> list[str]:
    """What several articles say: the agreement, then the other reports, newest first, a line
    each ("earlier: at least 12, mayor, 2024-06-03"; "later:" for a report after the chosen
    one, which a when- or where-answer can have: its surest report answers)."""
    if not doc.get("agreement"):
        return []
    head = f"Agreement: {doc['agreement']}"
    if doc.get("as_of"):
        head += f", as of {doc['as_of']}"
    sources = doc.get("independent_sources")
    if sources:
        head += f" ({sources} independent source{'s' if sources != 1 else ''})"
    lines = [head]
    shown = {(c["doc_id"], c["answer_start"]) for c in doc["citations"]}
    reports = doc.get("reports") or []  # oldest first
    chosen = next(
        (
            i
            for i, r in enumerate(reports)
            if {(c["doc_id"], c["answer_start"]) for c in r["citations"]} & shown
        ),
        len(reports),
    )
    for i in reversed(range(len(reports))):
        if i == chosen:
            continue
        report = reports[i]
        label = "also" if doc["agreement"] == "disputed" else "later" if i > chosen else "earlier"
        who = report.get("attribution") or report.get("source") or "unattributed"
        lines.append(f"  {label}: {report['answer']}, {who}, {report_when(report)}")
    return lines


def report_when(report: dict[str, Any]) -> str:
    """When a figure was given (its article's date: the timeline's order), and the day of the
    event it counts when the text names another ("the toll from Tuesday's shelling has risen to
    9", published on Friday).

    >>> report_when({"published_at": "2024-07-12T08:00:00Z", "event_date": "2024-07-09"})
    '2024-07-12 (event 2024-07-09)'
    >>> report_when({"published_at": None, "event_date": "2024-07-09"})
    '2024-07-09'
    """
    published = (report.get("published_at") or "")[:10]
    event = report.get("event_date")
    if published and event and event != published:
        return f"{published} (event {event})"
    return published or event or "undated"


def render_passages(doc: dict[str, Any]) -> str:
    """The passages an answer was read from (`:sources`)."""
    if not doc["passages"]:
        return "No passage matched."
    lines = []
    for rank, p in enumerate(doc["passages"], start=1):
        lines.append(
            f"[{rank}] {p['title']}  ({p['doc_id']}, chars {p['start']}-{p['end']}, "
            f"score {p['score']:.4f})"
        )
        lines.append("    " + flat(p["text"])[:SOURCES_SHOWN])
    return "\n".join(lines)


def flat(text: str) -> str:
    return " ".join(text.split())


def as_json(doc: dict[str, Any], indent: int | None = 2) -> str:
    return json.dumps(doc, indent=indent, ensure_ascii=False)


# ----- the three modes --------------------------------------------------------------------------
def ask_stream(ask: Ask, lines: Iterable[str], out: TextIO) -> int:
    """One JSON answer a line for each non-blank line; a bad question gets an `error` line."""
    failed = 0
    for line in lines:
        question = line.strip()
        if not question:
            continue
        try:
            doc = ask(question)
        except RagError as exc:
            failed += 1
            doc = {"question": question, "error": str(exc)}
        out.write(as_json(doc, indent=None) + "\n")
        out.flush()
    return 1 if failed else 0


class Prompt:
    """The interactive loop: questions and `:commands`, answers printed as `rag ask` prints."""

    def __init__(self, ask: Ask, json_output: bool, out: TextIO) -> None:
        self.ask = ask
        self.json_output = json_output
        self.out = out
        self.last: dict[str, Any] | None = None

    def handle(self, line: str) -> bool:
        """Answer one line; False once the user asks to leave."""
        command = line.strip()
        if not command:
            return True
        if command in {":quit", ":q", ":exit"}:
            return False
        if command == ":json":
            self.json_output = not self.json_output
            self.say(f"JSON output {'on' if self.json_output else 'off'}.")
        elif command == ":sources":
            self.say(render_passages(self.last) if self.last else "Ask a question first.")
        elif command in {":help", ":h", "?"}:
            self.say(HELP)
        elif command.startswith(":"):
            self.say(f"Unknown command {command}. {HELP}")
        else:
            try:
                self.last = self.ask(command)
            except RagError as exc:
                self.say(f"rag: {exc}")
                return True
            self.say(as_json(self.last) if self.json_output else render_answer(self.last))
        return True

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def interactive(ask: Ask, json_output: bool, out: TextIO) -> int:
    history = enable_line_editing()
    prompt = Prompt(ask, json_output, out)
    prompt.say(HELP)
    try:
        while True:
            try:
                line = input(PROMPT)
            except EOFError:
                prompt.say("")
                return 0
            if not prompt.handle(line):
                return 0
    finally:
        save_history(history)


def enable_line_editing() -> Path | None:
    """readline's line editing and history for input(), where this Python has it."""
    try:
        import readline
    except ImportError:  # e.g. Windows without pyreadline
        return None
    path = HISTORY_FILE.expanduser()
    with contextlib.suppress(OSError):  # no history yet
        readline.read_history_file(path)
    readline.set_history_length(HISTORY_LENGTH)
    return path


def save_history(path: Path | None) -> None:
    if path is None:
        return
    import readline

    with contextlib.suppress(OSError):  # a read-only home is no reason to fail
        readline.write_history_file(path)


def cmd_ask(args: argparse.Namespace) -> int:
    mode = "prompt" if args.question is None else "stream" if args.question == "-" else "one"
    server = (args.server or os.environ.get(SERVER_ENV, "")).strip()
    ask = server_asker(server, args) if server else local_asker(args, mode == "one")
    if mode == "stream":
        return ask_stream(ask, sys.stdin, sys.stdout)
    if mode == "prompt":
        return interactive(ask, args.json, sys.stdout)
    doc = ask(args.question)
    print(as_json(doc) if args.json else render_answer(doc))
    return 0


def add_ask_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "question",
        nargs="?",
        help="the question; '-' reads one a line from stdin and writes one JSON answer a line; "
        "none opens an interactive prompt",
    )
    p.add_argument(
        "--server",
        help=f"ask a running `rag serve` at this address instead of loading the model here "
        f"(default: {SERVER_ENV})",
    )
