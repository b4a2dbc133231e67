"""Table-driven matcher tests: every case lives in tests/matcher_cases/*.yaml (issue 4).

A case is a mapping with a `name` and:

- the rule: `query` or `any`/`all`/`none`, plus any RuleSpec option (case_sensitive, fields,
  feeds, languages, min_score, priority); optional `lists` (term lists by name);
- the story: `doc`, a string (the title) or a mapping of Document fields;
- the outcome: `match: true|false`; for a match optionally `terms` (the set of fired terms),
  `field` and `text` (of the first hit), `score`; or `error` (a fragment of the RuleError
  message) with optional `position`; `xfail: reason` marks a known matcher bug or limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from watcher.errors import RuleError
from watcher.rules import Document, RuleSet, RuleSpec, validate_rules

CASES_DIR = Path(__file__).parent / "matcher_cases"
SPEC_KEYS = ("query", "case_sensitive", "fields", "feeds", "languages", "min_score", "priority")
TUPLE_KEYS = ("any", "all", "none", "fields", "feeds", "languages")
CASE_KEYS = {*SPEC_KEYS, *TUPLE_KEYS, "name", "lists", "doc", "match", "terms", "field", "text"}
CASE_KEYS |= {"score", "error", "position", "xfail"}


def _load() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        cases = yaml.safe_load(path.read_text(encoding="utf-8"))
        names: set[str] = set()
        for case in cases:
            unknown = set(case) - CASE_KEYS
            assert not unknown, f"{path.name}: {case.get('name')}: unknown keys {unknown}"
            assert case["name"] not in names, f"{path.name}: duplicate case {case['name']}"
            names.add(case["name"])
            marks = (
                [pytest.mark.xfail(reason=case["xfail"], strict=True)] if "xfail" in case else []
            )
            params.append(pytest.param(case, id=f"{path.stem}:{case['name']}", marks=marks))
    return params


def _spec(case: dict[str, Any]) -> RuleSpec:
    kwargs: dict[str, Any] = {k: case[k] for k in SPEC_KEYS if k in case}
    for key in TUPLE_KEYS:
        if key in case:
            kwargs[key] = tuple(case[key])
    return RuleSpec(name="rule", **kwargs)


def _doc(raw: str | dict[str, Any]) -> Document:
    if isinstance(raw, str):
        return Document(title=raw)
    fields = dict(raw)
    fields.setdefault("title", "")
    if "tags" in fields:
        fields["tags"] = tuple(fields["tags"])
    return Document(**fields)


def _lists(case: dict[str, Any]) -> dict[str, list[str]]:
    return {name: list(entries) for name, entries in (case.get("lists") or {}).items()}


@pytest.mark.parametrize("case", _load())
def test_case(case: dict[str, Any]) -> None:
    spec, lists = _spec(case), _lists(case)
    if "error" in case:
        errors = validate_rules([spec], lists)
        assert errors, "validate_rules found no problem"
        assert case["error"] in str(errors[0]), str(errors[0])
        with pytest.raises(RuleError) as raised:
            RuleSet.compile([spec], lists)
        assert case["error"] in str(raised.value)
        if "position" in case:
            assert raised.value.position == case["position"]
            assert errors[0].position == case["position"]
        return
    ruleset, doc = RuleSet.compile([spec], lists), _doc(case["doc"])
    matches = ruleset.match(doc)
    # The three entry points must agree on the verdict (and explain on the score).
    assert ruleset.matching(doc) == tuple(m.rule for m in matches)
    (verdict,) = ruleset.explain(doc)
    assert verdict.matched == bool(matches), verdict.reason
    if matches:
        assert verdict.score == matches[0].score
    if not case["match"]:
        assert matches == [], f"unexpected match on {[m.terms for m in matches]}"
        return
    assert len(matches) == 1, "expected a match"
    (m,) = matches
    assert m.rule == "rule"
    assert m.priority == case.get("priority", "normal")
    if "terms" in case:
        assert set(m.terms) == set(case["terms"])
    if "score" in case:
        assert m.score == case["score"]
    if "field" in case:
        assert m.hits[0].field == case["field"]
    if "text" in case:
        assert m.hits[0].text == case["text"]
    # Invariants of every match: the first hit per (term, field), only fired terms, only
    # searched fields, and the snippet marks the matched text (snippets collapse whitespace).
    assert len({(h.term, h.field) for h in m.hits}) == len(m.hits)
    assert {h.term for h in m.hits} == set(m.terms)
    assert {h.field for h in m.hits} <= set(spec.fields)
    for hit in m.hits:
        assert hit.snippet[hit.mark_start : hit.mark_end].split() == hit.text.split()
