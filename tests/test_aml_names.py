"""Japanese name matching: spellings that must match (width, kana, kanji variants, romaji systems,
passport long vowels, ん before b/m/p, name order, separators) and names that must not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.aml.model import EntryKind, ListEntry, RiskCategory
from mamori.aml.names import compare, kana_to_romaji, match, name_key, romaji_key
from mamori.aml.screening import ScreeningIndex


@pytest.mark.parametrize(("query", "listed", "reason"), [
    ("山田太郎", "山田 太郎", "same name"),
    ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ　タロウ", "NFKC"),
    ("やまだ たろう", "ヤマダ タロウ", "hiragana"),
    ("髙橋一郎", "高橋一郎", "髙→高"),
    ("山﨑", "山崎", "﨑→崎"),
    ("齋藤", "斎藤", "齋→斎"),
    ("齊藤", "斉藤", "斉→斎"),
    ("渡邊", "渡辺", "邊→辺"),
    ("渡邉", "渡辺", "邉→辺"),
    ("澤田", "沢田", "澤→沢"),
    ("濱口", "浜口", "濱→浜"),
    ("德川", "徳川", "德→徳"),
    ("Sato Taro", "サトウ タロウ", "romanised"),
    ("SATOH TAROH", "サトウ タロウ", "romanised"),
    ("Ohno", "Ono", "romanised"),
    ("Oono", "Ōno", "romanised"),
    ("Syunsuke", "Shunsuke", "romanised"),
    ("Tuyosi", "Tsuyoshi", "romanised"),
    ("Honma", "Homma", "romanised"),
    ("Nanba", "ナンバ", "romanised"),
    ("Yuuki", "ユウキ", "romanised"),
    ("Hattori", "ハットリ", "romanised"),
    ("Taro Yamada", "YAMADA, Taro", "order"),
    ("Yamada・Taro", "Taro Yamada", "order"),
    ("Kim Jong Un", "KIM Jong-un", "same name"),
])
def test_variants_that_must_match(query: str, listed: str, reason: str) -> None:
    result = compare(query, listed)
    assert result.score == 1.0, result
    assert any(reason in r for r in result.reasons), result.reasons


@pytest.mark.parametrize(("query", "listed"), [
    ("Jiro Takahashi", "Ichiro Takahashi"),
    ("高橋二郎", "高橋一郎"),
    ("Sato Taro", "Kato Taro"),
    ("佐藤", "加藤"),
    ("Tanaka Taro", "Tanaka Jiro"),
    ("Suzuki Ichiro", "Suzuki Kenji"),
    ("ヤマダ ハナコ", "Taro Yamada"),
    ("Ito", "Sato"),
])
def test_different_people_must_not_match(query: str, listed: str) -> None:
    assert match([query], [listed]) is None, compare(query, listed)


def test_a_typo_matches_fuzzily_with_its_score() -> None:
    result = match(["Mohammed Al Rashid"], ["Mohamed Al-Rashid"])
    assert result is not None and 0.88 <= result.score < 1.0
    assert any("fuzzy" in r for r in result.reasons)


def test_any_written_form_of_the_customer_can_match_any_alias() -> None:
    customer = ["山本 健太", "ヤマモト ケンタ"]
    listed = ["Kenta Yamamoto", "YAMAMOTO KENTA"]
    result = match(customer, listed)
    assert result is not None and result.score == 1.0


def test_keys_and_romanisation() -> None:
    assert name_key("髙橋・一郎") == "高橋一郎"
    assert name_key("ﾀｶﾊｼ") == "タカハシ"
    assert kana_to_romaji("シンイチロウ") == "shinichirou"
    assert kana_to_romaji("ジョウ") == "jou"
    assert kana_to_romaji("マッチャ") == "matcha"
    assert romaji_key("Jō") == romaji_key("Jou") == romaji_key("Joh") == romaji_key("ジョウ") == "jo"
    assert romaji_key("山田") is None  # kanji cannot be romanised without a reading


def test_index_screens_names_and_skips_expired_entities() -> None:
    from datetime import UTC, datetime

    entries = [
        ListEntry(kind=EntryKind.entity, category=RiskCategory.sanctioned, source="mof", name="渡邊 恵", id=1,
                  aliases=("ワタナベ メグミ", "Megumi Watanabe")),
        ListEntry(kind=EntryKind.entity, category=RiskCategory.sanctioned, source="mof", name="Old Entry", id=2,
                  expires_at=datetime(2020, 1, 1, tzinfo=UTC)),
    ]
    index = ScreeningIndex(entries)
    now = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1e6)
    hits = index.screen_names(["渡辺 恵"], now_us=now)
    assert [h.entry.id for h in hits] == [1]
    assert index.screen_names(["watanabe megumi"], now_us=now)[0].match.score == 1.0
    assert index.screen_names(["Old Entry"], now_us=now) == []
    assert index.screen_names(["Watanabe Kenji"], now_us=now) == []

_HIRAGANA = st.text(alphabet=st.sampled_from(list("あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわん")),
                    min_size=2, max_size=8)


@settings(max_examples=80, deadline=None)
@given(family=_HIRAGANA, given_name=_HIRAGANA)
def test_kana_script_and_order_never_change_the_match(family: str, given_name: str) -> None:
    hiragana = f"{family} {given_name}"
    katakana = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in hiragana)
    assert compare(hiragana, katakana).score == 1.0
    assert compare(katakana, f"{given_name}・{family}").score == 1.0  # other order, middle dot
    assert romaji_key(hiragana) == romaji_key(katakana)
