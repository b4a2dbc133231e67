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

Operators are uppercase only; lowercase and/or/not in a query are an error (quote them to
search for the words). A rule has either a `query` or any/all/none lists: any = OR of its
entries, all = AND, none = NOT of each, all combined with AND; an entry uses the term syntax
above (an unquoted entry with spaces is a phrase). `case_sensitive: true` stops case folding
only: accents and scripts still fold, so NATO finds NATO and НАТО but not Nato.

Every rule must require at least one term: `NOT x` alone or `a OR NOT b` would match stories
that contain none of its terms, so compile rejects them; this is what lets the matcher skip
every rule none of whose terms occur in a story.
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
