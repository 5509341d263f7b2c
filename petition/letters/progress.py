"""Goals and bands: the round numbers a letter's count is measured against.

A goal is what the progress bar fills towards; a band is what the share image says
("1,000+"), so the image changes when the count enters a new band, not with every
signature. Both use the same round numbers, 1, 2 and 5 times a power of ten.
"""
from __future__ import annotations

from dataclasses import dataclass

STEPS = (1, 2, 5)
FIRST_BAND = 10  # below this the share image shows no number at all


def round_numbers(up_to: int):
    power = 1
    while True:
        for step in STEPS:
            value = step * power
            if value > up_to:
                return
            yield value
        power *= 10


def next_round(above: int) -> int:
    """The smallest round number strictly greater than `above` (at least 10)."""
    power = 10
    while True:
        for step in STEPS:
            if step * power > above:
                return step * power
        power *= 10


def band(count: int) -> int:
    """The largest round number not above count, or 0 below FIRST_BAND."""
    if count < FIRST_BAND:
        return 0
    return max(value for value in round_numbers(count) if value >= FIRST_BAND)


@dataclass(frozen=True)
class Progress:
    count: int
    goal: int

    @property
    def reached(self) -> bool:
        return self.count >= self.goal

    @property
    def percent(self) -> int:
        # Floor, so 99.6 % does not show as a full bar before the goal is reached.
        return min(100, self.count * 100 // self.goal)


def progress(count: int, goal: int | None) -> Progress | None:
    return Progress(count=count, goal=goal) if goal else None
