"""detect_language on wire headlines: CLD2 first, py3langid when CLD2 abstains, None on too little."""

from __future__ import annotations

import pytest

from watcher.ingest.extract import _cld2, _iso639_1, detect_language

TITLES = [
    ("en", "Armenia and Azerbaijan agree to convene border commission"),
    ("en", "Aliyev receives EU envoy in Baku"),
    ("ru", "Пашинян и Алиев встретились в Вашингтоне"),
    ("ru", "Пашинян прибыл в Москву"),
    ("az", "Prezident İlham Əliyev Bakıda nümayəndə heyətini qəbul edib"),
    ("az", "Paşinyan Moskvaya gəlib"),
    ("hy", "Հայաստանի կառավարությունը հաստատել է նոր բյուջեն"),
    ("hy", "Փաշինյանը հանդիպել է Ալիևի հետ Վաշինգտոնում"),
    ("ka", "საქართველოს პარლამენტმა ახალი კანონი მიიღო"),
    ("ka", "თბილისში საპროტესტო აქცია გაიმართა"),
    ("tr", "Dışişleri Bakanı Bakü'de Azerbaycanlı mevkidaşıyla görüştü"),
    ("tr", "Aliyev Ankara'ya gidiyor"),
    ("uk", "Україна та Азербайджан підписали угоду про співпрацю"),
    ("fa", "نشست کمیسیون مرزی ارمنستان و آذربایجان برگزار شد"),
    ("ar", "أرمينيا وأذربيجان تتفقان على ترسيم الحدود"),
    ("de", "Armenien und Aserbaidschan einigen sich auf Grenzkommission"),
    ("fr", "Le parlement géorgien adopte une nouvelle loi sur les médias"),
]


@pytest.mark.parametrize(("code", "title"), TITLES)
def test_short_titles(code: str, title: str) -> None:
    assert detect_language(title) == code


@pytest.mark.parametrize(
    "text", ["", "   \n ", "ok", "Baku", "2026-11-28 06:00 — 14:30", "Пашинян: «Да»"]
)
def test_too_little_text_is_none(text: str) -> None:
    assert detect_language(text) is None


def test_cld2_answers_the_common_case() -> None:
    # the cheap path: if CLD2 stopped answering, every story would pay for py3langid again
    assert _cld2("Peace talks on Karabakh resumed in Brussels on Friday") == "en"
    assert _cld2("Ղարաբաղի խաղաղության բանակցությունները վերսկսվել են") == "hy"


def test_py3langid_answers_where_cld2_abstains() -> None:
    title = "Scholz trifft Macron in Paris"
    assert _cld2(title) is None
    assert detect_language(title) == "de"


@pytest.mark.parametrize("bad", ["\x00", "\x0b", "\x85", "\ufffe", "\U0010ffff", "\ud800"])
def test_characters_cld2_rejects(bad: str) -> None:
    text = f"Переговоры по Карабаху{bad} возобновились в Брюсселе в пятницу"
    assert detect_language(text) == "ru"


@pytest.mark.parametrize(
    ("cld2_code", "iso"),
    [
        ("en", "en"),
        ("iw", "he"),
        ("jw", "jv"),
        ("zh-Hant", "zh"),
        ("sr-ME", "sr"),
        ("ceb", "ceb"),
        ("un", None),
        ("xx-Arab", None),
        ("xxx", None),
        ("zzp", None),
    ],
)
def test_cld2_codes(cld2_code: str, iso: str | None) -> None:
    assert _iso639_1(cld2_code) == iso
