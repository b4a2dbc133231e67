"""Warnings about terms that are valid but likely to over-match, for `watcher check`.

Why warnings and not errors: a short or common stem is sometimes what a user means, and the
matcher already keeps stems under MIN_CROSS_SCRIPT_STEM letters to their script; the warning
says what happens and how to say it explicitly (^term pins a term to its script, Name+
matches a name's endings without a wildcard's arbitrary continuations).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Final

from watcher.errors import RuleError
from watcher.rules.compile import MIN_CROSS_SCRIPT_STEM, cross_script_short
from watcher.rules.model import RuleSpec
from watcher.rules.normalise import FOLD, normalise_text
from watcher.rules.query import parse_entry, parse_query
from watcher.rules.syntax import And, Near, Node, Not, Or, Proximity, Scoped, Term


def _split(text: str) -> list[str]:
    return text.split()


COMMON_WORDS: Final = frozenset(
    _split(
        """about above after again against america american among another around away back
    based became because become been before began being below between board body book both
    business came case century change children city close company country court cover
    day days death development different does done down during early economic education
    else end energy even every fact family federal field final first following force form
    found four free friend from full general give going good government great group half
    hand have head health help here high himself history home house however human idea
    important include information international issue just keep kind known large last later
    law lead least left less level life like line little local long made major make man
    many market media member might military million mind minister miracle miranda mirror
    mission money more most mother much music must name nation national need never news
    next night number office often order other own part party people period person place
    plan point police policy political position power president press problem program
    public question rather real really report result right road room rule said same school
    second security service several show since small social some space special start state
    still story street study such system take team than that their them then there these
    they thing think those though three through time today together told toward under until
    upon used very want water week well were west what when where which while white whole
    will with within without woman women work world would year years young"""
    )
)
"""Frequent English words: a stem in another script that folds onto the start of one of
these fires on ordinary English copy (мир* -> mir -> mirror)."""


def term_warnings(specs: Sequence[RuleSpec], term_lists: Mapping[str, Sequence[str]]) -> list[str]:
    """One line per questionable term, naming where it is; silent for valid-looking input
    and for anything that does not parse (`validate_rules` reports that)."""
    warnings: list[str] = []
    for name, entries in term_lists.items():
        if not isinstance(entries, list | tuple):
            continue
        for entry in entries:
            for term in _entry_terms(entry):
                warnings.extend(f"term list '{name}': {w}" for w in _warn(term))
    for spec in specs:
        terms: list[Term] = []
        if isinstance(spec.query, str):
            try:
                terms = list(_terms(parse_query(spec.query)))
            except RuleError:
                continue
        else:
            for entry in (*spec.any, *spec.all):
                terms.extend(_entry_terms(entry))
        warnings.extend(f"rule '{spec.name}': {w}" for t in terms for w in _warn(t))
    return list(dict.fromkeys(warnings))


def _entry_terms(entry: object) -> list[Term]:
    if not isinstance(entry, str):
        return []
    try:
        node = parse_entry(entry, allow_list=True)
    except RuleError:
        return []
    return list(_terms(node)) if isinstance(node, Term | Proximity) else []


def _terms(node: Node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Proximity):
        return list(node.terms)
    if isinstance(node, Near):
        return _terms(node.left) + _terms(node.right)
    if isinstance(node, Scoped):
        return _terms(node.child)
    if isinstance(node, And | Or):
        return [t for c in node.children for t in _terms(c)]
    if isinstance(node, Not):
        return []  # an over-matching exclusion only excludes more
    return []


def _script(text: str) -> str:
    for c in text:
        if c.isalpha():
            return unicodedata.name(c, "UNKNOWN").split()[0].title()
    return "Unknown"


def _warn(term: Term) -> list[str]:
    if term.exact or term.pinned or len(term.words) != 1 or not term.words[0].prefix:
        return []
    word = term.words[0].text
    stem = f"{word}*"
    script = _script(word)
    if cross_script_short(term):
        return [
            f"'{stem}' is a stem under {MIN_CROSS_SCRIPT_STEM} letters: it only finds words "
            f"in {script} script (no transliteration); write '^{stem}' to say so, or a "
            "longer stem to match across scripts"
        ]
    out = []
    folded = normalise_text(word, FOLD).replace(" ", "")
    if script != "Latin":
        clashes = sorted(w for w in COMMON_WORDS if w.startswith(folded))
        if clashes:
            out.append(
                f"'{stem}' reads as '{folded}' in other scripts, the start of common words "
                f"({', '.join(clashes[:3])}); write '^{stem}' to keep it to {script} script"
            )
    if word[:1].isupper():
        out.append(
            f"'{stem}' looks like a name: '{word}+' matches its case endings in az, tr, ru, hy "
            "and en without the other words that begin the same way"
        )
    return out
