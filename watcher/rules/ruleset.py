"""The compiled rule set: one scan of a document, then only the rules whose terms occurred.

Evaluation order for one document, as `match` and `explain` both follow it:

1. scan title, summary and body once with the shared automata (all rules, all terms);
2. candidate rules = rules with a positive term among the patterns found (a rule always has
   one: compile rejects rules that could match a story containing none of their terms);
3. per candidate, in spec order: the feeds filter, the languages filter, the boolean tree,
   then the score against min_score.

Score: each distinct term that fired (outside NOT) adds the weight of the best field it was
found in: title 3, summary 2, body 1. A proximity expression counts as one term. One text span
scores once: a term whose hit covers words another term already scored adds nothing there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from watcher.errors import RuleError
from watcher.rules.automaton import Automata
from watcher.rules.compile import (
    CompiledRule,
    Compiler,
    check_list,
    check_spec,
    list_shape_problem,
)
from watcher.rules.evaluate import AllOf, AnyNode, AnyOf, Found, Leaf, Near, Node, Scan
from watcher.rules.fieldscan import FieldScan, Span
from watcher.rules.model import FIELDS, Document, Hit, RuleMatch, RuleSpec, Verdict
from watcher.rules.snippets import clip_hit, make_snippet

FIELD_WEIGHTS: Mapping[str, int] = {"title": 3, "summary": 2, "body": 1}
MAX_HITS = 100
"""Hits kept per match (every term still counts in `terms` and the score)."""

_FIELD_ORDER = {f: i for i, f in enumerate(FIELDS)}


def validate_rules(
    specs: Sequence[RuleSpec], term_lists: Mapping[str, Sequence[str]]
) -> list[RuleError]:
    """Every problem in every rule and term list, in order; never raises for bad input."""
    errors: list[RuleError] = []
    for name, entries in term_lists.items():
        errors.extend(check_list(name, entries))
    lists = {
        k: v for k, v in term_lists.items() if isinstance(v, list | tuple) and not check_list(k, v)
    }
    broken = {k for k in term_lists if k not in lists}
    compiler = Compiler(lists)
    seen: set[str] = set()
    for spec in specs:
        problems = check_spec(spec)
        if problems:
            errors.extend(problems)
            continue
        if spec.name in seen:
            errors.append(RuleError("another rule has the same name", rule=spec.name))
        seen.add(spec.name)
        try:
            compiler.compile(spec)
        except RuleError as exc:
            if not (exc.detail.startswith("unknown term list '@") and _mentions(exc, broken)):
                errors.append(exc)
    return errors


def _mentions(exc: RuleError, names: Iterable[str]) -> bool:
    """A rule using a broken list: that list's own errors already say what is wrong."""
    return any(exc.detail.startswith(f"unknown term list '@{n}'") for n in names)


class RuleSet:
    """Compiled rules; immutable after compile, so one instance can serve every worker."""

    def __init__(self, rules: Sequence[CompiledRule], automata: Automata) -> None:
        self._rules = tuple(rules)
        self._automata = automata
        self.rule_names: tuple[str, ...] = tuple(r.spec.name for r in self._rules)
        by_pid: dict[int, list[int]] = {}
        for index, rule in enumerate(self._rules):
            for pid in rule.triggers:
                by_pid.setdefault(pid, []).append(index)
        self._by_pid = {pid: tuple(v) for pid, v in by_pid.items()}
        self._needs = tuple(tuple(_needs(rule.root)) for rule in self._rules)

    @classmethod
    def compile(cls, specs: Sequence[RuleSpec], term_lists: Mapping[str, Sequence[str]]) -> RuleSet:
        """Compile every rule against one shared pattern table; raises the first RuleError."""
        compiler = Compiler(term_lists)
        for name, entries in term_lists.items():
            shape = list_shape_problem(name, entries)
            if shape is not None:
                raise shape
            compiler.parsed_list(name)  # every list must be valid, used or not
        rules: list[CompiledRule] = []
        seen: set[str] = set()
        for spec in specs:
            rule = compiler.compile(spec)
            if spec.name in seen:
                raise RuleError("another rule has the same name", rule=spec.name)
            seen.add(spec.name)
            rules.append(rule)
        return cls(rules, Automata(compiler.table))

    @property
    def pattern_count(self) -> int:
        """Distinct patterns in the automata (terms shared by rules count once)."""
        return self._automata.pattern_count

    def _scan(self, doc: Document) -> Scan:
        return self._automata.scan({"title": doc.title, "summary": doc.summary, "body": doc.body})

    def _candidates(self, doc: Document, scan: Scan) -> Iterator[CompiledRule]:
        """Rules that pass the filters and whose tree holds, in spec order (before scoring:
        min_score is the caller's last step)."""
        present: set[int] = set()
        for field_scan in scan.values():
            present.update(field_scan.occ)
        candidates: set[int] = set()
        by_pid = self._by_pid
        for pid in present:
            rules = by_pid.get(pid)
            if rules:
                candidates.update(rules)
        needs = self._needs
        for index in sorted(candidates):
            for group in needs[index]:
                if present.isdisjoint(group):
                    break
            else:
                rule = self._rules[index]
                if _filtered(rule.spec, doc) is None and rule.root.holds(scan):
                    yield rule

    def match(self, doc: Document) -> list[RuleMatch]:
        """Matching rules only, in spec order."""
        scan = self._scan(doc)
        matches: list[RuleMatch] = []
        for rule in self._candidates(doc, scan):
            found: list[Found] = []
            rule.root.collect(scan, found, False)
            terms, hits, score = _summarise(found, scan)
            if score >= rule.spec.min_score:
                matches.append(RuleMatch(rule.spec.name, terms, hits, score, rule.spec.priority))
        return matches

    def matching(self, doc: Document) -> tuple[str, ...]:
        """Names of the rules `match` would return, without cutting hits and snippets: for
        backtests and counts, where only the verdict matters (several times cheaper when
        many rules match)."""
        scan = self._scan(doc)
        names = []
        for rule in self._candidates(doc, scan):
            if rule.spec.min_score > 0:
                found: list[Found] = []
                rule.root.collect(scan, found, False)
                if _score(found) < rule.spec.min_score:
                    continue
            names.append(rule.spec.name)
        return tuple(names)

    def explain(self, doc: Document) -> list[Verdict]:
        """A verdict for every rule, with the failing part spelled out."""
        scan = self._scan(doc)
        verdicts: list[Verdict] = []
        for rule in self._rules:
            spec = rule.spec
            found: list[Found] = []
            filtered = _filtered(spec, doc)
            holds = filtered is None and rule.root.holds(scan)
            rule.root.collect(scan, found, not holds)
            _, hits, score = _summarise(found, scan)
            if filtered is not None:
                reason = filtered
            elif not holds:
                reason = rule.root.why_not(scan)
            elif score < spec.min_score:
                reason = f"score {score:g} is below min_score {spec.min_score:g}"
            else:
                reason = f"matched with score {score:g}"
            matched = holds and score >= spec.min_score
            verdicts.append(Verdict(spec.name, matched, hits, reason, score if holds else 0.0))
        return verdicts


def _needs(node: Node) -> list[frozenset[int]]:
    """Pattern sets of which the node cannot hold without one occurring, in some field.

    A cheap necessary test before the tree: `@people AND @topics` is a candidate whenever a
    topic word occurs, but one set test on the patterns present in the story rejects it when
    no name does, where the tree would look each operand up field by field.
    """
    if isinstance(node, Leaf):
        return [frozenset((node.pid,))]
    if isinstance(node, AnyOf):
        return [node.pids]
    if isinstance(node, AllOf):
        return [group for child in node.children for group in _needs(child)]
    if isinstance(node, Near):
        return [group for operand in node.operands for group in _needs(operand)]
    if isinstance(node, AnyNode):  # some child holds: one of each child's sets suffices
        firsts = [_needs(child)[:1] for child in node.children]
        if all(firsts):
            return [frozenset().union(*(first[0] for first in firsts))]
    return []  # a negation requires nothing


def _filtered(spec: RuleSpec, doc: Document) -> str | None:
    """Why the rule's feeds/languages filters exclude this story, or None if they don't."""
    if not spec.feeds and not spec.languages:  # most rules: no generator per candidate
        return None
    tagged = any(f"tag:{tag}" in spec.feeds for tag in doc.tags)
    if spec.feeds and doc.feed not in spec.feeds and not tagged:
        return f"feed {doc.feed!r} is not in this rule's feeds ({', '.join(spec.feeds)})"
    if spec.languages and doc.language:
        primary = doc.language.replace("_", "-").split("-")[0].lower()
        if primary not in (lang.lower() for lang in spec.languages):
            return f"language {doc.language!r} is not in ({', '.join(spec.languages)})"
    return None


def _cut(field_scan: FieldScan, span: Span) -> tuple[str, str, int, int]:
    """(text, snippet, mark_start, mark_end) for one hit, cached per document field."""
    cut = field_scan.snippets.get(span)
    if cut is None:
        start, end = field_scan.char_span(span)
        text = field_scan.text
        cut = field_scan.snippets[span] = (
            clip_hit(text[start:end]),
            *make_snippet(text, start, end),
        )
    return cut


def _score(found: list[Found]) -> float:
    """Each term adds the weight of the best field where it fired on words that no other
    term already scored: Pashinyan, Пашинян* and Փաշինյան* all fold onto the one word
    "Pashinyan", which is one mention, not three (so min_score counts mentions)."""
    claimed: dict[str, list[Span]] = {}
    scored: set[str] = set()
    total = 0
    for _, term, field, span in sorted(found, key=lambda f: (-FIELD_WEIGHTS[f[2]], f[0])):
        if term in scored:
            continue
        spans = claimed.setdefault(field, [])
        if any(span[0] <= other[1] and other[0] <= span[1] for other in spans):
            continue
        spans.append(span)
        scored.add(term)
        total += FIELD_WEIGHTS[field]
    return float(total)


def _summarise(found: list[Found], scan: Scan) -> tuple[tuple[str, ...], tuple[Hit, ...], float]:
    """Distinct terms in rule order, the hits that explain the match, and the score.

    Hits come one per distinct term first (in rule order, so the terms that satisfied each
    operand of an AND lead), then the same terms in other fields: an alert that shows its first
    few hits names every term that fired rather than one word found in title, summary and body."""
    score = _score(found)
    found.sort(key=lambda f: (f[0], _FIELD_ORDER[f[2]]))
    terms: dict[str, int] = {}
    first: list[tuple[str, str, Span]] = []
    later: list[tuple[str, str, Span]] = []
    seen: set[tuple[str, str]] = set()
    for _, term, field, span in found:
        if (term, field) in seen:
            continue
        seen.add((term, field))
        (later if term in terms else first).append((term, field, span))
        terms[term] = max(terms.get(term, 0), FIELD_WEIGHTS[field])
    hits = tuple(Hit(t, f, *_cut(scan[f], sp)) for t, f, sp in (first + later)[:MAX_HITS])
    return tuple(terms), hits, score
