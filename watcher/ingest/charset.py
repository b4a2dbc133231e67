"""Bytes whose encoding nobody declared, turned into UTF-8 before feeds and pages are read.

Why: feedparser and trafilatura each guess when neither the HTTP header nor the document
names an encoding, and both guess a Western one (feedparser tries UTF-8, then windows-1252),
so a KOI8-R or windows-1255 feed became mojibake that no rule could match and that language
detection called Ligurian. When nothing is declared (no charset in Content-Type, no BOM, no
XML `encoding=`, no HTML `<meta charset>`) and the bytes are not UTF-8, charset-normalizer
picks the encoding, the bytes are re-encoded as UTF-8, and the document is made to say so.
Declared encodings are left to the parsers: they are usually right, and a lie is theirs to
catch (feedparser reports it). Pure: bytes in, bytes out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from charset_normalizer import from_bytes

SNIFF_BYTES: Final = 4096
"""Declarations live at the start of a document: the XML one first, a meta tag in <head>."""
DETECT_BYTES: Final = 256 * 1024
"""charset-normalizer reads this much at most; its time grows with the input."""

TIE: Final = 0.01
"""Chaos (charset-normalizer's measure of mess) within which two readings are equally good."""

_BOMS: Final = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_XML_DECL: Final = re.compile(rb"^\s*<\?xml[^>]*?\?>", re.I)
_XML_ENCODING: Final = re.compile(rb"""encoding\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.I)
_META_CHARSET: Final = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_HEADER_CHARSET: Final = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)


def header_charset(headers: Mapping[str, str] | None) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == "content-type":
            m = _HEADER_CHARSET.search(value)
            return m.group(1) if m else None
    return None


def declared(body: bytes, headers: Mapping[str, str] | None = None) -> bool:
    """True if the header, a BOM, the XML declaration or a meta tag names the encoding."""
    if header_charset(headers) or body.startswith(_BOMS):
        return True
    head = body[:SNIFF_BYTES]
    decl = _XML_DECL.match(head)
    if decl and _XML_ENCODING.search(decl.group()):
        return True
    return _META_CHARSET.search(head) is not None


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by a size cap at the very end is still UTF-8
        return exc.start >= len(body) - 3 and exc.reason == "unexpected end of data"
    return True


def detect(body: bytes) -> str | None:
    """The encoding of undeclared non-UTF-8 bytes, or None (declared, UTF-8, or unknown)."""
    if body.isascii() or _is_utf8(body):
        return None
    results = list(from_bytes(body[:DETECT_BYTES]))
    if not results:
        return None
    # Western text fits several single-byte code pages equally well (cp1250, cp1257 and cp1252
    # all read "Perturbateurs" without a flaw); windows-1252 is what the web means then, and
    # what the parsers assumed before, so it wins any tie.
    least = min(m.chaos for m in results)
    if any(m.encoding == "cp1252" and m.chaos <= least + TIE for m in results):
        return "cp1252"
    return str(results[0].encoding)


def undeclared_to_utf8(
    body: bytes, headers: Mapping[str, str] | None = None
) -> tuple[bytes, str | None]:
    """(body as UTF-8 that says so, the detected encoding) for undeclared non-UTF-8 bytes;
    (body unchanged, None) otherwise."""
    if declared(body, headers):
        return body, None
    encoding = detect(body)
    if encoding is None:
        return body, None
    text = body.decode(encoding, "replace")
    decl = re.match(r"\s*<\?xml[^>]*?\?>", text, re.I)
    if decl:  # an XML declaration without encoding: say utf-8 in it
        fixed = decl.group().replace("?>", ' encoding="utf-8"?>', 1)
        return (fixed + text[decl.end() :]).encode("utf-8"), encoding
    if re.match(r"\s*(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:RDF)\b", text, re.I | re.S):
        return ('<?xml version="1.0" encoding="utf-8"?>\n' + text).encode("utf-8"), encoding
    return ('<meta charset="utf-8">' + text).encode("utf-8"), encoding
