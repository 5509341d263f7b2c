"""Letter files: the real ones load, and every kind of mistake is reported with the
file, the field and what is wrong."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from petition.config import ROOT
from petition.i18n import LANGUAGES
from petition.letters.loader import LetterFileError, load_all, render_markdown

REAL = ROOT / "letters"

META = """status: open
default_language: en
public_visibility_default: initials
bundle_default: counted
addressees:
  - company: Meta
    platforms: [Facebook]
initiators:
  - name: Example Org
    website: https://example.org
"""

TEXT = """---
title: A title
summary: A summary.
demands:
  - Do the thing.
safety: |
  Be careful.
faq:
  - question: Why?
    answer: Because.
---
Dear Meta,

The body.
"""


def write_letter(root: Path, slug: str = "a-letter", meta: str = META, texts: dict[str, str] | None = None) -> Path:
    directory = root / slug
    directory.mkdir(parents=True)
    (directory / "letter.yaml").write_text(meta, encoding="utf-8")
    for lang, text in (texts or {"en": TEXT}).items():
        (directory / f"{lang}.md").write_text(text, encoding="utf-8")
    return directory


def test_real_letters_load_in_their_languages():
    letters = load_all(REAL)
    assert set(letters) == {"secure-our-socials", "protect-women-hrds"}
    assert letters["secure-our-socials"].languages == ["en", "fr", "ar", "el"]
    assert letters["protect-women-hrds"].languages == ["en", "fr", "ar"]
    meta = letters["secure-our-socials"].meta
    assert [a.company for a in meta.addressees] == ["Meta"]
    assert len(meta.initiators) == 5
    women = letters["protect-women-hrds"].meta
    assert [a.company for a in women.addressees] == ["Meta", "X", "Telegram"]
    for letter in letters.values():
        for text in letter.texts.values():
            assert len(text.front.demands) >= 3
            assert text.safety_html.strip()
            assert len(text.version_hash) == 64


def test_version_hash_changes_with_the_text(tmp_path):
    write_letter(tmp_path)
    first = load_all(tmp_path)["a-letter"].texts["en"].version_hash
    (tmp_path / "a-letter" / "en.md").write_text(TEXT.replace("The body.", "The body, edited."), encoding="utf-8")
    second = load_all(tmp_path)["a-letter"].texts["en"].version_hash
    assert first != second
    # Line endings and a BOM are not edits.
    (tmp_path / "a-letter" / "en.md").write_bytes(("\ufeff" + TEXT.replace("The body.", "The body, edited.")).replace("\n", "\r\n").encode())
    assert load_all(tmp_path)["a-letter"].texts["en"].version_hash == second


@pytest.mark.parametrize(
    "meta, texts, file_name, field, problem",
    [
        (META.replace("status: open", "status: opened"), None, "letter.yaml", "status", "Input should be"),
        (META.replace("addressees:\n  - company: Meta\n    platforms: [Facebook]\n", "addressees: []\n"), None, "letter.yaml", "addressees", "at least 1"),
        (META + "colour: red\n", None, "letter.yaml", "colour", "not a known field"),
        (META.replace("website: https://example.org", "website: not a url"), None, "letter.yaml", "initiators.0.website", "URL"),
        (META + "opens: 2024-05-01\ncloses: 2024-01-01\n", None, "letter.yaml", None, "'closes' is before 'opens'"),
        (META.replace("default_language: en", "default_language: fr"), None, "letter.yaml", "default_language", "no fr.md"),
        (META, {"en": TEXT.replace("title: A title\n", "")}, "en.md", "title", "is required"),
        (META, {"en": TEXT.replace("demands:\n  - Do the thing.\n", "demands: []\n")}, "en.md", "demands", "at least 1"),
        (META, {"en": TEXT.replace("---\ntitle", "title", 1)}, "en.md", None, "must start with a '---' line"),
        (META, {"en": TEXT.replace("\n---\nDear", "\nDear")}, "en.md", None, "no closing '---'"),
        (META, {"en": TEXT.replace("summary: A summary.", "summary: [unclosed")}, "en.md", None, "not valid YAML at line"),
        (META, {"en": TEXT.split("---\nDear")[0] + "---\n   \n"}, "en.md", "body", "empty"),
        (META, {"en": TEXT, "de": TEXT}, "de.md", None, "'de' is not a language of the site"),
        (META.replace("default_language: en", "default_language: de"), None, "letter.yaml", "default_language",
         "'de' is not a language of the site"),
    ],
)
def test_malformed_files_name_file_field_and_problem(tmp_path, meta, texts, file_name, field, problem):
    write_letter(tmp_path, meta=meta, texts=texts)
    with pytest.raises(LetterFileError) as caught:
        load_all(tmp_path)
    error = caught.value
    assert error.path.endswith(file_name)
    if field:
        assert error.field == field
        assert f"field '{field}'" in str(error)
    assert problem in str(error)


def test_a_language_added_to_i18n_is_a_language_of_letter_files(tmp_path, monkeypatch):
    # i18n.LANGUAGES is the one list: the schema and the loader read it, nothing repeats it.
    monkeypatch.setitem(LANGUAGES, "de", {"name": "Deutsch", "dir": "ltr"})
    write_letter(tmp_path, meta=META.replace("default_language: en", "default_language: de"), texts={"en": TEXT, "de": TEXT})
    letter = load_all(tmp_path)["a-letter"]
    assert letter.meta.default_language == "de" and set(letter.texts) == {"en", "de"}


def test_bad_slug_and_missing_meta(tmp_path):
    (tmp_path / "Bad_Slug").mkdir()
    with pytest.raises(LetterFileError, match="slug"):
        load_all(tmp_path)
    shutil.rmtree(tmp_path / "Bad_Slug")
    (tmp_path / "no-meta").mkdir()
    with pytest.raises(LetterFileError, match="letter.yaml"):
        load_all(tmp_path)


def test_invalid_utf8_is_reported(tmp_path):
    directory = write_letter(tmp_path)
    (directory / "en.md").write_bytes(b"---\ntitle: \xff\n---\n")
    with pytest.raises(LetterFileError, match="not valid UTF-8"):
        load_all(tmp_path)


def test_markdown_is_sanitised():
    html = render_markdown(
        "<script>alert(1)</script>\n\n[x](javascript:alert(1)) ![img](http://evil.example/x.png)\n\n"
        "<img src=x onerror=alert(1)> **bold** [ok](https://example.org)"
    )
    # Raw HTML survives only as visible, escaped text.
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img" in html
    assert "href=\"javascript" not in html and "evil.example" not in html
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.org"' in html and "noopener" in html


def test_check_command_reports_the_bad_file(runner, app, tmp_path):
    write_letter(tmp_path, meta=META.replace("status: open", "status: maybe"))
    app.config["PETITION"].LETTERS_DIR = str(tmp_path)
    result = runner.invoke(args=["letters", "check"])
    assert result.exit_code == 1
    assert "letter.yaml: field 'status'" in result.output


def test_check_command_lists_the_real_letters(runner):
    result = runner.invoke(args=["letters", "check"])
    assert result.exit_code == 0, result.output
    assert "ok  secure-our-socials" in result.output and "ok  protect-women-hrds" in result.output


def test_a_bad_file_stops_start_up(tmp_path):
    from petition import create_app
    from tests.helpers import make_config

    write_letter(tmp_path / "letters", meta=META.replace("status: open", "status: ???"))
    with pytest.raises(LetterFileError, match="field 'status'"):
        create_app(make_config(tmp_path, LETTERS_DIR=str(tmp_path / "letters")))
