"""Snippets: a short stretch of original text around a hit, with the hit's offsets inside it.

Offsets are returned rather than markup so that each output (plain text, HTML, Markdown for
Telegram) can escape the snippet first and then mark the hit its own way.
"""

from __future__ import annotations

WIDTH = 160
MAX_HIT_CHARS = 120
ELLIPSIS = "…"


def _collapse(text: str) -> str:
    """Runs of whitespace -> one space, keeping a space at either end if there was one
    (split/join: several times faster than a regex substitution)."""
    if "  " not in text and text.isprintable():  # isprintable: no \n, \t, NBSP, ...
        return text
    inner = " ".join(text.split())
    if not inner:
        return " " if text else ""
    head = " " if text[0].isspace() else ""
    tail = " " if text[-1].isspace() else ""
    return head + inner + tail


def clip_hit(text: str, limit: int = MAX_HIT_CHARS) -> str:
    """A long hit (a proximity window can span many words) is shortened in the middle."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return text[:half] + ELLIPSIS + text[-half:]


def make_snippet(text: str, start: int, end: int, width: int = WIDTH) -> tuple[str, int, int]:
    """(snippet, mark_start, mark_end) for text[start:end], whitespace collapsed, cut at word
    boundaries with an ellipsis where the document goes on."""
    hit = clip_hit(_collapse(text[start:end]).strip())
    room = max(width - len(hit), 0)
    left_room = room // 2

    # Raw slices a little wider than needed: collapsing whitespace can only shorten them.
    raw_from = max(0, start - 2 * left_room - 16)
    before = _collapse(text[raw_from:start])
    cut_left = raw_from > 0
    if len(before) > left_room:
        before, cut_left = before[len(before) - left_room :], True
    if cut_left:  # the cut may fall inside a word: start after the first space instead
        space = before.find(" ")
        before = before[space + 1 :] if space >= 0 else ""
    before = before.lstrip()

    right_room = max(width - len(hit) - len(before), 0)
    raw_to = min(len(text), end + 2 * right_room + 16)
    after = _collapse(text[end:raw_to])
    cut_right = raw_to < len(text)
    if len(after) > right_room:
        after, cut_right = after[:right_room], True
    if cut_right:
        space = after.rfind(" ")
        after = after[:space] if space >= 0 else ""
    after = after.rstrip()

    head = (ELLIPSIS if cut_left else "") + before
    tail = after + (ELLIPSIS if cut_right else "")
    return head + hit + tail, len(head), len(head) + len(hit)
