"""Lookalike domains: known techniques give known candidates; the list is clean and bounded; the
STIX 2.1 export carries what a receiving platform needs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import idna
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.cli.main import main
from mamori.mail.lookalike import (
    CONFUSABLES,
    TECHNIQUES,
    Lookalike,
    lookalikes,
    romaji_variants,
    stix_bundle,
    stix_indicator_id,
)

DOMAIN = "example-sec.co.jp"


@pytest.fixture(scope="module")
def candidates() -> list[Lookalike]:
    return lookalikes(DOMAIN, brands=["shoken"])


def by_domain(cands: list[Lookalike]) -> dict[str, Lookalike]:
    return {c.domain: c for c in cands}


@pytest.mark.parametrize(("domain", "technique"), [
    ("examp1e-sec.co.jp", "homoglyph"),  # l → 1
    ("exarnple-sec.co.jp", "homoglyph"),  # m → rn
    ("exampie-sec.co.jp", "homoglyph"),  # l → I, lower-cased by DNS
    ("example-sec.jp", "tld-swap"),
    ("example-sec.com", "tld-swap"),
    ("example-sec.top", "tld-swap"),
    ("exmple-sec.co.jp", "omission"),
    ("exxample-sec.co.jp", "repetition"),
    ("xeample-sec.co.jp", "transposition"),
    ("wxample-sec.co.jp", "replacement"),  # e → w, adjacent on QWERTY / JIS
    ("example-sec-login.co.jp", "word-insertion"),
    ("mypage-example-sec.co.jp", "word-insertion"),
    ("example-sec-support.com", "word-insertion"),
    ("examplesec.co.jp", "omission"),  # the hyphen dropped (hyphenation would give it too)
    ("exam-ple-sec.co.jp", "hyphenation"),
    ("example-sec-co-jp.com", "suffix-in-label"),
    ("exampre-sec.co.jp", "romaji-typing"),  # l/r
    ("syoken.co.jp", "brand"),
    ("shouken.jp", "brand"),
])
def test_known_techniques_give_known_candidates(candidates: list[Lookalike], domain: str, technique: str) -> None:
    found = by_domain(candidates)
    assert domain in found, domain
    assert found[domain].technique == technique


def test_an_idn_candidate_is_punycode_that_decodes_to_a_cyrillic_confusable(candidates: list[Lookalike]) -> None:
    idn = [c for c in candidates if c.technique == "idn-confusable"]
    assert idn
    whole = idn[0]  # every letter of "example-sec" has a Cyrillic twin: the whole-script form comes first
    label = whole.domain.split(".")[0]
    assert label.startswith("xn--")
    decoded = idna.decode(label)
    assert decoded == whole.unicode.split(".")[0] and not decoded.isascii()
    assert any("\u0400" <= ch <= "\u04ff" for ch in decoded)  # Cyrillic block
    assert "".join(CONFUSABLES.get(ch, ch) for ch in decoded) == "example-sec"
    assert whole.domain.endswith(".co.jp")
    single = [c for c in idn if sum(not ch.isascii() for ch in c.unicode) == 1]
    assert single and all(c.domain.startswith("xn--") for c in single)


def test_the_japanese_prolonged_sound_mark_replaces_the_hyphen(candidates: list[Lookalike]) -> None:
    jp = [c for c in candidates if c.technique == "idn-japanese"]
    assert any(c.unicode == "exampleーsec.jp" and c.domain == idna.encode("exampleーsec").decode() + ".jp" for c in jp)


def test_subdomain_tricks_are_patterns_not_domains(candidates: list[Lookalike]) -> None:
    patterns = [c for c in candidates if c.pattern]
    assert {c.domain for c in patterns} == {"example-sec.co.jp.*", "*.example-sec.co.jp.*", "example-sec.co.jp-*"}
    assert all(c.technique == "subdomain" for c in patterns)
    assert all(not c.pattern for c in candidates if c.technique != "subdomain")


def test_no_duplicates_original_excluded_every_name_valid(candidates: list[Lookalike]) -> None:
    names = [c.domain for c in candidates]
    assert len(names) == len(set(names))
    assert DOMAIN not in names
    label = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
    for c in candidates:
        if c.pattern:
            continue
        assert len(c.domain) <= 253
        assert all(label.match(x) for x in c.domain.split(".")), c
        assert all(x[2:4] != "--" or x.startswith("xn--") for x in c.domain.split("."))


def test_every_technique_is_represented_and_named(candidates: list[Lookalike]) -> None:
    assert {c.technique for c in candidates} == set(TECHNIQUES) - {"romanization"}  # nothing Japanese in it
    assert {c.technique for c in lookalikes("nikko-shoken.co.jp", brands=["nikko"])} == set(TECHNIQUES)


def test_output_is_deterministic_and_bounded_with_every_technique_taking_turns() -> None:
    first = lookalikes("nikko-shoken.co.jp", brands=["nikko"], limit=40)
    assert first == lookalikes("nikko-shoken.co.jp", brands=["nikko"], limit=40)
    assert len(first) == 40
    assert [c.technique for c in first[: len(TECHNIQUES)]] == list(TECHNIQUES)
    assert lookalikes(DOMAIN, limit=400)[:40] != []
    assert len(lookalikes(DOMAIN, limit=5)) == 5
    big = lookalikes(DOMAIN, brands=["shoken", "nikko"], limit=100_000)
    assert len(big) < 2000  # bounded even without a limit


def test_a_subdomain_input_varies_the_registrable_domain() -> None:
    names = {c.domain for c in lookalikes("www.example-sec.co.jp")}
    assert "examp1e-sec.co.jp" in names
    assert "www.example-sec.co.jp" not in names


def test_romanisation_variants_of_japanese_words() -> None:
    assert {"syoken", "shouken", "syouken", "shohken"} <= set(romaji_variants("shoken"))
    assert {"shoken", "syoken"} <= set(romaji_variants("shouken"))
    assert "tumitate" in romaji_variants("tsumitate")
    assert "toukyou" in romaji_variants("tokyo")
    assert "niko" in romaji_variants("nikko")
    assert "hudousan" in romaji_variants("fudousan")
    assert "zibun" in romaji_variants("jibun")
    assert romaji_variants("example") == []  # not Japanese


def test_romanisation_is_applied_to_finance_words_inside_a_label() -> None:
    names = {c.domain: c.technique for c in lookalikes("abc-shoken.co.jp")}
    assert names.get("abc-syoken.co.jp") == "romanization"
    assert names.get("abc-shouken.co.jp") == "romanization"


@settings(max_examples=40, deadline=None)
@given(st.from_regex(r"[a-z][a-z0-9]{1,12}(-[a-z0-9]{1,8})?", fullmatch=True),
       st.sampled_from(["co.jp", "jp", "com", "ne.jp"]))
def test_any_domain_gives_unique_valid_candidates(label: str, suffix: str) -> None:
    domain = f"{label}.{suffix}"
    cands = lookalikes(domain, limit=150)
    names = [c.domain for c in cands]
    assert len(names) == len(set(names)) and domain not in names and len(names) <= 150


def test_a_malformed_domain_is_refused() -> None:
    with pytest.raises(ValueError):
        lookalikes("not a domain")


# --------------------------------------------------------------------------------------------------
# STIX 2.1
# --------------------------------------------------------------------------------------------------

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def test_stix_bundle_is_valid_json_with_the_required_properties(candidates: list[Lookalike]) -> None:
    now = datetime(2025, 10, 15, 9, 30, 0, 123456, tzinfo=UTC)
    bundle = json.loads(json.dumps(stix_bundle(candidates, original=DOMAIN, now=now)))
    assert bundle["type"] == "bundle" and re.fullmatch(f"bundle--{UUID}", bundle["id"])
    assert len(bundle["objects"]) == len(candidates)
    for obj, cand in zip(bundle["objects"], candidates, strict=True):
        assert obj["type"] == "indicator" and obj["spec_version"] == "2.1"
        assert re.fullmatch(f"indicator--{UUID}", obj["id"])
        assert obj["pattern_type"] == "stix" and obj["indicator_types"] == ["anomalous-activity"]
        assert obj["created"] == obj["modified"] == obj["valid_from"] == "2025-10-15T09:30:00.123Z"
        assert all(TIMESTAMP.match(obj[k]) for k in ("created", "modified", "valid_from"))
        assert cand.technique in obj["description"] and DOMAIN in obj["description"]
        if cand.pattern:
            assert obj["pattern"] == f"[domain-name:value LIKE '{cand.domain.replace('*', '%')}']"
        else:
            assert obj["pattern"] == f"[domain-name:value = '{cand.domain}']"
        assert obj["id"] == stix_indicator_id(obj["pattern"])
    assert len({o["id"] for o in bundle["objects"]}) == len(candidates)


def test_stix_ids_are_deterministic_across_exports() -> None:
    cands = lookalikes(DOMAIN, limit=20)
    a = stix_bundle(cands, original=DOMAIN, now=datetime(2025, 1, 1, tzinfo=UTC))
    b = stix_bundle(cands, original=DOMAIN, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert [o["id"] for o in a["objects"]] == [o["id"] for o in b["objects"]]
    assert a["id"] == b["id"]
    by_pattern = {o["pattern"]: o["id"] for o in a["objects"]}
    assert by_pattern["[domain-name:value = 'example-sec.jp']"] == stix_indicator_id(
        "[domain-name:value = 'example-sec.jp']")


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def test_cli_lists_candidates_and_writes_a_stix_file(tmp_path: Path) -> None:
    out = tmp_path / "indicators.json"
    result = CliRunner().invoke(main, ["mail", "lookalikes", DOMAIN, "--brand", "shoken", "--limit", "50",
                                       "--stix", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 50
    assert "example-sec.jp\ttld-swap" in lines
    bundle = json.loads(out.read_text(encoding="utf-8"))
    assert len(bundle["objects"]) == 50 and bundle["objects"][0]["spec_version"] == "2.1"
    assert "50 indicators written" in result.stderr


def test_cli_json_and_bad_domain() -> None:
    result = CliRunner().invoke(main, ["mail", "lookalikes", DOMAIN, "--limit", "5", "--json"])
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 5
    bad = CliRunner().invoke(main, ["mail", "lookalikes", "no_dots"])
    assert bad.exit_code == 2
