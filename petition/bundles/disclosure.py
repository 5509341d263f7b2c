"""What the delivered bundle prints for a signer: the one rule, used by the annex (in its
worker processes, with no Flask app) and by the confirm page's preview, so that the
preview shows exactly what the bundle will print.

- "Counted only" (bundle_visibility "counted"): nothing but the count.
- "Name me": the full name, or the initials if that is all the signer shows publicly;
  the affiliation only for those who show their full name publicly (beside initials, or
  beside a name kept off the public page, an affiliation could identify someone who
  chose not to be identified); the country's name in the bundle's language ("" when not
  given).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

from petition.countries import UNKNOWN, name as country_name
from petition.text import initials


class Printed(NamedTuple):
    name: str
    affiliation: str  # "" when not printed
    country: str  # the country's name in the bundle's language, "" when not given


def printed(full_name: str, affiliation: str | None, public_visibility: str, bundle_visibility: str,
            country: str, lang: str, *, country_names: Callable[[str, str], str] = country_name) -> Printed | None:
    """The bundle's line for one signer, or None if the signer is only counted."""
    if bundle_visibility != "named" or not full_name:
        return None
    shown = initials(full_name) if public_visibility == "initials" else full_name
    shown_affiliation = (affiliation or "") if public_visibility == "full" else ""
    return Printed(shown, shown_affiliation, country_names(country, lang) if country and country != UNKNOWN else "")


def preview(full_name: str, affiliation: str | None, country: str, lang: str) -> dict[str, Printed]:
    """For the confirm page: what the bundle prints under "name me" for each public
    choice the signer can still make (keys "full", "initials", "none")."""
    return {public: printed(full_name, affiliation, public, "named", country, lang)
            for public in ("full", "initials", "none")}
