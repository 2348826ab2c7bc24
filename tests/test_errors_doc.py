"""Every error code is documented, with the HTTP status the code carries."""

from pathlib import Path

from mamori.kit.errors import ALL_ERRORS

DOC = (Path(__file__).parent.parent / "docs" / "errors.md").read_text(encoding="utf-8")


def test_every_error_code_is_listed_with_its_status():
    for error in ALL_ERRORS:
        row = next((line for line in DOC.splitlines() if line.startswith(f"| `{error.code}` |")), None)
        assert row is not None, f"{error.code} is not in docs/errors.md"
        status = row.split("|")[2].strip()
        if status != "—":
            assert int(status) == error.http_status, error.code


def test_every_code_follows_the_naming_scheme():
    codes = [e.code for e in ALL_ERRORS]
    assert len(codes) == len(set(codes))
    assert all(c.startswith("mamori.") and c == c.lower() for c in codes)
