"""Hostile input over HTTP, table-driven, and the server's security promises.

Every case goes to one real `rag serve` (fake embedder, default limits: 2,000,000-byte bodies,
100 articles a POST, 1,000-character questions) and must get a 4xx with a clear JSON error or
a correct answer. After each: the server still answers, and the index files are byte-for-byte
what they were unless the case was an accepted write (which is then undone).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from test_reliability_http import SERVER_TOKEN, Server, cites_the_answer, serving

import api.deps
from api.schemas import AnswerOut, SearchOut
from rag.verified import FILE as VERIFIED_FILE

pytest_plugins = ["api_fixtures"]

ODESSA = "how many were wounded in Odessa?"
WRITER = {"Authorization": f"Bearer {SERVER_TOKEN}"}
JSON = {"Content-Type": "application/json"}
MAX_QUESTION, MAX_BATCH = 1000, 100
HTML = '<script>alert(1)</script><img src=x onerror="alert(2)"> & <b>bold</b>'
RTL = "كم عدد الجرحى في أوديسا؟ כמה נפצעו באודסה?"
EMOJI = "how many 🚀 drones 🛩️ over Odessa 👨‍👩‍👧?"
COMBINING = "how many were wounded in Ode\u0301ssa\u0308?"  # combining acute and diaeresis
BIDI = "how many were \u202ewounded\u202c in \u200bOdessa\u200d?"


@dataclass(frozen=True)
class Reply:
    status: int
    text: str
    content_type: str

    def json(self) -> Any:
        return json.loads(self.text)


Send = Callable[[httpx.Client, Server], Reply]


def via(method: str, path: str, **kwargs: Any) -> Send:
    """A request; `content` may be a function making the body, so a streamed body (an
    iterator, used up by one send) is made anew each time the case runs."""

    def send(http: httpx.Client, _server: Server) -> Reply:
        args = {k: v() if k == "content" and callable(v) else v for k, v in kwargs.items()}
        response = http.request(method, path, **args)
        return Reply(response.status_code, response.text, response.headers["content-type"])

    return send


def ask(body: Any) -> Send:
    return via("POST", "/ask", json=body)


def ask_raw(content: bytes) -> Send:
    return via("POST", "/ask", content=content, headers=JSON)


def post(body: Any) -> Send:
    return via("POST", "/documents", json=body, headers=WRITER)


def post_raw(content: bytes) -> Send:
    return via("POST", "/documents", content=content, headers={**WRITER, **JSON})


def raw(request: bytes) -> Send:
    """Bytes straight onto the socket, for what no well-behaved client library would send."""

    def send(_http: httpx.Client, server: Server) -> Reply:
        data = b""
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            # Send from a thread and read meanwhile: a server that answers early and closes
            # resets the connection, and a reset discards whatever was not read yet.
            sender = threading.Thread(target=_send_all, args=(sock, request))
            sender.start()
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(65536):
                    data += chunk
            sender.join(timeout=30)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        status = int(lines[0].split()[1])
        return Reply(status, body.decode("utf-8", "replace"), headers.get("content-type", ""))

    return send


def _send_all(sock: socket.socket, request: bytes) -> None:
    with contextlib.suppress(OSError):  # the server may close before it has read it all
        sock.sendall(request)


def nested(depth: int) -> bytes:
    return b'{"question": "q", "filters": ' + b'{"x": ' * depth + b"1" + b"}" * depth + b"}"


@dataclass(frozen=True)
class Case:
    send: Send
    status: int
    code: str = ""  # the JSON error's code, for a 4xx
    needle: str = ""  # in the error message (or, for an accepted case, in the body)
    answers: bool = False  # a 200 answer document that cites articles correctly
    writes: tuple[str, ...] = ()  # an accepted write of these ids, undone afterwards
    plain_http: bool = False  # refused by the HTTP parser before the app: not JSON
    check: Callable[[httpx.Client, Reply], None] | None = None


def stored_verbatim(doc_id: str, text: str) -> Callable[[httpx.Client, Reply], None]:
    def check(http: httpx.Client, _reply: Reply) -> None:
        stored = http.get(f"/documents/{doc_id}")
        assert stored.status_code == 200 and stored.json()["text"] == text
        assert stored.headers["content-type"] == "application/json"

    return check


def batch(n: int, **record: Any) -> list[dict[str, Any]]:
    return [{"id": f"b{i}", "text": f"Report {i} from Sumy.", **record} for i in range(n)]


CASES: dict[str, Case] = {
    # ----- questions: empty, long, odd bytes -------------------------------------------------
    "empty question": Case(ask({"question": ""}), 422, "empty_question", "empty"),
    "whitespace question": Case(ask({"question": " \t\n\u00a0 "}), 422, "empty_question", "empty"),
    "1 MB question": Case(ask({"question": "w" * 1_000_000}), 422, "question_too_long", "1,000"),
    "question one over the limit": Case(
        ask({"question": "a" * (MAX_QUESTION + 1)}), 422, "question_too_long", "RAG_MAX_QUESTION"
    ),
    "question at the limit": Case(
        ask({"question": ((ODESSA + " ") * 40)[:MAX_QUESTION]}), 200, answers=True
    ),
    "escaped NUL in the question": Case(ask({"question": "Odessa\u0000"}), 422, needle="NUL"),
    "raw NUL byte in the JSON": Case(
        ask_raw(b'{"question": "Odessa\x00"}'), 400, "malformed_json", "JSON"
    ),
    "invalid UTF-8 body": Case(
        ask_raw(b'{"question": "Odessa \xff\xfe"}'), 400, "malformed_json", "UTF-8"
    ),
    "overlong UTF-8 encoding": Case(
        ask_raw(b'{"question": "\xc0\xafetc"}'), 400, "malformed_json", "UTF-8"
    ),
    "lone surrogate": Case(ask_raw(b'{"question": "Odessa \\ud800"}'), 422, needle="UTF-8"),
    "deeply nested JSON array": Case(
        ask_raw(b"[" * 100_000 + b"]" * 100_000), 400, "malformed_json", "nested too deeply"
    ),
    "deeply nested JSON object": Case(
        ask_raw(nested(50_000)), 400, "malformed_json", "nested too deeply"
    ),
    "nested object where filters go": Case(ask_raw(nested(200)), 422, "invalid_request", "filters"),
    "a 5,000-digit number": Case(
        ask_raw(b'{"question": "q", "top_k": ' + b"9" * 5000 + b"}"), 400, "malformed_json"
    ),
    "truncated JSON": Case(ask_raw(b'{"question": "how'), 400, "malformed_json", "JSON"),
    "no body": Case(ask_raw(b""), 422, "invalid_request", "missing"),
    "not declared as JSON": Case(
        via("POST", "/ask", content=b'{"question": "q"}', headers={"Content-Type": "text/html"}),
        415,
        "unsupported_media_type",
        "application/json",
    ),
    # ----- questions: wrong types, top_k, unknown fields ---------------------------------------
    "question is a number": Case(ask({"question": 42}), 422, "invalid_request", "question"),
    "question is a list": Case(ask({"question": ["a", "b"]}), 422, "invalid_request", "question"),
    "question is null": Case(ask({"question": None}), 422, "invalid_request", "question"),
    "body is a list": Case(ask([ODESSA]), 422, "invalid_request", "JSON object"),
    "body is a string": Case(ask(ODESSA), 422, "invalid_request", "JSON object"),
    "huge top_k": Case(ask({"question": ODESSA, "top_k": 10**30}), 422, "invalid_request", "top_k"),
    "negative top_k": Case(ask({"question": ODESSA, "top_k": -3}), 422, "invalid_request", "top_k"),
    "zero top_k": Case(ask({"question": ODESSA, "top_k": 0}), 422, "invalid_request", "top_k"),
    "top_k as a string": Case(
        ask({"question": ODESSA, "top_k": "5"}), 422, "invalid_request", "top_k"
    ),
    "top_k as a float": Case(ask({"question": ODESSA, "top_k": 2.5}), 422, "invalid_request"),
    "top_k as a boolean": Case(ask({"question": ODESSA, "top_k": True}), 422, "invalid_request"),
    "unknown field": Case(
        ask({"question": ODESSA, "debug": True}), 422, "invalid_request", "debug"
    ),
    "filters is a string": Case(
        ask({"question": ODESSA, "filters": "Reuters"}), 422, "invalid_request", "filters"
    ),
    "filters with a bad date": Case(
        ask({"question": ODESSA, "filters": {"published_after": "yesterday"}}),
        422,
        "invalid_request",
        "YYYY-MM-DD",
    ),
    "filters with an impossible date": Case(
        ask({"question": ODESSA, "filters": {"published_before": "2024-02-30"}}), 422
    ),
    "duplicate keys: the last wins": Case(
        ask_raw(b'{"question": "who knows?", "question": "' + ODESSA.encode() + b'"}'),
        200,
        answers=True,
        needle='"answer":"three"',
    ),
    # ----- questions: text that is odd but valid --------------------------------------------------
    "right-to-left question": Case(ask({"question": RTL}), 200, answers=True),
    "emoji question": Case(ask({"question": EMOJI}), 200, answers=True),
    "combining characters": Case(ask({"question": COMBINING}), 200, answers=True),
    "bidi overrides and zero-width": Case(ask({"question": BIDI}), 200, answers=True),
    "HTML and script in the question": Case(
        ask({"question": f"{HTML} how many were wounded?"}), 200, answers=True, needle="<script>"
    ),
    # ----- GET /search ------------------------------------------------------------------------------
    "search: empty q": Case(via("GET", "/search", params={"q": ""}), 422, "empty_question"),
    "search: no q": Case(via("GET", "/search"), 422, "invalid_request", "'q'"),
    "search: NUL in q": Case(via("GET", "/search?q=Odessa%00"), 422, needle="NUL"),
    "search: invalid UTF-8 in q": Case(via("GET", "/search?q=Odessa%ff%fe"), 200),
    "search: negative k": Case(
        via("GET", "/search", params={"q": "Odessa", "k": -5}), 422, "invalid_request", "'k'"
    ),
    "search: huge k": Case(
        via("GET", "/search", params={"q": "Odessa", "k": "9" * 30}), 422, "invalid_request"
    ),
    "search: 1 MB request line": Case(
        raw(b"GET /search?q=" + b"a" * 1_000_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        400,
        plain_http=True,
    ),
    "search: 20,000-character q": Case(
        via("GET", "/search", params={"q": "b" * 20_000}), 422, "question_too_long"
    ),
    # ----- articles ---------------------------------------------------------------------------------
    "HTML and script in an article": Case(
        post({"id": "html", "text": HTML}),
        201,
        writes=("html",),
        check=stored_verbatim("html", HTML),
    ),
    "RTL, emoji and combining article": Case(
        post({"id": "mixed", "text": f"{RTL} {EMOJI} {COMBINING}"}),
        201,
        writes=("mixed",),
        check=stored_verbatim("mixed", f"{RTL} {EMOJI} {COMBINING}"),
    ),
    "unknown fields in an article are ignored": Case(
        post({"id": "extra", "text": "An article.", "evil": {"$where": "1"}}),
        201,
        writes=("extra",),
        check=lambda http, _: (
            pytest.fail("stored evil") if "evil" in http.get("/documents/extra").text else None
        ),
    ),
    "path-like id is only a name": Case(
        post({"id": "../../etc/passwd", "text": "x y"}), 201, writes=("../../etc/passwd",)
    ),
    "id with a newline": Case(
        post({"id": "a\nb", "text": "x y"}), 422, "bad_document", "not allowed"
    ),
    "id with a NUL": Case(post({"id": "a\u0000b", "text": "x y"}), 422, "bad_document"),
    "id of 513 characters": Case(post({"id": "i" * 513, "text": "x y"}), 422, "bad_document"),
    "id as an object": Case(post({"id": {"a": 1}, "text": "x y"}), 422, "bad_document", "id"),
    "duplicate ids in one batch": Case(
        post([{"id": "dup", "text": "one"}, {"id": "dup", "text": "two"}]),
        422,
        "bad_document",
        "already used",
    ),
    "a 10 MB article": Case(
        post({"id": "big", "text": "Odessa port. " * 850_000}), 413, "body_too_large", "2,000,000"
    ),
    "a 10 MB article without Content-Length": Case(
        via(
            "POST",
            "/documents",
            content=lambda: iter([b'{"text": "', *[b"Odessa port. " * 80_000] * 10, b'"}']),
            headers={**WRITER, **JSON},
        ),
        413,
        "body_too_large",
    ),
    "a Content-Length of a terabyte": Case(
        raw(
            b"POST /documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + SERVER_TOKEN.encode() + b"\r\n"
            b"Content-Length: 1000000000000\r\nConnection: close\r\n\r\n{"
        ),
        413,
        "body_too_large",
    ),
    "a batch of 10,000 articles": Case(post(batch(10_000)), 413, "too_many_documents", "100"),
    "a batch of 101 articles": Case(post(batch(MAX_BATCH + 1)), 413, "too_many_documents"),
    "an empty batch": Case(post([]), 422, "bad_document", "non-empty"),
    "one bad record in a batch": Case(
        post([*batch(3), {"id": "bad"}]), 422, "bad_document", "documents[3]"
    ),
    "text missing": Case(post({"id": "t"}), 422, "bad_document", "text"),
    "text is a number": Case(post({"text": 12}), 422, "bad_document", "text"),
    "text is whitespace": Case(post({"text": " \n\t "}), 422, "bad_document", "text"),
    "NUL in the text": Case(post({"text": "a\u0000b"}), 422, "bad_document", "NUL"),
    "bad published_at": Case(
        post({"text": "x", "published_at": "soon"}), 422, "bad_document", "published_at"
    ),
    "invalid UTF-8 article": Case(
        post_raw(b'{"id": "u", "text": "caf\xe9"}'), 400, "malformed_json", "UTF-8"
    ),
    "deeply nested article": Case(
        post_raw(b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"), 400, "malformed_json"
    ),
    # ----- paths ------------------------------------------------------------------------------------
    # ids are names (URLs and paths included), never file paths: an unknown one is not found
    "read a path-like id": Case(
        via("GET", "/documents/..%2F..%2Fetc%2Fpasswd"), 404, "document_not_found"
    ),
    "delete a path-like id": Case(
        via("DELETE", "/documents/..%2F..%2Findex", headers=WRITER), 404, "document_not_found"
    ),
    "static file traversal": Case(via("GET", "/static/..%2F..%2Fapi%2Fdeps.py"), 404, "not_found"),
    "page of 100,000 documents": Case(
        via("GET", "/documents", params={"limit": 100_000}), 422, "invalid_request", "limit"
    ),
    "method not allowed": Case(via("PUT", "/ask", json={"question": ODESSA}), 405),
}


# ----- running the table ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("hostile")) as running:
        yield running


def fingerprint(index: Path) -> dict[str, str]:
    """Every index file but the lock and the checksum cache (rag/verified.py, rewritten by reads)."""
    return {
        str(p.relative_to(index)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(index.rglob("*"))
        if p.is_file() and p.name not in (".lock", VERIFIED_FILE)
    }


def check_answer(http: httpx.Client, reply: Reply) -> None:
    """A valid answer document whose citations quote the stored articles exactly."""
    body = reply.json()
    AnswerOut.model_validate(body)
    for citation in body["citations"]:
        text = http.get(f"/documents/{citation['doc_id']}").json()["text"]
        assert text[citation["start"] : citation["end"]] == citation["quote"]
        if citation["answer_start"] is not None:
            a, b = citation["answer_start"], citation["answer_end"]
            assert cites_the_answer(text, a, b, body), (text[a:b], body["answer"])
    assert body["abstained"] == (body["answer"] is None)


def test_there_are_at_least_40_cases() -> None:
    assert len(CASES) >= 40, len(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input(server: Server, name: str) -> None:
    case = CASES[name]
    with server.client() as http:
        before = fingerprint(server.index_dir)
        try:
            reply = case.send(http, server)
            assert reply.status == case.status, reply.text[:500]
            if case.plain_http:
                assert reply.status < 500
            elif reply.status >= 400:
                error = reply.json()["error"]
                assert set(error) <= {"code", "message", "details"}
                assert not case.code or error["code"] == case.code, error
                assert len(error["message"]) > 15 and case.needle in error["message"], error
                assert "Traceback" not in reply.text
            else:
                assert reply.content_type == "application/json"
                assert case.needle in reply.text
                if case.answers:
                    check_answer(http, reply)
                if reply.text.startswith('{"results"'):
                    SearchOut.model_validate(reply.json())
                if case.check:
                    case.check(http, reply)
            if not case.writes:
                assert fingerprint(server.index_dir) == before, (
                    "a refused request changed the index"
                )
        finally:
            for doc_id in case.writes:
                http.delete(f"/documents/{quote(doc_id, safe='')}", headers=WRITER)
        # The server keeps serving, from the seed index.
        assert http.get("/healthz").status_code == 200
        answer = http.post("/ask", json={"question": ODESSA})
        assert answer.status_code == 200 and answer.json()["answer"] == "three"
        assert http.get("/readyz").json()["articles"] == 1


# ----- security -------------------------------------------------------------------------------
AUTH_CASES = {
    "no header": ({}, 401, "missing_token"),
    "bearer without a token": ({"Authorization": "Bearer"}, 401, "missing_token"),
    "basic scheme": ({"Authorization": f"Basic {SERVER_TOKEN}"}, 401, "missing_token"),
    "token in the wrong header": ({"X-Api-Token": SERVER_TOKEN}, 401, "missing_token"),
    "wrong token": ({"Authorization": "Bearer guess"}, 403, "invalid_token"),
    "token prefix": ({"Authorization": f"Bearer {SERVER_TOKEN[:-1]}"}, 403, "invalid_token"),
    "token plus more": ({"Authorization": f"Bearer {SERVER_TOKEN}x"}, 403, "invalid_token"),
    "non-ASCII token": ({"Authorization": "Bearer tökén".encode()}, 403, "invalid_token"),
}


@pytest.mark.parametrize("name", list(AUTH_CASES))
def test_writes_need_the_right_token(server: Server, name: str) -> None:
    headers, status, code = AUTH_CASES[name]
    with server.client() as http:
        before = fingerprint(server.index_dir)
        added = http.post(
            "/documents", json={"id": "intruder", "text": "Fake news."}, headers=headers
        )
        deleted = http.delete("/documents/doc-609a6206bad7a554", headers=headers)
        for response in (added, deleted):
            assert response.status_code == status, response.text
            assert response.json()["error"]["code"] == code
            assert SERVER_TOKEN not in response.text
        if status == 401:
            assert added.headers["WWW-Authenticate"] == "Bearer"
        assert fingerprint(server.index_dir) == before


def test_the_token_is_compared_in_constant_time(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    compared: list[tuple[bytes, bytes]] = []

    def spy(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return given == expected

    monkeypatch.setattr(api.deps.hmac, "compare_digest", spy)
    wrong = client.post("/documents", json={"text": "x"}, headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 403
    assert compared == [(b"no", token.encode())]


def test_cors_is_off_by_default(server: Server) -> None:
    origin = {"Origin": "https://attacker.example"}
    preflight = {**origin, "Access-Control-Request-Method": "POST"}
    with server.client() as http:
        responses = [
            http.get("/healthz", headers=origin),
            http.post("/ask", json={"question": ODESSA}, headers=origin),
            http.options("/documents", headers=preflight),
        ]
    for response in responses:
        assert not any(h.lower().startswith("access-control-") for h in response.headers)
    assert responses[2].status_code == 405


def test_cors_allows_only_the_configured_origins(make_client: Callable[..., TestClient]) -> None:
    client = make_client(cors_origins=["https://newsroom.example"])
    allowed = client.get("/healthz", headers={"Origin": "https://newsroom.example"})
    other = client.get("/healthz", headers={"Origin": "https://attacker.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://newsroom.example"
    assert "access-control-allow-origin" not in other.headers


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on the port (Linux /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_the_server_binds_loopback_by_default(server: Server) -> None:
    assert "--host" not in " ".join(map(str, server.proc.args))  # type: ignore[arg-type]
    assert listening_addresses(server.port) == {"0100007F"}  # 127.0.0.1, little-endian hex


def test_index_files_are_owner_only(server: Server) -> None:
    with server.client() as http:
        assert http.get("/readyz").status_code == 200
    for path in server.index_dir.rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
