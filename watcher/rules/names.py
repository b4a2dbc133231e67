"""Names with their inflections: `Aliyev+` finds Aliyev, Алиева, Ալիևի, Əliyevin, Paşinyanla.

Why not `Aliyev*`: a prefix also takes arbitrary continuations (Karabakh* = Karabakhtan, but
Mir* = Miranda, Miroslav), while a name in Azerbaijani, Turkish, Russian or Armenian text
only ever carries a closed set of case and number endings. A name term expands, at compile
time, into one whole-word pattern per ending below, all matched in the ``name`` mode (see
`normalise`), so spellings of one name in several scripts meet and the automaton does the
rest in the same single scan.

The endings are written in their own script and appended to the name as written before it is
folded, so `Pashinyan+` + "ի" reads as Փաշինյանի would. Russian nouns ending in -а/-я
(Армения) change that vowel (Армении, Армению): for a name ending in a vowel, the Russian
endings are also tried after dropping it. English possessives need no ending ("Aliyev's" is
the word Aliyev); an English plural does (Armenians).
"""

from __future__ import annotations

from typing import Final


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    "en": ("s", "es"),
    # Azerbaijani: case endings in every vowel-harmony variant, after a consonant or a vowel
    # (n/y buffers), plural, "of/from" adjectives (-lı), and -dakı "the one in".
    "az": _words(
        "ın in un ün nın nin nun nün a ə ya yə ı i u ü nı ni nu nü yı yi yu yü da də ta "
        "tə dan dən tan tən nda ndə ndan ndən la lə yla ylə lar lər ları ləri ların lərin "
        "dakı dəki lı li lu lü ına inə una ünə ında ində ından indən"
    ),
    # Turkish: the same cases (Turkish writes them after an apostrophe for proper names,
    # which the tokenizer splits off, but agencies drop it) and its own vowel pairs.
    "tr": _words("e ye de te den ten le yle ler leri lerin deki nde nden ne nin ın in"),
    # Russian: noun and surname cases (Алиев: -а -у -ым -е -ы -ых; Пашинян: -а -у -ом -е).
    "ru": _words("а у ом ым е ы ой ою ей ого ому ых ыми ами ам ах и ю ем ям ях ями"),
    # Armenian: genitive/dative -ի, definite -ը/-ն, ablative -ից, instrumental -ով, locative
    # -ում, plural -ներ and its cases.
    "hy": _words("ի ին ը ն ից ով ում ու ուն ներ ները ների ներին ներից ներով"),
}
"""Endings per language; `name_forms` uses all of them (a name in a feed of one language is
often inflected by the rules of another, as in Azerbaijani copy quoting Russian)."""

_RU_VOWEL_STEM: Final = ("а", "я", "a")
_RU_AFTER_VOWEL: Final = ("и", "ю", "ей", "ой", "е", "у", "ы")


def name_forms(name: str) -> list[str]:
    """The name as written and with every ending, deduplicated, in a stable order."""
    forms = [name]
    for endings in SUFFIXES.values():
        forms.extend(name + ending for ending in endings)
    lowered = name.lower()
    if lowered.endswith(_RU_VOWEL_STEM) and len(name) > 3:
        forms.extend(name[:-1] + ending for ending in _RU_AFTER_VOWEL)
    return list(dict.fromkeys(forms))
