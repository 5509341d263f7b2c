"""Fuzz target for the letter-file loader (petition/letters/loader.py).

Whatever is in letters/<slug>/ (mangled YAML, odd types, broken front matter, invalid
UTF-8, stray files, hostile Markdown), loading either succeeds with sanitised HTML or
raises LetterFileError, whose message an editor can read. Never another exception: a bad
file must stop start-up with a clear message, not a traceback.

Runs under pytest with hypothesis. With atheris installed it is also a coverage-guided
fuzzer: `python tests/fuzz/test_loader_fuzz.py [atheris options]`.
"""
from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from petition.letters.loader import LetterFileError, load_all  # noqa: E402

SOURCE = ROOT / "letters" / "secure-our-socials"
REAL = {path.name: path.read_bytes() for path in sorted(SOURCE.iterdir()) if path.is_file()}
FILES = sorted(REAL)

# Markup that must never come out of a letter file: scripts, frames, event handlers,
# style attributes, and links to anything but http(s)/mailto.
DANGEROUS = re.compile(r"<\s*(script|iframe|object|embed|style|img|svg|form|input)\b|<[^>]*\s(on\w+|style)\s*=|"
                       r"<a\s[^>]*href=\"\s*(?!https?:|mailto:)[a-z][a-z0-9+.\-]*:", re.I)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load_letter_bytes(files: dict[str, bytes], slug: str = "fuzzed-letter") -> None:
    """Write files into letters/<slug>/ under a fresh directory and load them. Returns
    normally or raises LetterFileError; anything else is a bug."""
    root = Path(tempfile.mkdtemp(prefix="letters-fuzz-"))
    try:
        directory = root / slug
        directory.mkdir()
        for name, content in files.items():
            (directory / name).write_bytes(content)
        try:
            letters = load_all(root)
        except LetterFileError as exc:
            assert str(exc) and exc.path, "a LetterFileError must say where the problem is"
            return
        for letter in letters.values():
            for text in letter.texts.values():
                for html in [text.body_html, text.safety_html, *text.demands_html, *(a for _, a in text.faq_html)]:
                    assert not DANGEROUS.search(html), DANGEROUS.search(html).group(0)
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---- strategies -------------------------------------------------------------------------

yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**12, max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=60), st.dates(),
    st.sampled_from(["open", "closed", "draft", "delivered", "en", "ar", "initials", "named", "https://x.org",
                     "javascript:alert(1)", "<script>alert(1)</script>", "\u202e"]),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=20,
)
META_KEYS = ["status", "opens", "closes", "default_language", "public_visibility_default", "bundle_default",
             "retention_days", "discreet_mail", "addressees", "initiators", "unknown_field"]
FRONT_KEYS = ["title", "summary", "demands", "safety", "faq", "extra"]


def _mutated_mapping(original: dict, keys: list[str]):
    return st.builds(
        lambda changes, drops: {**{k: v for k, v in original.items() if k not in drops}, **changes},
        st.dictionaries(st.sampled_from(keys), yaml_values, max_size=3),
        st.sets(st.sampled_from(keys), max_size=2),
    )


REAL_META = yaml.safe_load(REAL["letter.yaml"])
REAL_FRONT, REAL_BODY = (lambda text: (yaml.safe_load(text.split("\n---\n", 1)[0][4:]), text.split("\n---\n", 1)[1]))(
    REAL["en.md"].decode())


def _dump(data) -> bytes:
    try:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()
    except yaml.YAMLError:
        return b"{}"


markdown_bodies = st.one_of(
    st.just(REAL_BODY), st.text(max_size=400),
    st.sampled_from([
        "<script>alert(1)</script>", "[x](javascript:alert(1))", "<img src=x onerror=alert(1)>",
        "![i](data:text/html,<script>)", "<iframe src=//evil>", "| a |\n|---|\n| <b>x</b> |", "\u202egnp.exe",
        "[link](http://example.org \"t\" onmouseover=alert(1))", "<a href='x' onclick='y'>z</a>", "   ", "",
    ]),
)


@st.composite
def structured_letters(draw) -> dict[str, bytes]:
    """Plausible files with one or more fields changed to arbitrary YAML values."""
    meta = draw(_mutated_mapping(REAL_META, META_KEYS))
    files = {"letter.yaml": _dump(meta)}
    for lang in draw(st.lists(st.sampled_from(["en", "fr", "ar", "el", "de", "README", "EN"]), min_size=1, max_size=3,
                              unique=True)):
        front = draw(_mutated_mapping(REAL_FRONT, FRONT_KEYS))
        body = draw(markdown_bodies)
        files[f"{lang}.md"] = b"---\n" + _dump(front) + b"---\n" + body.encode("utf-8", "surrogatepass")
    return files


@st.composite
def byte_mutations(draw) -> dict[str, bytes]:
    """The real files with bytes flipped, cut, inserted or duplicated."""
    files = dict(REAL)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        name = draw(st.sampled_from(sorted(files)))
        data = bytearray(files[name])
        kind = draw(st.sampled_from(["flip", "cut", "insert", "truncate", "dup", "empty"]))
        at = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(min_value=0, max_value=255))
        elif kind == "cut":
            del data[at:at + draw(st.integers(min_value=1, max_value=200))]
        elif kind == "insert":
            data[at:at] = draw(st.one_of(st.binary(max_size=40), st.sampled_from([
                b"\n---\n", b"---\n", b"\xff\xfe", b"\x00", b"&a [*a, *a]", b"!!python/object:os.system", b"\t",
                b"\r\n", b"\xef\xbb\xbf", b": : :", b"{{", b"- - -",
            ])))
        elif kind == "truncate":
            del data[at:]
        elif kind == "dup":
            data += data[at:at + 300]
        else:
            data = bytearray()
        files[name] = bytes(data)
    if draw(st.booleans()):
        files.pop(draw(st.sampled_from(sorted(files))), None)
    return files


@SETTINGS
@given(structured_letters())
def test_structured_mutations_only_raise_letter_file_error(files):
    load_letter_bytes(files)


@SETTINGS
@given(byte_mutations())
def test_byte_mutations_only_raise_letter_file_error(files):
    load_letter_bytes(files)


@SETTINGS
@given(st.dictionaries(st.text(st.characters(exclude_categories=("Cs",), exclude_characters="/\x00"), min_size=1,
                               max_size=12).filter(lambda n: n not in (".", "..")),
                       st.binary(max_size=300), max_size=4),
       st.text(st.characters(exclude_categories=("Cs",), exclude_characters="/\x00"), min_size=1, max_size=30)
       .filter(lambda n: n not in (".", "..") and not n.startswith((".", "_"))))
def test_arbitrary_files_and_folder_names(files, slug):
    try:
        load_letter_bytes(files, slug=slug)
    except OSError:
        pass  # a name the file system itself refuses is not the loader's concern


def test_yaml_bombs_and_deep_nesting_are_letter_file_errors():
    bomb = b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    deep = b"status: " + b"[" * 5000 + b"]" * 5000 + b"\n"
    for meta in (bomb, deep, b"!!python/object/apply:os.system ['true']\n", b"\xff\xfe\x00"):
        load_letter_bytes({**REAL, "letter.yaml": meta})


def test_impossible_dates_and_bad_tags_are_letter_file_errors():
    """PyYAML raises ValueError, not YAMLError, for these: an editor's typo in a date."""
    import pytest

    meta = REAL["letter.yaml"].decode()
    for bad in ("opens: 2024-02-30", "opens: 2024-13-01", "retention_days: !!int x", "opens: 2024-02-30 10:00:00"):
        broken = re.sub(r"^opens: .*$", bad, meta, flags=re.M) if "opens" in bad else meta + bad + "\n"
        root = Path(tempfile.mkdtemp(prefix="letters-fuzz-"))
        try:
            (root / "a-letter").mkdir()
            for name, content in REAL.items():
                (root / "a-letter" / name).write_bytes(content)
            (root / "a-letter" / "letter.yaml").write_text(broken)
            with pytest.raises(LetterFileError) as caught:
                load_all(root)
            assert "letter.yaml" in str(caught.value)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def test_the_real_letter_loads():
    load_letter_bytes(dict(REAL))


def atheris_main() -> None:  # pragma: no cover - needs atheris
    import atheris

    def one_input(data: bytes) -> None:
        provider = atheris.FuzzedDataProvider(data)
        name = FILES[provider.ConsumeIntInRange(0, len(FILES) - 1)]
        load_letter_bytes({**REAL, name: provider.ConsumeBytes(provider.remaining_bytes())})

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":  # pragma: no cover
    atheris_main()
