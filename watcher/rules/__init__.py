"""The rule language and matcher: pure functions of rules and stories (no I/O, clock or env).

Query syntax (see `query` for the grammar, `normalise` for what "the same word" means)::

    Karabakh                   whole word, any case/accent/script: Карабах, KARABAKH; not Karabakhi
    negotiat*                  prefix of a word: negotiations; Карабах* finds Карабахе
    "peace talks"              adjacent words in order ("Nagorno-Karabakh" = "Nagorno Karabakh")
    a AND b, a b               both (adjacent terms are ANDed)
    a OR b                     either
    NOT a, a NOT b             exclusion (a NOT b = a AND NOT b)
    ( ... )                    grouping; precedence NEAR > NOT > AND > OR
    "aliyev pashinyan"~10      all the words within 10 words of each other, any order
    aliyev NEAR/10 pashinyan   same, for two terms/phrases/@lists/(a OR b) groups
    title:Karabakh             only in that field (title, summary, body); title:(a OR b)
    @karabakh                  any entry of the named term list (entries: terms, phrases, a*)
    =AA                        exact form: case, accents and script as written (acronyms)
    ^мир*                      only in the term's own script (no transliteration); prefix
                               stems under 6 letters are kept to their script anyway
    Aliyev+                    a name with its inflections (Алиева, Ալիևի, Əliyevin,
                               Paşinyanla) and its spellings in other scripts (see `names`)

Operators are uppercase only; lowercase and/or/not in a query are an error (quote them to
search for the words). A rule has either a `query` or any/all/none lists: any = OR of its
entries, all = AND, none = NOT of each, all combined with AND; an entry uses the term syntax
above (an unquoted entry with spaces is a phrase). `case_sensitive: true` stops case folding
only: accents and scripts still fold, so NATO finds NATO and НАТО but not Nato.

Every rule must require at least one term: `NOT x` alone or `a OR NOT b` would match stories
that contain none of its terms, so compile rejects them; this is what lets the matcher skip
every rule none of whose terms occur in a story.

Score (for `min_score`): each distinct term that fired outside a NOT adds the weight of the
best field it was found in, title 3, summary 2, body 1; a proximity expression is one term;
one span of text scores once, however many spellings in a list fold onto it.
A match carries the first hit per (term, field), at most ruleset.MAX_HITS of them.

Limits, all reported as RuleError: queries up to 20,000 characters, 32 nested parentheses,
1,000 parentheses in all; proximity 1..1,000 words and at most 16 words in "..."~N; a prefix
wildcard needs two letters. Known limits of matching across scripts (see `normalise`): the
transliteration is anyascii's, so Ղարաբաղ reads "Gharabagh", Алиев "Aliev" and Əliyev
"Eliyev" -- mark names with `+` (their name folding makes Aliyev+ find all three) or put
such spellings in a term list; Han and kana are matched character by
character; Thai, Lao, Khmer and Burmese are not split into words.

Modules, in the order a story meets them: normalise (words and folding), query (text ->
syntax), compile (syntax -> evaluation nodes, errors), automaton (all terms, one scan),
evaluate (boolean tree and proximity), snippets, ruleset (the public RuleSet).
"""

from watcher.rules.model import Document, Hit, RuleMatch, RuleSpec, Verdict
from watcher.rules.normalise import normalise_text
from watcher.rules.ruleset import FIELD_WEIGHTS, RuleSet, validate_rules

__all__ = [
    "FIELD_WEIGHTS",
    "Document",
    "Hit",
    "RuleMatch",
    "RuleSet",
    "RuleSpec",
    "Verdict",
    "normalise_text",
    "validate_rules",
]
