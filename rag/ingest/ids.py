"""Article ids as users have them: any string up to 512 characters, URLs in canonical form."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit, urlunsplit

from rag.errors import BadDocument

MAX_ID_CHARS = 512
# Query parameters that say how a reader arrived, not which page it is.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "ocid", "cmpid", "smid", "igshid"}
)
DEFAULT_PORTS = {"http": 80, "https": 443}


def check_id(value: object, where: str) -> str:
    """The id, stripped, or a BadDocument saying what is wrong with it.

    >>> check_id(" https://example.com/a?b=1 ", "x")
    'https://example.com/a?b=1'
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadDocument(f"{where}: id must be a string or an integer")
    doc_id = str(value).strip()
    problem = id_problem(doc_id)
    if problem:
        raise BadDocument(f"{where}: id {doc_id[:60]!r} is not allowed ({problem})")
    return doc_id


def id_problem(doc_id: str) -> str | None:
    """Why a (stripped) id cannot be used, or None."""
    if not doc_id:
        return "it is empty"
    if len(doc_id) > MAX_ID_CHARS:
        return f"{len(doc_id):,} characters; ids have 1-{MAX_ID_CHARS}"
    try:
        doc_id.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode"
    if any(unicodedata.category(ch) == "Cc" for ch in doc_id):
        return "control characters (NUL, newline, tab, ...) are not allowed in ids"
    return None


def canonical_url(url: str) -> str:
    """The URL a page is known by: scheme and host lowercased, default port, fragment and
    tracking parameters (utm_*, fbclid, ...) dropped; other URLs are returned stripped.

    >>> canonical_url("HTTPS://WWW.Example.com:443/World/Story?utm_source=x&id=7#top")
    'https://www.example.com/World/Story?id=7'
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    if parts.username or parts.password:
        host = f"{parts.netloc.rsplit('@', 1)[0]}@{host}"
    kept = [pair for pair in parts.query.split("&") if pair and not _tracking(pair)]
    return urlunsplit((scheme, host, parts.path or "/", "&".join(kept), ""))


def _tracking(pair: str) -> bool:
    key = pair.split("=", 1)[0].lower()
    return key.startswith("utm_") or key in TRACKING_PARAMS
