"""Matching names of customers and counterparties against listed persons and organisations, with the
variants Japanese names come in.

Sanctions lists (外為法に基づく資産凍結等の対象者, the UN and OFAC lists) give names in Latin letters,
sometimes in kanji or kana; customers are known by kanji and a kana reading (フリガナ), passports by
Hepburn romaji with their own long-vowel spellings. The FSA's AML/CFT guidelines (II-2(3)(iii)) ask
for screening that allows for such spelling variations. Each name is reduced to comparable keys:

* the **script key**: Unicode NFKC (full/half width), case folding, common kanji variants (髙→高,
  﨑→崎, 齋/齊/斉→斎, 邊/邉→辺, 澤→沢, 濱→浜, 德→徳, …), hiragana→katakana, and no spaces, middle
  dots or punctuation;
* the **romaji key** (kana or Latin names only): kana romanised by Hepburn, then Kunrei/Nihon-shiki
  spellings mapped to Hepburn (si→shi, tu→tsu, syo→sho, …), long vowels collapsed as passports write
  them (ō, ou, oo, oh → o; ū, uu → u), ``m`` before b/m/p → ``n`` (ん), っち ``tch`` → ``cch``.

Family/given order is tried both ways. Names that are not equal after folding get a fuzzy score
(rapidfuzz's normalised Indel similarity, 0–1); a match needs ``threshold`` (default 0.88). Every
match says why it matched (:attr:`NameMatch.reasons`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import permutations
from typing import Final

from rapidfuzz import fuzz

DEFAULT_THRESHOLD: Final = 0.88

KANJI_VARIANTS: Final[dict[str, str]] = {
    "髙": "高", "﨑": "崎", "嵜": "崎", "碕": "崎", "齋": "斎", "齊": "斎", "斉": "斎", "邊": "辺", "邉": "辺",
    "澤": "沢", "濱": "浜", "德": "徳", "廣": "広", "國": "国", "櫻": "桜", "龍": "竜", "嶋": "島", "嶌": "島",
    "冨": "富", "槇": "槙", "檜": "桧", "眞": "真", "實": "実", "惠": "恵", "榮": "栄", "藏": "蔵", "總": "総",
    "條": "条", "關": "関", "瀨": "瀬", "鐵": "鉄", "團": "団", "來": "来", "萬": "万", "壽": "寿", "彌": "弥",
    "淺": "浅", "舘": "館", "靜": "静", "寳": "宝", "寶": "宝", "鷗": "鴎", "栁": "柳", "𠮷": "吉", "籠": "篭",
    "兒": "児", "聰": "聡", "圓": "円", "峯": "峰", "嶺": "嶺", "恆": "恒", "晄": "晃", "曻": "昇", "淵": "渕",
    "渊": "渕", "盃": "杯", "隆": "隆", "﨔": "欅",
}
_SEPARATORS: Final = re.compile(r"[\s・･·.,，、。=＝\-‐－_'’\"()（）/]+")
_KANA_OR_LATIN: Final = re.compile(r"^[\u3040-\u30ffa-z\s・･·.,=＝\-'’ー]+$")

_KANA: Final[dict[str, str]] = {}
for _row, _romaji in (
    ("アイウエオ", "a i u e o"), ("カキクケコ", "ka ki ku ke ko"), ("ガギグゲゴ", "ga gi gu ge go"),
    ("サシスセソ", "sa shi su se so"), ("ザジズゼゾ", "za ji zu ze zo"), ("タチツテト", "ta chi tsu te to"),
    ("ダヂヅデド", "da ji zu de do"), ("ナニヌネノ", "na ni nu ne no"), ("ハヒフヘホ", "ha hi fu he ho"),
    ("バビブベボ", "ba bi bu be bo"), ("パピプペポ", "pa pi pu pe po"), ("マミムメモ", "ma mi mu me mo"),
    ("ヤユヨ", "ya yu yo"), ("ラリルレロ", "ra ri ru re ro"), ("ワヰヱヲ", "wa i e o"),
    ("ァィゥェォ", "a i u e o"), ("ャュョヮ", "ya yu yo wa"), ("ン", "n"), ("ヴ", "vu"), ("ヵヶ", "ka ke"),
):
    for _char, _sound in zip(_row, _romaji.split(), strict=True):
        _KANA[_char] = _sound
_SMALL_Y: Final = frozenset("ャュョ")
_SMALL_VOWEL: Final = frozenset("ァィゥェォ")


def _to_katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(KANJI_VARIANTS.get(c, c) for c in text)
    return _to_katakana(text)


def name_key(text: str) -> str:
    """The script key: width, case, kanji variants and hiragana folded; separators removed."""
    return _SEPARATORS.sub("", _fold(text))


def tokens(text: str) -> list[str]:
    """The parts of a name (family, given, middle …) as written, separated by spaces, dots or commas."""
    return [t for t in _SEPARATORS.split(_fold(text)) if t]


def kana_to_romaji(kana: str) -> str:
    """Hepburn romaji of katakana/hiragana text (other characters kept as they are)."""
    text = _to_katakana(kana)
    out: list[str] = []
    geminate = False
    i = 0
    while i < len(text):
        char = text[i]
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if char == "ッ":
            geminate = True
            i += 1
            continue
        if char == "ー":
            vowel = next((c for c in reversed("".join(out)) if c in "aiueo"), "")
            out.append(vowel)
            i += 1
            continue
        sound = _KANA.get(char)
        if sound is None:
            out.append(char)
            i += 1
            continue
        step = 1
        if nxt in _SMALL_Y and sound.endswith("i") and len(sound) > 1:
            stem = sound[:-1]
            sound = stem + (_KANA[nxt][1:] if stem in ("sh", "ch", "j") else _KANA[nxt])  # シャ sha, キャ kya
            step = 2
        elif nxt in _SMALL_VOWEL:
            stem = sound[:-1] if len(sound) > 1 else ("w" if sound == "u" else "")
            sound = stem + _KANA[nxt]
            step = 2
        if geminate:
            sound = ("t" if sound.startswith("ch") else sound[0]) + sound
            geminate = False
        out.append(sound)
        i += step
    return "".join(out)


_KUNREI: Final = (
    (re.compile(r"sy([auo])"), r"sh\1"), (re.compile(r"ty([auo])"), r"ch\1"), (re.compile(r"[zd]y([auo])"), r"j\1"),
    (re.compile(r"si"), "shi"), (re.compile(r"(?<!c)ti"), "chi"),
    (re.compile(r"tu"), "tsu"), (re.compile(r"(?<![sc])hu"), "fu"), (re.compile(r"[zd]i"), "ji"),
    (re.compile(r"du"), "zu"),
)
_LONG: Final = ((re.compile(r"oh(?![aiueoy])"), "o"), (re.compile(r"o[ou]"), "o"), (re.compile(r"uu"), "u"),
                (re.compile(r"aa"), "a"), (re.compile(r"ii"), "i"), (re.compile(r"ee"), "e"))


def romaji_key(text: str) -> str | None:
    """The loose romaji key of a kana or Latin name (None when it has kanji or other scripts)."""
    folded = _fold(text)
    if not _KANA_OR_LATIN.match(folded):
        folded = unicodedata.normalize("NFKD", folded)
        folded = "".join(c for c in folded if not unicodedata.combining(c))
        if not _KANA_OR_LATIN.match(folded):
            return None
    latin = kana_to_romaji(_SEPARATORS.sub("", folded))
    for pattern, replacement in _KUNREI:
        latin = pattern.sub(replacement, latin)
    latin = latin.replace("tch", "cch")
    latin = re.sub(r"m(?=[bmp])", "n", latin)
    for pattern, replacement in _LONG:
        latin = pattern.sub(replacement, latin)
    latin = re.sub(r"[^a-z]", "", latin)
    return latin or None


@dataclass(frozen=True, slots=True)
class NameForms:
    """The comparable keys of one written name, in both family/given orders."""

    text: str
    script_keys: tuple[str, ...]
    romaji_keys: tuple[str, ...]
    script_tokens: tuple[str, ...] = ()
    romaji_tokens: tuple[str, ...] = ()

    @classmethod
    def of(cls, text: str) -> NameForms:
        parts = tokens(text)
        orders = [parts] if len(parts) < 2 else [parts, list(reversed(parts))]
        script = tuple(dict.fromkeys("".join(p) for p in orders))
        romaji = tuple(dict.fromkeys(k for p in orders if (k := romaji_key(" ".join(p)))))
        romaji_parts = tuple(k for p in parts if (k := romaji_key(p)))
        return cls(text, script, romaji, tuple(parts), romaji_parts if len(romaji_parts) == len(parts) else ())


@dataclass(frozen=True, slots=True)
class NameMatch:
    """Why ``query`` matched ``listed``: a score 0–1 and the folds that made them comparable."""

    query: str
    listed: str
    score: float
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"query": self.query, "listed": self.listed, "score": round(self.score, 3),
                "reasons": list(self.reasons)}


def _folds_used(text: str) -> list[str]:
    reasons = []
    if unicodedata.normalize("NFKC", text) != text:
        reasons.append("width/compatibility folded (NFKC)")
    if any(c in KANJI_VARIANTS for c in text):
        variants = ", ".join(f"{c}→{KANJI_VARIANTS[c]}" for c in dict.fromkeys(text) if c in KANJI_VARIANTS)
        reasons.append(f"kanji variants {variants}")
    if any("ぁ" <= c <= "ゖ" for c in text):
        reasons.append("hiragana→katakana")
    return reasons


_ROMAJI_AGREE: Final = "romanised spellings agree (Hepburn/Kunrei/passport long vowels, ん before b/m/p)"


def compare(query: str | NameForms, listed: str | NameForms) -> NameMatch:
    """Score how well two written names agree (1.0 = the same name after folding)."""
    q = query if isinstance(query, NameForms) else NameForms.of(query)
    c = listed if isinstance(listed, NameForms) else NameForms.of(listed)
    folds = sorted(set(_folds_used(q.text) + _folds_used(c.text)))
    swapped = "family/given order swapped"
    if q.script_keys and c.script_keys:
        if q.script_keys[0] == c.script_keys[0]:
            return NameMatch(q.text, c.text, 1.0, (*folds, "same name after folding"))
        if any(k in c.script_keys for k in q.script_keys):
            return NameMatch(q.text, c.text, 1.0, (*folds, swapped))
    if q.romaji_keys and c.romaji_keys:
        if q.romaji_keys[0] == c.romaji_keys[0] or any(k in c.romaji_keys for k in q.romaji_keys):
            order = () if q.romaji_keys[0] == c.romaji_keys[0] else (swapped,)
            return NameMatch(q.text, c.text, 1.0, (*folds, _ROMAJI_AGREE, *order))
        score, pair = _best(q.romaji_keys, c.romaji_keys)
        return _with_parts(q.text, c.text, score, (*folds, f"romaji fuzzy similarity {score:.2f} ({pair})"),
                           q.romaji_tokens, c.romaji_tokens)
    score, pair = _best(q.script_keys, c.script_keys)
    return _with_parts(q.text, c.text, score, (*folds, f"fuzzy similarity {score:.2f} ({pair})"),
                       q.script_tokens, c.script_tokens)


def _with_parts(query: str, listed: str, score: float, reasons: tuple[str, ...], left: Sequence[str],
                right: Sequence[str]) -> NameMatch:
    """When both names have the same number of parts (2–4), each part must be similar on its own:
    "Jiro Takahashi" is not "Ichiro Takahashi" although the whole strings are close. The score is
    the lower of the whole-name score and the weakest part of the best alignment of parts."""
    if not 2 <= len(left) <= 4 or len(left) != len(right):
        return NameMatch(query, listed, score, reasons)
    weakest = max(min(fuzz.ratio(a, b) / 100 for a, b in zip(left, order, strict=True))
                  for order in permutations(right))
    if weakest < score:
        return NameMatch(query, listed, weakest, (*reasons, f"weakest name part similarity {weakest:.2f}"))
    return NameMatch(query, listed, score, reasons)


def _best(left: Sequence[str], right: Sequence[str]) -> tuple[float, str]:
    best, pair = 0.0, ""
    for a in left:
        for b in right:
            score = fuzz.ratio(a, b) / 100
            if score > best:
                best, pair = score, f"{a} ~ {b}"
    return best, pair


def match(query: Iterable[str], listed: Iterable[str], *, threshold: float = DEFAULT_THRESHOLD) -> NameMatch | None:
    """The best match between any written form of the query (kanji name, kana reading, romaji) and any
    name or alias of the listed party, when it reaches ``threshold``; else None."""
    best: NameMatch | None = None
    listed_forms = [NameForms.of(n) for n in listed if n and n.strip()]
    for name in query:
        if not name or not name.strip():
            continue
        forms = NameForms.of(name)
        for other in listed_forms:
            result = compare(forms, other)
            if best is None or result.score > best.score:
                best = result
    return best if best is not None and best.score >= threshold else None
