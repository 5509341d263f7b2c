"""Goal and progress: letter.yaml's goal/auto_goal, validated; the progress bar on the
letter page and the home cards (in Arabic too); the API's goal and counts."""
from __future__ import annotations

import shutil

import pytest

from petition.extensions import db
from petition.letters import services
from petition.letters.loader import LetterFileError, load_letter
from petition.letters.progress import band, next_round, progress
from tests.growth.support import SLUG, set_count, set_goal, tags, text_of
from tests.helpers import LANGS


def test_round_numbers_and_bands():
    assert [next_round(n) for n in (0, 9, 10, 99, 100, 150, 999, 1000, 1234, 4999, 5000)] == \
        [10, 10, 20, 100, 200, 200, 1000, 2000, 2000, 5000, 10000]
    assert [band(n) for n in (0, 9, 10, 19, 20, 49, 50, 999, 1000, 1999, 2000, 123_456)] == \
        [0, 0, 10, 10, 20, 20, 50, 500, 1000, 1000, 2000, 100_000]
    assert progress(5, None) is None
    assert progress(999, 1000).percent == 99 and not progress(999, 1000).reached
    assert progress(1500, 1000).percent == 100 and progress(1000, 1000).reached


@pytest.mark.parametrize("line, field", [("goal: 0", "goal"), ("goal: -5", "goal"), ("goal: lots", "goal"),
                                         ("auto_goal: perhaps", "auto_goal"), ("goals: 10", "goals")])
def test_a_bad_goal_names_the_file_and_field(tmp_path, line, field):
    source = services.__file__.rsplit("/petition/", 1)[0] + f"/letters/{SLUG}"
    folder = tmp_path / SLUG
    shutil.copytree(source, folder)
    meta = folder / "letter.yaml"
    meta.write_text("\n".join(l for l in meta.read_text().splitlines() if not l.startswith(("goal", "auto_goal")))
                    + f"\n{line}\n")
    with pytest.raises(LetterFileError) as error:
        load_letter(folder)
    assert error.value.field == field and "letter.yaml" in error.value.path


def test_sync_takes_the_files_goal_and_keeps_an_advanced_one_until_the_file_changes(app):
    row = services.letter_row(SLUG)
    assert (row.goal, row.file_goal, row.auto_goal) == (1000, 1000, True)  # letters/secure-our-socials
    row.goal = 2000  # moved up by the milestone sweep
    db.session.commit()
    services.sync(db.session, services.registry())
    assert services.letter_row(SLUG).goal == 2000  # the file did not change: kept
    letter = services.registry()[SLUG]
    edited = {**services.registry(), SLUG: type(letter)(slug=SLUG, meta=letter.meta.model_copy(update={"goal": 300}),
                                                         texts=letter.texts)}
    services.sync(db.session, edited)
    assert services.letter_row(SLUG).goal == 300  # an edit in the file wins


@pytest.mark.parametrize("lang", LANGS)
def test_letter_page_shows_an_accessible_progress_bar(app, client, lang):
    set_goal(app, SLUG, 1000)
    set_count(app, SLUG, 640)
    html = client.get(f"/{lang}/letters/{SLUG}/").text
    [bar] = [attrs for tag, attrs in tags(html) if tag == "progress"]
    assert bar["max"] == "1000" and bar["value"] == "640"
    label = bar["aria-labelledby"]
    [described] = [attrs for tag, attrs in tags(html) if attrs.get("id") == label]
    # The same figures in words, for screen readers and without CSS.
    words = text_of(html.split(f'id="{label}"', 1)[1].split("</p>", 1)[0])
    assert "64" in words and ("1,000" in words or "1.000" in words or "1 000" in words or "1\u202f000" in words
                              or "١٬٠٠٠" in words or "1٬000" in words)
    if lang == "ar":
        assert '<html lang="ar" dir="rtl">' in html


def test_reached_goal_says_so_and_the_bar_is_full(app, client):
    set_goal(app, SLUG, 100)
    set_count(app, SLUG, 150)
    html = client.get(f"/en/letters/{SLUG}/").text
    [bar] = [attrs for tag, attrs in tags(html) if tag == "progress"]
    assert bar["value"] == bar["max"] == "100"
    assert "Goal reached: 150 signatures, the goal was 100." in text_of(html)


def test_no_goal_no_bar(app, client):
    set_goal(app, SLUG, None)
    assert "<progress" not in client.get(f"/en/letters/{SLUG}/").text


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_home_cards_show_progress(app, client, lang):
    set_goal(app, SLUG, 1000)
    set_count(app, SLUG, 250)
    html = client.get(f"/{lang}/").text
    bars = {attrs["aria-labelledby"]: attrs for tag, attrs in tags(html) if tag == "progress"}
    assert {"max": "1000", "value": "250"}.items() <= bars[f"card-{SLUG}-progress-text"].items()
    assert {"max": "500", "value": "0"}.items() <= bars["card-protect-women-hrds-progress-text"].items()
    assert all(f'id="{label}"' in html for label in bars)


def test_api_gives_goal_and_counts(app, client):
    set_goal(app, SLUG, 1000)
    set_count(app, SLUG, 12)
    data = client.get(f"/api/v1/letters/{SLUG}").get_json()
    assert data["goal"] == 1000 and data["counts"]["individuals"] == 12
    listed = {item["slug"]: item for item in client.get("/api/v1/letters").get_json()["letters"]}
    assert listed[SLUG]["goal"] == 1000
    assert listed["protect-women-hrds"]["goal"] == 500
