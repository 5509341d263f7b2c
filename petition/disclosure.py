"""What a signer's two choices disclose, and where: the one rule every place calls.

A signer chooses what the public list shows (public_visibility) and what the bundle
delivered to the companies prints (bundle_visibility):

    public_visibility  public list, export         bundle, "name me"           bundle, "count me only"
    "full"             name, affiliation, country  name, affiliation, country  the count only
    "initials"         initials, country           initials, country           the count only
    "none"             nothing (the count only)    name, country               the count only

- The affiliation goes only beside a full name the signer also shows publicly: beside
  initials, or beside a name kept off the public page, it could identify someone who
  chose not to be identified.
- The public list shows what listed() returns, stored at confirmation (public_name,
  public_affiliation); the console's CSV export contains exactly those stored public
  fields (exported()), never the encrypted name, affiliation or address.
- The confirm page previews, for each public choice, what the list and the bundle will
  show (preview()), in the words they will use, country included.
- Paper signatures (petition.paper) under "name me" are printed as written on the sheet
  (a name or the initials the person gave), with their country; never listed publicly.
- The API and the feeds name nobody: counts only.
- Counts by country are grouped so that a small number cannot single anyone out:
  every country with fewer than SMALL_GROUP signatures goes into one "other" line
  (group_small_counts), in the bundle and in the console alike.
- A signer may lower a choice at confirmation, never raise it (PUBLIC_ORDER,
  BUNDLE_ORDER: least shown first).

Plain Python: no Flask and no feature area, so the annex's worker processes (which have
no application) and every feature can import it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable, NamedTuple

from petition.countries import UNKNOWN, name as country_name
from petition.text import initials

# Least shown first: a signer can only ever move down these scales at confirmation.
PUBLIC_ORDER = ("none", "initials", "full")
BUNDLE_ORDER = ("counted", "named")

SMALL_GROUP = 5  # countries with fewer signatures than this are counted together
OTHER = "other"  # the key of the grouped line in group_small_counts

# The console's CSV export: the public fields as stored, the country code, the day confirmed.
EXPORT_HEADER = ("public_name", "public_affiliation", "country", "confirmed")


class Shown(NamedTuple):
    """One signer's line in one place."""

    name: str
    affiliation: str  # "" when not shown
    country: str  # the country's name in the place's language, "" when not given


def shows_affiliation(public_visibility: str) -> bool:
    """Whether the signer's affiliation may appear anywhere (public list or bundle)."""
    return public_visibility == "full"


def named_in_bundle(bundle_visibility: str) -> bool:
    """Whether the bundle prints a name for the signer ("name me"), rather than counting them only."""
    return bundle_visibility == "named"


def listed(full_name: str, affiliation: str | None, public_visibility: str) -> tuple[str | None, str | None]:
    """The public list's (name, affiliation) for a signer, stored at confirmation as
    public_name and public_affiliation: (None, None) for a signer not listed."""
    if public_visibility == "full":
        return full_name, (affiliation or None)
    if public_visibility == "initials":
        return initials(full_name), None
    return None, None


def country_shown(code: str | None, lang: str, names: Callable[[str, str], str] = country_name) -> str:
    """The country's name beside a listed or printed name ("" when not given)."""
    return names(code, lang) if code and code != UNKNOWN else ""


def printed(full_name: str, affiliation: str | None, public_visibility: str, bundle_visibility: str,
            country: str, lang: str, *, country_names: Callable[[str, str], str] = country_name) -> Shown | None:
    """The bundle's line for one signer, or None if the signer is only counted."""
    if not named_in_bundle(bundle_visibility) or not full_name:
        return None
    shown = initials(full_name) if public_visibility == "initials" else full_name
    shown_affiliation = (affiliation or "") if shows_affiliation(public_visibility) else ""
    return Shown(shown, shown_affiliation, country_shown(country, lang, country_names))


def preview(full_name: str, affiliation: str | None, country: str, lang: str) -> dict[str, dict[str, Shown | None]]:
    """For the confirm page, for each public choice (keys of PUBLIC_ORDER): what the
    public list shows ("public", None when not listed) and what the bundle prints under
    "name me" ("bundle"), with the country in `lang`."""
    place = country_shown(country, lang)
    public = {}
    for choice in PUBLIC_ORDER:
        name, shown_affiliation = listed(full_name, affiliation, choice)
        public[choice] = Shown(name, shown_affiliation or "", place) if name else None
    return {"public": public,
            "bundle": {choice: printed(full_name, affiliation, choice, "named", country, lang) for choice in PUBLIC_ORDER}}


def exported(public_name: str, public_affiliation: str | None, country: str | None,
             confirmed_at: datetime | None) -> tuple[str, str, str, str]:
    """One row of the console's CSV export (EXPORT_HEADER), from the stored public fields."""
    return (public_name, public_affiliation or "", "" if not country or country == UNKNOWN else country,
            confirmed_at.date().isoformat() if confirmed_at else "")


def group_small_counts(counts: dict[str, int], threshold: int = SMALL_GROUP) -> list[tuple[str, int]]:
    """[(key, count)] largest first; keys under `threshold` are summed into (OTHER, n),
    which always comes last. Keys with a zero count are dropped."""
    kept = [(key, n) for key, n in counts.items() if n >= threshold and key != OTHER]
    small = sum(n for key, n in counts.items() if 0 < n < threshold or (key == OTHER and n > 0))
    kept.sort(key=lambda pair: (-pair[1], pair[0]))
    if small:
        kept.append((OTHER, small))
    return kept
