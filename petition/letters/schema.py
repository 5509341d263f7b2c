"""The schema of letter files, documented for editors in letters/README.md."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, field_validator, model_validator

from petition.i18n import DEFAULT_LANGUAGE, LANGUAGES

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]

STATUSES = ("draft", "open", "closed", "delivered")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Addressee(Strict):
    company: ShortText
    platforms: list[ShortText] = Field(default_factory=list)

    @property
    def named_platforms(self) -> list[str]:
        """The platforms worth naming after the company: "X (X)" says nothing more than "X"."""
        return [] if self.platforms == [self.company] else self.platforms


class Initiator(Strict):
    name: ShortText
    website: HttpUrl | None = None


class LetterMeta(Strict):
    """letters/<slug>/letter.yaml: the facts that do not change with the language."""

    status: Literal["draft", "open", "closed", "delivered"]
    opens: date | None = None
    closes: date | None = None
    default_language: str = DEFAULT_LANGUAGE  # one of i18n.LANGUAGES, the one list of the site's languages
    public_visibility_default: Literal["full", "initials", "none"] = "none"
    bundle_default: Literal["named", "counted"] = "counted"
    retention_days: int = Field(default=180, ge=1, le=3650)
    discreet_mail: bool = True
    addressees: list[Addressee] = Field(min_length=1)
    initiators: list[Initiator] = Field(default_factory=list)
    goal: int | None = Field(default=None, ge=1, le=1_000_000_000)
    auto_goal: bool = False
    # The campaign's time zone (IANA name): every date and time about this letter, in
    # the console and on its pages, is shown in it.
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as 'Asia/Beirut')") from None
        return value

    @field_validator("default_language")
    @classmethod
    def _site_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"'{value}' is not a language of the site ({', '.join(LANGUAGES)})")
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> "LetterMeta":
        if self.opens and self.closes and self.closes < self.opens:
            raise ValueError("'closes' is before 'opens'")
        return self


class FaqItem(Strict):
    question: ShortText
    answer: Text


class LetterFrontMatter(Strict):
    """The front matter of letters/<slug>/<lang>.md."""

    title: ShortText
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=600)]
    demands: list[Text] = Field(min_length=1)
    safety: Text
    faq: list[FaqItem] = Field(default_factory=list)
