"""Reading letters/<slug>/ into validated, rendered, hashed objects.

Every error names the file, the field and what is wrong, because the people editing
these files are campaigners, not developers.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import nh3
import yaml
from markdown_it import MarkdownIt
from pydantic import ValidationError

from petition.i18n import LANGUAGES
from petition.letters.schema import LetterFrontMatter, LetterMeta

META_FILE = "letter.yaml"
SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_FILE_BYTES = 512 * 1024

# Raw HTML is switched off in the parser and the output is sanitised again: no markup
# from a letter file reaches a page except these tags.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "strong", "em", "blockquote", "ul", "ol", "li",
    "a", "code", "pre", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}


class LetterFileError(ValueError):
    """A letter file that cannot be used. str() is the message an editor reads."""

    def __init__(self, path: Path | str, field: str | None, problem: str):
        self.path = str(path)
        self.field = field
        self.problem = problem
        where = f"{self.path}: field '{field}'" if field else self.path
        super().__init__(f"{where}: {problem}")


def render_markdown(source: str) -> str:
    html = _markdown.render(source)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


@dataclass(frozen=True)
class LetterText:
    lang: str
    front: LetterFrontMatter
    body_html: str
    safety_html: str
    faq_html: list[tuple[str, str]]
    demands_html: list[str]
    version_hash: str
    path: str


@dataclass(frozen=True)
class LoadedLetter:
    slug: str
    meta: LetterMeta
    texts: dict[str, LetterText] = field(default_factory=dict)

    @property
    def languages(self) -> list[str]:
        return list(self.texts)

    def text_for(self, lang: str) -> LetterText:
        """The text in lang, or in the letter's default language when it has none."""
        return self.texts.get(lang) or self.texts[self.meta.default_language]


def _field_name(error: dict) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(file)"


def _validation_error(path: Path, exc: ValidationError) -> LetterFileError:
    first = exc.errors()[0]
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "is not a known field (see letters/README.md)"
    elif first["type"] == "missing":
        message = "is required"
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''} in this file)"
    return LetterFileError(path, _field_name(first), message)


def _read_text(path: Path) -> str:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise LetterFileError(path, None, f"file is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LetterFileError(path, None, f"not valid UTF-8 (byte {exc.start})") from None
    # One canonical form, so the version hash does not change with an editor's line endings.
    return unicodedata.normalize("NFC", raw.replace("\r\n", "\n").lstrip("\ufeff"))


def _parse_yaml(path: Path, source: str, what: str) -> dict:
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise LetterFileError(path, None, f"{what} is not valid YAML{where}: {problem}") from None
    except RecursionError:  # found by tests/fuzz: thousands of nested [ or {
        raise LetterFileError(path, None, f"{what} is nested too deeply to be read") from None
    except (ValueError, TypeError) as exc:  # found by tests/fuzz: "opens: 2024-02-30", "!!int x"
        raise LetterFileError(path, None, f"{what} holds a value that cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise LetterFileError(path, None, f"{what} must be a mapping of fields")
    return data


def split_front_matter(path: Path, source: str) -> tuple[dict, str]:
    if not source.startswith("---\n"):
        raise LetterFileError(path, None, "must start with a '---' line opening the YAML front matter")
    end = source.find("\n---\n", 3)
    if end == -1:
        if source.endswith("\n---"):
            end = len(source) - 4
        else:
            raise LetterFileError(path, None, "the front matter has no closing '---' line")
    front = _parse_yaml(path, source[4:end], "the front matter")
    body = source[end + 5:]
    return front, body


def load_text(path: Path, lang: str) -> LetterText:
    source = _read_text(path)
    front_data, body = split_front_matter(path, source)
    try:
        front = LetterFrontMatter.model_validate(front_data)
    except ValidationError as exc:
        raise _validation_error(path, exc) from None
    if not body.strip():
        raise LetterFileError(path, "body", "the letter text after the front matter is empty")
    return LetterText(
        lang=lang,
        front=front,
        body_html=render_markdown(body),
        safety_html=render_markdown(front.safety),
        faq_html=[(item.question, render_markdown(item.answer)) for item in front.faq],
        demands_html=[render_markdown(d) for d in front.demands],
        version_hash=hashlib.sha256(source.encode("utf-8")).hexdigest(),
        path=str(path),
    )


def load_letter(directory: Path) -> LoadedLetter:
    slug = directory.name
    if not SLUG_PATTERN.fullmatch(slug) or len(slug) > 80:
        raise LetterFileError(directory, None, "the folder name (the slug) must be lowercase letters, digits and hyphens")
    meta_path = directory / META_FILE
    if not meta_path.exists():
        raise LetterFileError(meta_path, None, "is missing: every letter needs a letter.yaml")
    try:
        meta = LetterMeta.model_validate(_parse_yaml(meta_path, _read_text(meta_path), "letter.yaml"))
    except ValidationError as exc:
        raise _validation_error(meta_path, exc) from None

    texts: dict[str, LetterText] = {}
    for path in sorted(directory.glob("*.md")):
        lang = path.stem
        if path.name == "README.md":
            continue
        if lang not in LANGUAGES:
            raise LetterFileError(path, None, f"'{lang}' is not a language of the site ({', '.join(LANGUAGES)})")
        texts[lang] = load_text(path, lang)
    if meta.default_language not in texts:
        raise LetterFileError(meta_path, "default_language", f"there is no {meta.default_language}.md in {directory}")
    ordered = {lang: texts[lang] for lang in LANGUAGES if lang in texts}
    return LoadedLetter(slug=slug, meta=meta, texts=ordered)


def load_all(root: Path | str) -> dict[str, LoadedLetter]:
    """Every letter under root, in slug order. Raises LetterFileError on the first bad file."""
    root = Path(root)
    if not root.is_dir():
        raise LetterFileError(root, None, "the letters folder does not exist")
    letters: dict[str, LoadedLetter] = {}
    for directory in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        letters[directory.name] = load_letter(directory)
    return letters
