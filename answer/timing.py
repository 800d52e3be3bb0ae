"""When a question is asked about: "before pregnancy", "after surgery".

A question that names a time around an event ("Why does folic acid matter before pregnancy?")
is answered by evidence about that time: a sentence about folic acid *during* pregnancy names the
pregnancy but not the time asked about. :func:`timing_of` reads the time from the question, and
:meth:`Timing.matches` tells whether a sentence (or the page it is on) is about that time, about
another time around the same event, or neither.

The medical words for a time around an event ("preconception", "postoperative") are a small
table; any other event is matched by its own words ("before the race").

Example:
    >>> timing = timing_of("Why does folic acid matter before pregnancy?")
    >>> timing.matches("Periconceptional folic acid supplementation reduced the risk.")
    True
    >>> timing.matches("Folic acid during pregnancy reduces the risk of preeclampsia.")
    False
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import cache


class When(Enum):
    BEFORE = "before"
    DURING = "during"
    AFTER = "after"


# Each event: its words in a question, and the words for each time around it in evidence text
# (besides "before/during/after <event word>").
_EVENTS: dict[str, tuple[frozenset[str], dict[When, tuple[str, ...]]]] = {
    "pregnancy": (
        frozenset({"pregnancy", "pregnant", "conception", "conceiving", "conceive"}),
        {
            When.BEFORE: (
                "preconception",
                "preconceptional",
                "periconception",
                "periconceptional",
                "before conception",
                "before you get pregnant",
                "before becoming pregnant",
                "may get pregnant",
                "may become pregnant",
                "could become pregnant",
                "planning a pregnancy",
                "planning to become pregnant",
                "trying to get pregnant",
                "trying to have a baby",
            ),
            When.DURING: ("prenatal", "antenatal", "gestation", "while pregnant", "pregnant women"),
            When.AFTER: ("postpartum", "postnatal", "after delivery", "after giving birth"),
        },
    ),
    "surgery": (
        frozenset({"surgery", "operation", "procedure"}),
        {
            When.BEFORE: ("preoperative", "preoperatively", "presurgical"),
            When.DURING: ("intraoperative", "intraoperatively"),
            When.AFTER: ("postoperative", "postoperatively", "postsurgical"),
        },
    ),
}

_QUESTION = re.compile(
    r"\b(before|during|after)\s+(?:(?:the|a|an|my|her|his|your|their)\s+)?([a-z]+)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Timing:
    """A time around an event that a question asks about, and how evidence names it."""

    when: When
    event: str
    words: tuple[str, ...]  # event words as a question would name them

    def matches(self, text: str, frame: str | None = None) -> bool | None:
        """``True`` when ``text`` (or its page ``frame``) is about this time, ``False`` when it
        is about another time around the same event only, ``None`` when it names neither."""
        times = {when: _pattern(self.event, self.words, when) for when in When}
        for part in (text, frame or ""):
            if times[self.when].search(part):
                return True
        others = any(p.search(text) for when, p in times.items() if when is not self.when)
        return False if others else None


def timing_of(question: str) -> Timing | None:
    """The time a question asks about ("before pregnancy"), or ``None``."""
    match = _QUESTION.search(question)
    if match is None:
        return None
    when, word = When(match.group(1).lower()), match.group(2).lower()
    for event, (words, _) in _EVENTS.items():
        if word in words:
            return Timing(when, event, tuple(sorted(words)))
    return Timing(when, word, (word,))


@cache
def _pattern(event: str, words: tuple[str, ...], when: When) -> re.Pattern[str]:
    named = _EVENTS.get(event, (frozenset(), {}))[1].get(when, ())
    phrases = [rf"{when.value}(?: and during)?\s+(?:\w+\s+)?{w}" for w in words]
    if when is When.DURING:
        phrases.append(rf"(?:and|or) during\s+(?:\w+\s+)?(?:{'|'.join(words)})")
    alternatives = "|".join([*phrases, *(re.escape(n) for n in named)])
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)
