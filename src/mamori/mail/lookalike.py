"""Lookalike (cousin) domains of the firm's domain: the names a phisher would register, and their
export as STIX 2.1 indicators to share (金融ISAC, JPCERT/CC, a TAXII collection).

DMARC stops mail that uses the firm's exact domain; it does nothing against ``examp1e-sec.co.jp`` or
``example-sec-login.top`` (フィッシング対策協議会 guideline 2025 warns about lookalikes under legitimate
TLDs). :func:`lookalikes` generates candidates the way dnstwist does (omission, repetition,
transposition, adjacent keys, homoglyphs, IDN confusables, hyphenation, TLD swaps, bitsquatting) and
adds what Japanese phishing uses: the affixes ``-login``/``-support``/``-secure``/``-jp``/``mypage``/
``kabu``/``shoken``, the ``.co.jp`` → ``.jp``/``.com`` swaps and the suffix written into the label
(``example-sec-co-jp.com``), Hepburn/Kunrei/wāpuro romanisation variants (shi/si, tsu/tu, chi/ti,
fu/hu, ji/zi, sha/sya, long vowels ou/o/oh: ``shoken``/``syoken``/``shouken``), romaji typing habits
(n/nn, l/r, doubled consonants), and the katakana prolonged-sound mark ``ー`` in place of a hyphen.

Every candidate names its technique. Internationalised candidates are given in their A-label
(``xn--``) form, IDNA 2008 (RFC 5890–5892) via the ``idna`` package, with the U-label alongside.
"Subdomain" tricks (``example-sec.co.jp.evil.example``) cannot be enumerated: they are returned as
patterns (``pattern=True``, ``*`` = anything) and exported as STIX ``LIKE`` patterns.

Only the registrable part is varied: for ``www.example-sec.co.jp`` the candidates are those of
``example-sec.co.jp``. A registry may refuse some candidates (JPRS allows only Japanese script in
``.jp`` IDNs and no IDN under ``co.jp``); they are still worth watching as indicators. The list is
deduplicated, excludes the original, is bounded by ``limit`` and has a deterministic order
(techniques take turns, so a small limit still covers every technique).
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import idna

from mamori.mail.posture import PublicSuffixList, default_psl, normalize_domain

DEFAULT_LIMIT = 400

TECHNIQUES: tuple[str, ...] = (
    "tld-swap", "homoglyph", "idn-confusable", "omission", "replacement", "transposition", "repetition",
    "word-insertion", "hyphenation", "romanization", "romaji-typing", "brand", "suffix-in-label", "idn-japanese",
    "bitsquatting", "subdomain",
)
"""In the order they take turns in the output."""

TLD_SWAPS: tuple[str, ...] = ("jp", "co.jp", "com", "net", "ne.jp", "or.jp", "top", "xyz", "cn", "icu", "shop", "cc")
"""Legitimate Japanese and generic suffixes, and cheap TLDs common in phishing against Japanese brands."""

INSERTION_WORDS: tuple[str, ...] = ("login", "support", "security", "jp", "secure", "mypage", "kabu", "shoken")

FINANCE_WORDS: tuple[str, ...] = (
    "shoken", "shouken", "syoken", "ginko", "ginkou", "kabushiki", "kabu", "toshi", "toushi", "shintaku", "kinyu",
    "kinyuu", "hoken", "nenkin", "tsumitate", "koza", "kouza", "shisan", "torihiki",
)
"""Romaji words of Japanese finance whose spelling variants are tried wherever they appear in a label."""

_QWERTY: dict[str, str] = {
    "1": "2q", "2": "3wq1", "3": "4ew2", "4": "5re3", "5": "6tr4", "6": "7yt5", "7": "8uy6", "8": "9iu7", "9": "0oi8",
    "0": "po9", "q": "12wa", "w": "3esaq2", "e": "4rdsw3", "r": "5tfde4", "t": "6ygfr5", "y": "7uhgt6", "u": "8ijhy7",
    "i": "9okju8", "o": "0plki9", "p": "lo0", "a": "qwsz", "s": "edxzaw", "d": "rfcxse", "f": "tgvcdr", "g": "yhbvft",
    "h": "ujnbgy", "j": "ikmnhu", "k": "olmji", "l": "kop", "z": "asx", "x": "zsdc", "c": "xdfv", "v": "cfgb",
    "b": "vghn", "n": "bhjm", "m": "njk",
}
"""Adjacent keys. The JIS keyboard used in Japan has the same letter and digit layout as QWERTY."""

_ASCII_HOMOGLYPHS: tuple[tuple[str, str], ...] = (
    ("m", "rn"), ("rn", "m"), ("w", "vv"), ("vv", "w"), ("d", "cl"), ("cl", "d"), ("m", "nn"), ("nn", "m"),
    ("l", "1"), ("l", "i"), ("i", "1"), ("i", "l"), ("1", "l"), ("o", "0"), ("0", "o"), ("g", "q"), ("q", "g"),
    ("u", "v"), ("v", "u"),
)
"""``l``→``i`` stands for the capital ``I`` of a displayed ``exampIe``: DNS names are case-insensitive."""

CYRILLIC: dict[str, str] = {
    "a": "а", "b": "ь", "c": "с", "d": "ԁ", "e": "е", "g": "ԍ", "h": "һ", "i": "і", "j": "ј", "k": "к", "l": "ӏ",
    "m": "м", "o": "о", "p": "р", "q": "ԛ", "s": "ѕ", "t": "т", "v": "ѵ", "w": "ԝ", "x": "х", "y": "у",
}
GREEK: dict[str, str] = {"a": "α", "i": "ι", "k": "κ", "o": "ο", "p": "ρ", "t": "τ", "u": "υ", "v": "ν"}
CONFUSABLES: dict[str, str] = {**{v: k for k, v in GREEK.items()}, **{v: k for k, v in CYRILLIC.items()}}
"""Confusable → the Latin letter it imitates (to explain or reverse an IDN candidate)."""

_JAPANESE_HYPHENS: tuple[str, ...] = ("ー", "一")
"""Katakana prolonged sound mark (what a romaji IME types for ``-``) and the kanji 一 (one)."""

STIX_NAMESPACE = uuid.UUID("5b8f1a3c-2d4e-5f60-8a71-9c0b1d2e3f40")
"""Namespace of mamori's deterministic STIX ids (uuid5 of the pattern)."""


@dataclass(frozen=True)
class Lookalike:
    """One candidate. ``domain`` is the A-label (``xn--``) form, or a pattern with ``*`` when
    ``pattern`` is true; ``unicode`` is what a reader sees."""

    domain: str
    technique: str
    unicode: str
    pattern: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "technique": self.technique, "unicode": self.unicode, "pattern": self.pattern}


# ---------------------------------------------------------------------------------------------------
# Romanisation of Japanese (Hepburn, Kunrei-shiki / ISO 3602, wāpuro)
# ---------------------------------------------------------------------------------------------------

_VOWELS = "aiueo"
_ALTERNATES: dict[str, tuple[str, ...]] = {
    "shi": ("shi", "si"), "sha": ("sha", "sya"), "shu": ("shu", "syu"), "sho": ("sho", "syo"), "she": ("she", "sye"),
    "chi": ("chi", "ti"), "cha": ("cha", "tya", "cya"), "chu": ("chu", "tyu", "cyu"), "cho": ("cho", "tyo", "cyo"),
    "che": ("che", "tye"), "tsu": ("tsu", "tu"), "fu": ("fu", "hu"), "ji": ("ji", "zi"),
    "ja": ("ja", "zya", "jya"), "ju": ("ju", "zyu", "jyu"), "jo": ("jo", "zyo", "jyo"), "je": ("je", "zye", "jye"),
}


def _syllable_table() -> dict[str, str]:
    """Spelling → canonical (Hepburn) syllable."""
    table: dict[str, str] = {v: v for v in _VOWELS}
    for c in "kgsztdnhbpmr":
        for v in _VOWELS:
            table[c + v] = c + v
    for c in "kgnhbpmr":
        for v in "auo":
            table[c + "y" + v] = c + "y" + v
    for s in ("ya", "yu", "yo", "wa", "wo", "fa", "fi", "fe", "fo", "va", "vi", "vu", "ve", "vo"):
        table[s] = s
    for canonical, spellings in _ALTERNATES.items():
        for spelling in spellings:
            table[spelling] = canonical
    return table


_SYLLABLES = _syllable_table()
_MAX_SYLLABLE = max(len(s) for s in _SYLLABLES)


@dataclass(frozen=True)
class _Token:
    kind: str
    """``syl`` (a mora), ``n`` (ん), ``q`` (っ, doubled consonant), ``long`` (long vowel after o/u)."""
    text: str
    """Canonical syllable for ``syl``; the spelling found for the others ("" for an implicit long vowel)."""


def _tokenize(word: str) -> list[_Token] | None:
    """Parse ``word`` as romanised Japanese; ``None`` when it is not (``example``, ``login``)."""
    tokens: list[_Token] = []
    i = 0
    while i < len(word):
        ch = word[i]
        prev = tokens[-1] if tokens else None
        prev_vowel = prev.text[-1] if prev is not None and prev.kind == "syl" else ""
        nxt = word[i + 1] if i + 1 < len(word) else ""
        if prev_vowel == "o" and (ch == "u" or ch == "o" or (ch == "h" and nxt not in _VOWELS + "y")):
            tokens.append(_Token("long", ch))
            i += 1
            continue
        if prev_vowel == "u" and ch == "u":
            tokens.append(_Token("long", ch))
            i += 1
            continue
        if ch == "n" and nxt == "n" and (i + 2 == len(word) or word[i + 2] not in _VOWELS + "y"):
            tokens.append(_Token("n", "nn"))
            i += 2
            continue
        if ch == "n" and (not nxt or nxt not in _VOWELS + "y"):
            tokens.append(_Token("n", "n"))
            i += 1
            continue
        if ch not in _VOWELS and ch != "n" and (nxt == ch or (ch == "t" and word[i + 1:i + 3] == "ch")):
            tokens.append(_Token("q", ch))
            i += 1
            continue
        for size in range(min(_MAX_SYLLABLE, len(word) - i), 0, -1):
            canonical = _SYLLABLES.get(word[i:i + size])
            if canonical is not None:
                tokens.append(_Token("syl", canonical + "|" + word[i:i + size]))
                i += size
                break
        else:
            return None
    return tokens


def _options(tokens: list[_Token]) -> list[list[str]]:
    """For each position, the spellings to try, the original first. Implicit long vowels are
    inserted after every ``o`` syllable (``sho`` → ``shou``/``shoh``)."""
    slots: list[list[str]] = []
    for index, token in enumerate(tokens):
        if token.kind == "syl":
            canonical, spelled = token.text.split("|")
            alternatives = _ALTERNATES.get(canonical, (canonical,))
            slots.append([spelled, *[a for a in alternatives if a != spelled]])
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if canonical.endswith("o") and (following is None or following.kind != "long"):
                slots.append(["", "u", "h"])
        elif token.kind == "long":
            base = ["", "u", "h", "o"] if token.text in "uho" and _vowel_before(tokens, index) == "o" else ["", "u"]
            slots.append([token.text, *[b for b in base if b != token.text]])
        elif token.kind == "n":
            slots.append([token.text, *(["n"] if token.text == "nn" else [])])
        else:
            slots.append(["Q", ""])
    return slots


def _vowel_before(tokens: list[_Token], index: int) -> str:
    for token in reversed(tokens[:index]):
        if token.kind == "syl":
            return token.text.split("|")[0][-1]
    return ""


def _render(parts: Sequence[str]) -> str:
    out: list[str] = []
    for i, part in enumerate(parts):
        if part == "Q":
            rest = "".join(p for p in parts[i + 1:] if p != "Q")
            out.append("t" if rest.startswith("ch") else rest[:1])
        else:
            out.append(part)
    return "".join(out)


def romaji_variants(word: str, *, limit: int = 16) -> list[str]:
    """Other romanisations of a romaji ``word``: Hepburn ↔ Kunrei ↔ wāpuro spellings and long vowels
    (``shoken`` → ``syoken``, ``shouken``, ``shohken``, ``syouken`` ...), fewest changes first.
    Empty when ``word`` does not read as Japanese."""
    word = word.lower()
    tokens = _tokenize(word)
    if tokens is None or len(tokens) < 2:
        return []
    slots = _options(tokens)
    original = _render([s[0] for s in slots])
    combos: list[tuple[int, tuple[int, ...]]] = []
    changeable = [i for i, s in enumerate(slots) if len(s) > 1]
    for count in range(1, min(3, len(changeable)) + 1):
        for positions in itertools.combinations(changeable, count):
            for choice in itertools.product(*[range(1, len(slots[p])) for p in positions]):
                pick = [0] * len(slots)
                for p, c in zip(positions, choice, strict=True):
                    pick[p] = c
                combos.append((count, tuple(pick)))
    out: list[str] = []
    for _, chosen in sorted(combos):
        text = _render([slots[i][c] for i, c in enumerate(chosen)])
        if text != original and text != word and text not in out:
            out.append(text)
        if len(out) >= limit:
            break
    return out


# ---------------------------------------------------------------------------------------------------
# Generators: each yields (label or full domain, technique)
# ---------------------------------------------------------------------------------------------------


def _omission(label: str) -> Iterator[str]:
    for i in range(len(label)):
        yield label[:i] + label[i + 1:]


def _repetition(label: str) -> Iterator[str]:
    for i, ch in enumerate(label):
        if ch.isalnum():
            yield label[:i] + ch + label[i:]


def _transposition(label: str) -> Iterator[str]:
    for i in range(len(label) - 1):
        if label[i] != label[i + 1]:
            yield label[:i] + label[i + 1] + label[i] + label[i + 2:]


def _replacement(label: str) -> Iterator[str]:
    for i, ch in enumerate(label):
        for key in _QWERTY.get(ch, ""):
            yield label[:i] + key + label[i + 1:]


def _homoglyph(label: str) -> Iterator[str]:
    for src, dst in _ASCII_HOMOGLYPHS:
        start = label.find(src)
        while start >= 0:
            yield label[:start] + dst + label[start + len(src):]
            start = label.find(src, start + 1)


def _hyphenation(label: str) -> Iterator[str]:
    for i in range(1, len(label)):
        if label[i - 1] != "-" and label[i] != "-":
            yield label[:i] + "-" + label[i:]
    if "-" in label:
        yield label.replace("-", "")


def _bitsquatting(label: str) -> Iterator[str]:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    for i, ch in enumerate(label):
        for bit in range(8):
            flipped = chr(ord(ch) ^ (1 << bit))
            if flipped in allowed:
                yield label[:i] + flipped + label[i + 1:]


def _idn_confusable(label: str) -> Iterator[str]:
    """Latin letters swapped for Cyrillic/Greek look-alikes (Unicode TR39 confusables), as U-labels:
    the whole label in Cyrillic when every letter has a twin, then one letter at a time."""
    letters = [c for c in label if c.isalpha()]
    if letters and all(c in CYRILLIC for c in letters):
        yield "".join(CYRILLIC.get(c, c) for c in label)
    for table in (CYRILLIC, GREEK):
        for i, ch in enumerate(label):
            if ch in table:
                yield label[:i] + table[ch] + label[i + 1:]


def _romaji_typing(label: str) -> Iterator[str]:
    """Habits of people who type Japanese in romaji: ``nn`` for ん (and the reverse), l/r and b/v
    confusion, a doubled consonant (っ) added or dropped."""
    for part_start, part in _parts(label):
        end = part_start + len(part)
        if part.endswith("nn"):
            yield label[:end - 1] + label[end:]
        elif part.endswith("n"):
            yield label[:end] + "n" + label[end:]
    for a, b in (("l", "r"), ("r", "l"), ("b", "v"), ("v", "b")):
        start = label.find(a)
        while start >= 0:
            yield label[:start] + b + label[start + 1:]
            start = label.find(a, start + 1)
    for i in range(1, len(label)):
        if label[i] == label[i - 1] and label[i] not in _VOWELS + "n-":
            yield label[:i] + label[i + 1:]


def _parts(label: str) -> Iterator[tuple[int, str]]:
    start = 0
    for part in label.split("-"):
        yield start, part
        start += len(part) + 1


def _romanization(label: str, words: Iterable[str]) -> Iterator[str]:
    """Romanisation variants of the label's hyphen-separated parts that read as Japanese, and of
    the known finance words and brand words found inside it."""
    seen: set[str] = set()
    for start, part in _parts(label):
        for variant in romaji_variants(part):
            yield label[:start] + variant + label[start + len(part):]
        seen.add(part)
    for word in words:
        if word in seen:
            continue
        start = label.find(word)
        while start >= 0:
            for variant in romaji_variants(word):
                yield label[:start] + variant + label[start + len(word):]
            start = label.find(word, start + 1)


def _word_insertion(label: str, suffix: str, words: Sequence[str]) -> Iterator[str]:
    for word in words:
        for candidate in (f"{label}-{word}", f"{word}-{label}", f"{label}{word}", f"{word}{label}"):
            yield f"{candidate}.{suffix}"
    for word in words:
        yield f"{label}-{word}.com"


def _suffix_in_label(label: str, suffix: str) -> Iterator[str]:
    flat_hyphen, flat = suffix.replace(".", "-"), suffix.replace(".", "")
    for tld in ("com", "net", "top", "xyz", "jp"):
        yield f"{label}-{flat_hyphen}.{tld}"
        yield f"{label}{flat}.{tld}"


def _brand(brands: Sequence[str], suffix: str, words: Sequence[str]) -> Iterator[str]:
    for brand in brands:
        spellings = [brand, *romaji_variants(brand)]
        for spelling in spellings:
            for tld in dict.fromkeys((suffix, "jp", "co.jp", "com", "net")):
                yield f"{spelling}.{tld}"
        for spelling in spellings:
            for word in words[:4]:
                yield f"{spelling}-{word}.{suffix}"


def _idn_japanese(label: str, suffix: str) -> Iterator[str]:
    if "-" not in label:
        return
    for mark in _JAPANESE_HYPHENS:
        for tld in dict.fromkeys((suffix, "jp")):
            yield f"{label.replace('-', mark)}.{tld}"
        start = label.find("-")
        while start >= 0 and label.count("-") > 1:
            yield f"{label[:start]}{mark}{label[start + 1:]}.{suffix}"
            start = label.find("-", start + 1)


# ---------------------------------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------------------------------

_ASCII_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _to_candidate(name: str, technique: str) -> Lookalike | None:
    """Validate a host name (RFC 1035 / RFC 5891 label rules) and produce its A-label form."""
    labels = name.lower().split(".")
    ascii_labels: list[str] = []
    for label in labels:
        if label.isascii():
            if not _ASCII_LABEL.match(label) or (label[2:4] == "--" and not label.startswith("xn--")):
                return None
            ascii_labels.append(label)
            continue
        try:
            encoded = idna.encode(label).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return None
        ascii_labels.append(encoded)
    ascii_name = ".".join(ascii_labels)
    if len(ascii_name) > 253 or labels[-1].isdigit():
        return None
    return Lookalike(ascii_name, technique, ".".join(labels))


def lookalikes(domain: str, *, brands: Sequence[str] = (), limit: int = DEFAULT_LIMIT,
               words: Sequence[str] = INSERTION_WORDS, psl: PublicSuffixList | None = None) -> list[Lookalike]:
    """Candidate phishing domains for ``domain``, each with the technique that produced it.

    ``brands``: the firm's brand words in romaji (``nomura``, ``shoken``, ``mamori-trade``): their
    spelling variants are substituted where they appear and tried as stand-alone names. ``words``:
    what phishers add (``-login``, ``mypage``...). ``limit``: at most this many results; techniques
    take turns so every technique is represented. ``ValueError`` for a malformed ``domain``.
    """
    name = normalize_domain(domain)
    psl = psl or default_psl()
    registrable = psl.organizational_domain(name)
    suffix = psl.public_suffix(registrable)
    label = registrable[: -len(suffix) - 1] if registrable != suffix else registrable
    brand_words = [b.strip().lower() for b in brands if b.strip()]
    ascii_brands = [b for b in brand_words if b.isascii()]
    excluded = {name, registrable}

    def on(labels: Iterable[str]) -> Iterator[str]:
        return (f"{x}.{suffix}" for x in labels)

    is_idn = label.startswith("xn--")
    sources: dict[str, Iterable[str]] = {
        "tld-swap": (f"{label}.{t}" for t in TLD_SWAPS if t != suffix),
        "word-insertion": _word_insertion(label, suffix, words),
        "brand": _brand(ascii_brands, suffix, words),
        "suffix-in-label": _suffix_in_label(label, suffix),
    }
    if not is_idn:
        finance = [w for w in (*ascii_brands, *FINANCE_WORDS) if w in label]
        sources.update({
            "homoglyph": on(_homoglyph(label)),
            "idn-confusable": itertools.chain(on(_idn_confusable(label)),
                                              (f"{x}.com" for x in itertools.islice(_idn_confusable(label), 1)
                                               if suffix != "com")),
            "omission": on(_omission(label)),
            "replacement": on(_replacement(label)),
            "transposition": on(_transposition(label)),
            "repetition": on(_repetition(label)),
            "hyphenation": on(_hyphenation(label)),
            "romanization": on(_romanization(label, finance)),
            "romaji-typing": on(_romaji_typing(label)),
            "idn-japanese": _idn_japanese(label, suffix),
            "bitsquatting": on(_bitsquatting(label)),
        })
    streams: list[tuple[str, Iterator[Lookalike]]] = []
    for technique in TECHNIQUES:
        if technique == "subdomain":
            patterns = [f"{registrable}.*", f"*.{registrable}.*", f"{registrable}-*"]
            streams.append((technique, iter([Lookalike(p, technique, p, pattern=True) for p in patterns])))
        elif technique in sources:
            valid = (_to_candidate(n, technique) for n in sources[technique])
            streams.append((technique, (c for c in valid if c is not None)))

    out: list[Lookalike] = []
    seen: set[str] = set(excluded)
    active = list(streams)
    while active and len(out) < limit:
        still: list[tuple[str, Iterator[Lookalike]]] = []
        for technique, stream in active:
            for candidate in stream:
                if candidate.domain in seen:
                    continue
                seen.add(candidate.domain)
                out.append(candidate)
                still.append((technique, stream))
                break
            if len(out) >= limit:
                break
        active = still
    return out


# ---------------------------------------------------------------------------------------------------
# STIX 2.1 export (JSON only; OASIS STIX 2.1 §4.7 indicator, §9 patterning)
# ---------------------------------------------------------------------------------------------------


def _stix_time(moment: datetime) -> str:
    """STIX timestamps: UTC, ``Z``, millisecond precision (STIX 2.1 §3.2)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def stix_pattern(candidate: Lookalike) -> str:
    """``[domain-name:value = '...']``, or a ``LIKE`` pattern (``%`` = anything) for subdomain tricks."""
    if candidate.pattern:
        return f"[domain-name:value LIKE '{_quote(candidate.domain.replace('*', '%'))}']"
    return f"[domain-name:value = '{_quote(candidate.domain)}']"


def stix_indicator_id(pattern: str) -> str:
    return f"indicator--{uuid.uuid5(STIX_NAMESPACE, pattern)}"


def stix_bundle(candidates: Sequence[Lookalike], *, original: str, now: datetime | None = None) -> dict[str, Any]:
    """A STIX 2.1 bundle of ``indicator`` objects, one per candidate. Candidates are not known to be
    malicious, so ``indicator_types`` is ``anomalous-activity``; ids are uuid5 of the pattern, so the
    same candidate has the same id in every export (and receivers can deduplicate)."""
    stamp = _stix_time(now or datetime.now(UTC))
    objects: list[dict[str, Any]] = []
    for c in candidates:
        pattern = stix_pattern(c)
        shown = f" ({c.unicode})" if c.unicode != c.domain else ""
        what = "Domain-name pattern" if c.pattern else "Candidate lookalike domain"
        objects.append({
            "type": "indicator",
            "spec_version": "2.1",
            "id": stix_indicator_id(pattern),
            "created": stamp,
            "modified": stamp,
            "name": f"Lookalike of {original}: {c.domain}",
            "description": f"{what} {c.domain}{shown} imitating {original}, generated by the '{c.technique}' "
                           "technique (mamori). Not observed registered or in use: watch for registration, "
                           "certificates and mail.",
            "indicator_types": ["anomalous-activity"],
            "pattern": pattern,
            "pattern_type": "stix",
            "pattern_version": "2.1",
            "valid_from": stamp,
            "labels": ["lookalike-domain", c.technique],
            "x_mamori_technique": c.technique,
            "x_mamori_lookalike_of": original,
        })
    bundle_id = uuid.uuid5(STIX_NAMESPACE, "bundle\n" + "\n".join(o["id"] for o in objects))
    return {"type": "bundle", "id": f"bundle--{bundle_id}", "objects": objects}


def stix_json(candidates: Sequence[Lookalike], *, original: str, now: datetime | None = None) -> str:
    return json.dumps(stix_bundle(candidates, original=original, now=now), ensure_ascii=False, indent=2)
