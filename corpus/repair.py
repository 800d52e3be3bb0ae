"""Restore the characters MedQuAD lost upstream; flag text where a restoration is not certain.

MedQuAD's conversion of the NIH pages dropped every character outside ASCII from all its sources
but CDC (CDC's pages keep their µ, ≥, –, é, ’). Our loaders lose nothing (tests in
tests/test_corpus_repair.py compare every format character by character with its source); the
damage is in ``medquad_qa.jsonl`` itself, and what a lost character leaves depends on where it
stood.

Survey of ``../shared/data/medquad/medquad_qa.jsonl`` (MedQuAD @ 577bd37; 16,407 answers with
their focus and question, whitespace-normalised). Counts are occurrences; 1,098 answers change.

====================  =====  ====================================================================
family                count  what is done
====================  =====  ====================================================================
letter of a name        686  repaired, 29 names (:data:`LETTERS`): Sjgren 116, Guillain-Barr 67,
                             Mntrier 56, Szary 54, Mnire 51, Behet 39, Mllerian 32,
                             Waldenstrm 28, ... Grsbeck 18 (the GHR page; GARD's own page spells
                             it Grasbeck, 11)
apostrophe            2,036  repaired: contractions 405 (doesnt 122, dont 133, cant 65), pronouns
                             190 (youre 95, thats 22), not plurals 517 (bodys 311, childs 129,
                             womans 42), after a/each 259 (a persons 174, a patients 50),
                             eponyms 665 (Alzheimers 280, Crohns 70, Parkinsons 61)
apostrophe, unclear       -  left: "its" (1,330, nearly all genuine), "your doctors",
                             "the patients" (a plural, or a possessive)
dash before "such"       90  repaired: "doctorssuch as" -> "doctors—such as"
dash of an appositive     3  repaired: "ferritina protein that stores ironin the blood" (NIDDK),
                             "ceruloplasmina protein that" (GARD)
other glued words       771  flagged (366 words): "duodenumthe", "tractcalled", "kelpmay",
                             "comaa", "pathologista", "hemophiliaYou"
glued before a/in/and  100s  not flagged: "marrowa", "rectumand" cannot be
                             told from "retina", "protein", "flexor" without a dictionary
µ of a unit               7  repaired: ferritin in µg/L 4 (NIDDK), µmol/L 3 (GARD); the one
                             other "g/L" (fibrinogen 0.1 g/L) is genuine
Greek letter             53  repaired: "alpha ()" and kin 18, "-hCG" 35 (NCI's beta-hCG)
Greek letter, orphan     21  flagged: a hyphen after "the", "of"... 19 ("of -dystroglycan",
                             "The -transducin"), "()" 2
dash of a range           3  flagged: "between 3 30 years" (NINDS)
"Espaol" navigation      18  dropped with the navigation line by the MedQuAD loader
° of a temperature       11  left ("fever (up to 101F)"); so are lost quotes, ®, ™ and …: the
                             words are intact
====================  =====  ====================================================================

How the families were found: words that occur both with and without one letter ("Grsbeck",
"Grasbeck"), GHR and GARD titles against their URL slugs (``imerslund-grasbeck-syndrome``),
words ending in ``s`` whose ``'s`` form is common ("bodys" 311, "body's" 758) and that cannot
be plurals, tokens that are not in a pronouncing dictionary but split into a word and a
connective ("doctorssuch"), and every number followed by a unit.

Repairs (:data:`MEDQUAD_REPAIRS`) restore a character only where it is certain:

- the letter of an eponym, known from the name's own spelling and placed by the ASCII spelling
  elsewhere in MedQuAD or in the page URL (``Grsbeck`` -> ``Gräsbeck``);
- an apostrophe where the word without it is no English word (``bodys``, ``doesnt``), is a
  plural after a singular determiner (``a persons risk``), or is an eponym (``Crohns disease``);
- an em dash before "such as": no English word ends in "such", and NIDDK and NHLBI set their
  parentheticals in closed-up em dashes ("doctors—such as a family doctor...—often diagnose");
- the µ of a unit where no other reading is possible (a ferritin of "1,000 g/L", a plasma
  thymidine of "3 mol/L"; n and m are ASCII, so the lost prefix is µ);
- a Greek letter whose name stands next to it ("alpha ()-actin" -> "alpha (α)-actin").

An apostrophe comes back as ``'`` and a dash as ``—``: the source may have had ``’`` or ``–``,
which read the same. What cannot be restored with certainty is left, and where the loss can
change how a sentence reads it is flagged by :func:`suspect_spans` / :func:`damaged`, so that the
answer layer can keep such sentences out of an answer's lead.

Repairs change text, so the passage offsets and ids of repaired MedQuAD documents change too
(ids hash the document id and offsets): rebuild an index after upgrading.

Example:
    >>> repair_medquad("Imerslund-Grsbeck syndrome affects the bodys use of vitamin B12.")
    "Imerslund-Gräsbeck syndrome affects the body's use of vitamin B12."
    >>> damaged("Nutrients are absorbed in the duodenumthe first part of the small intestine.")
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "LETTERS",
    "MEDQUAD_REPAIRS",
    "SUSPECT_PATTERNS",
    "Repair",
    "Suspect",
    "SuspectPattern",
    "damaged",
    "repair_medquad",
    "suspect_spans",
]

# How far back (in characters) a repair or a suspect pattern looks for its context: about two
# sentences of MedQuAD prose, enough to reach "serum ferritin" from "Levels above 1,000 g/L".
CONTEXT_CHARS = 250
# Web addresses are left alone: "www.alzheimers.org" is a name, not a possessive.
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w.-]+\.(?:gov|org|com|edu|net)(?:/\S*)?", re.I)


@dataclass(frozen=True)
class Repair:
    """One known upstream artifact: where it is, what the source said, and why that is certain.

    Attributes:
        name: a short label, used in counts and tests.
        pattern: what the damaged text looks like.
        replacement: the source's text: a :meth:`re.Match.expand` template, or a function of
            the match.
        reason: why the restored character is certain.
        context: when set, the repair applies only if this matches within the
            :data:`CONTEXT_CHARS` before the match (or in the match itself).
        veto: when set, the repair does not apply if this matches there.
        needles: strings of which every match contains one; a text without any of them is
            skipped without running the pattern (an optimisation only).

    Example:
        >>> rule = Repair("dash", re.compile(r"(?<=[a-z])such as\\b"), "—such as", "em dash")
        >>> rule.apply("Primary care doctorssuch as a family doctor")
        'Primary care doctors—such as a family doctor'
    """

    name: str
    pattern: re.Pattern[str]
    replacement: str | Callable[[re.Match[str]], str]
    reason: str
    context: re.Pattern[str] | None = None
    veto: re.Pattern[str] | None = None
    needles: tuple[str, ...] = ()

    def _applies(self, text: str, match: re.Match[str], urls: _Spans) -> bool:
        if urls.cover(match.start()):
            return False
        window = text[max(0, match.start() - CONTEXT_CHARS) : match.end()]
        if self.context is not None and not self.context.search(window):
            return False
        return self.veto is None or not self.veto.search(window)

    def _restore(self, match: re.Match[str]) -> str:
        if callable(self.replacement):
            return self.replacement(match)
        return match.expand(self.replacement)

    def apply(self, text: str) -> str:
        """``text`` with every applicable occurrence restored."""
        if self.needles and not any(needle in text for needle in self.needles):
            return text  # a fast pre-check: most texts have none of a rule's words
        urls = _Spans(text)

        def restore(match: re.Match[str]) -> str:
            return self._restore(match) if self._applies(text, match, urls) else match.group(0)

        return self.pattern.sub(restore, text)

    def count(self, text: str) -> int:
        """How many occurrences in ``text`` this repair would restore."""
        urls = _Spans(text)
        return sum(self._applies(text, m, urls) for m in self.pattern.finditer(text))


class _Spans:
    """The web addresses of a text, found on first use (most texts never need them)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._spans: list[tuple[int, int]] | None = None

    def cover(self, position: int) -> bool:
        if self._spans is None:
            self._spans = [m.span() for m in _URL.finditer(self._text)]
        return any(start <= position < end for start, end in self._spans)


# Letters of eponyms: (damaged, restored, the evidence for the letter and its place). The ASCII
# spelling that confirms the place is quoted from MedQuAD (another page, or the page's own URL
# slug). A damaged form may carry a condition on what follows it (a regex lookahead).
LETTERS: tuple[tuple[str, str, str], ...] = (
    ("Grsbeck", "Gräsbeck", "ä; GARD and the GHR URL spell it 'Grasbeck'"),
    ("Sjgren", "Sjögren", "ö; 'Sjogren' 42 times elsewhere"),
    ("Waldenstrm", "Waldenström", "ö; 'Waldenstrom' elsewhere and in the GHR URL"),
    ("Behet", "Behçet", "ç; 'Behcet' 43 times elsewhere"),
    ("Mllerian", "Müllerian", "ü; 'Mullerian' elsewhere and in the GHR URL"),
    ("Schnlein", "Schönlein", "ö; 'Schonlein' 15 times elsewhere"),
    ("Szary", "Sézary", "é; 'Sezary' elsewhere"),
    ("Chdiak", "Chédiak", "é; 'Chediak' 26 times elsewhere"),
    ("Alstrm", "Alström", "ö; 'Alstrom' elsewhere and in the GHR URL"),
    ("Bjrnstad", "Björnstad", "ö; 'Bjornstad' elsewhere and in the GHR URL"),
    ("Klver", "Klüver", "ü; 'Kluver' elsewhere"),
    ("Kster", "Küster", "ü; 'Kuster' elsewhere and in the GHR URL"),
    ("Lken", "Løken", "ø (a Norwegian name); 'Loken' elsewhere and in the GHR URL"),
    ("Stve", "Stüve", "ü; 'Stuve' elsewhere and in the GHR URL"),
    ("Zweymller", "Zweymüller", "ü; 'Zweymuller' elsewhere and in the GHR URL"),
    ("Mnire", "Ménière", "two é; 'Meniere' elsewhere"),
    ("Mntrier", "Ménétrier", "two é; 'Menetrier' in the same GARD page"),
    ("Guillain-Barr", "Guillain-Barré", "é; the GHR URL spells 'guillain-barre'"),
    ("Birt-Hogg-Dub", "Birt-Hogg-Dubé", "é; the GHR URL spells 'birt-hogg-dube'"),
    ("Legg-Calv(?=-Perthes)", "Legg-Calvé", "é; the GHR URL spells 'legg-calve-perthes'"),
    ("Cant(?= syndrome)", "Cantú", "ú; the GHR URL spells 'cantu' ('Cant AJ' is an author)"),
    ("caf(?=[- ]au[- ]lait)", "café", "é; the GARD URL spells 'cafe-au-lait'"),
    ("Caf(?=[- ]au[- ]lait)", "Café", "é; as 'caf au lait'"),
    ("Franois", "François", "ç; the GARD URL spells 'francois'"),
    ("Tranebjrg", "Tranebjærg", "æ; 'Tranebjaerg' 8 times elsewhere"),
    ("Hnermann", "Hünermann", "ü; Conradi-Hünermann-Happle syndrome"),
    ("Schller", "Schüller", "ü; Hand-Schüller-Christian disease"),
    ("Schnberg", "Schönberg", "ö; Albers-Schönberg disease"),
    ("Roussy-Lvy", "Roussy-Lévy", "é; Roussy-Lévy syndrome"),
)


def _letters() -> Repair:
    pattern = r"\b(?:" + "|".join(damaged for damaged, _, _ in LETTERS) + r")(?=s?\b)"
    plain = {re.sub(r"\(\?=.*\)$", "", damaged): restored for damaged, restored, _ in LETTERS}
    return Repair(
        "letter",
        re.compile(pattern),
        lambda match: plain[match.group(0)],
        "a letter outside ASCII in an eponym (see LETTERS)",
        needles=tuple(plain),
    )


def _words(name: str, forms: str, reason: str, *, lower_only: str = "", before: str = "") -> Repair:
    """Restore the apostrophe of whole words: ``forms`` are the source's spellings.

    A form written in lower case also matches with a capital first letter ("Dont"), unless it
    is in ``lower_only``; a form with a capital matches only as written. ``before`` is a
    lookahead the word must be followed by.
    """
    restored = {form.replace("'", ""): form for form in forms.split()}
    exact = set(lower_only.split()) | {d for d in restored if not d[0].islower()}
    variants = {d: d for d in restored}
    variants |= {d[0].upper() + d[1:]: d for d in restored if d not in exact}

    def restore(match: re.Match[str]) -> str:
        word = match.group(0)
        form = restored[variants[word]]
        return word[0] + form[1:]

    alternatives = "|".join(sorted(variants, key=len, reverse=True))
    return Repair(
        name,
        re.compile(rf"\b(?:{alternatives})\b{before}"),
        restore,
        reason,
        needles=tuple(variants),
    )


# Possessive eponyms: none of these names has a plural in MedQuAD. The four names that are also
# English words ("bells", "downs") count only before a disease noun.
_EPONYMS = (
    "Alzheimer's Parkinson's Crohn's Hashimoto's Cushing's Addison's Huntington's Peyronie's "
    "Friedreich's Farber's Fanconi's Wolman's Leigh's Wallenberg's Rasmussen's Cooley's Bowen's "
    "Prinzmetal's Takayasu's Gehrig's Asperger's Schirmer's Fowler's Hodgkin's Ménière's "
    "Ménétrier's Sjögren's Behçet's Meniere's Menetrier's Sjogren's"
)
_SINGULAR_NOUNS = "person|patient|woman|man|child|doctor|individual|baby|mother|father"
_MICRO = "\u00b5"  # MICRO SIGN, as in MedQuAD's CDC pages, which kept theirs
_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "kappa": "κ"}

MEDQUAD_REPAIRS: tuple[Repair, ...] = (
    # Letters run first, so that "Mntriers" becomes "Ménétriers" and then "Ménétrier's".
    _letters(),
    _words(
        "apostrophe:contraction",
        "don't doesn't didn't isn't aren't wasn't weren't hasn't haven't hadn't shouldn't "
        "wouldn't couldn't mustn't needn't won't can't",
        "'doesnt', 'dont', 'wont' are not words; 'cant' (65) always reads 'can't' in MedQuAD",
        lower_only="cant",  # "Cant AJ" is an author
    ),
    _words(
        "apostrophe:pronoun",
        "you're you've you'll you'd they're they've they'll they'd we've that's what's "
        "there's who's I'm I've",
        "not words ('were', 'well', 'its', 'lets', 'hes' are, or may be, and stay)",
    ),
    _words(
        "apostrophe:not-a-plural",
        "body's baby's family's study's child's woman's women's men's children's",
        "'bodys', 'childs', 'womans', 'childrens' cannot be plurals",
    ),
    Repair(
        "apostrophe:singular",
        re.compile(rf"\b([Aa]n?|[Ee]ach|[Ee]very) ({_SINGULAR_NOUNS})s\b"),
        r"\1 \2's",
        "a singular determiner takes no plural: 'a persons risk' is 'a person's risk'",
        needles=tuple(f" {noun}s" for noun in _SINGULAR_NOUNS.split("|")),
    ),
    _words(
        "apostrophe:eponym",
        _EPONYMS,
        "an eponym used as a plural: 'Crohns disease' (70) is 'Crohn's disease' (146)",
    ),
    _words(
        "apostrophe:eponym-word",
        "Bell's Kennedy's Still's Down's",
        "'Bells palsy', 'Stills disease': names that are also words, before a disease noun",
        before=r"(?=\s+(?:disease|syndrome|palsy)\b)",
    ),
    Repair(
        "dash:such-as",
        re.compile(r"(?<=[a-z])such as\b"),
        "—such as",
        "no English word ends in 'such'; the lost character opens a parenthetical",
        needles=("such as",),
    ),
    Repair(
        "dash:appositive",
        re.compile(r"\b(ferritin|ceruloplasmin)a protein that\b"),
        r"\1—a protein that",
        "'ferritina' and 'ceruloplasmina' are not words: NIDDK's 'ferritin—a protein that "
        "stores iron—in the blood' lost both dashes",
        needles=("a protein that",),
    ),
    Repair(
        "dash:appositive-end",
        re.compile(r"(?<=a protein that stores )ironin\b"),
        "iron—in",
        "'ironin' is not a word; it closes the parenthetical the dash above opens",
        needles=("ironin",),
    ),
    Repair(
        "micro:ferritin",
        re.compile(r"(?<=\d) g/L\b"),
        f" {_MICRO}g/L",
        "a serum ferritin of 25-1,000 g/L is impossible; ng and mg are ASCII, so the lost "
        "prefix is µ",
        context=re.compile(r"\bferritin\b", re.I),
        veto=re.compile(r"fibrinogen|ha?emoglobin|albumin|globulin", re.I),
        needles=(" g/L",),
    ),
    Repair(
        "micro:mol",
        re.compile(r"(?<=\d) mol/L\b"),
        f" {_MICRO}mol/L",
        "no plasma or urine level of a metabolite is whole moles per litre",
        context=re.compile(r"\b(?:plasma|serum|blood|urine)\b", re.I),
        needles=(" mol/L",),
    ),
    Repair(
        "greek",
        re.compile(rf"\b({'|'.join(_GREEK)}) \(\)", re.I),
        lambda match: f"{match.group(1)} ({_GREEK[match.group(1).lower()]})",
        "the spelled-out name ('alpha ()-actin') names the lost letter",
        needles=(" ()",),
    ),
    Repair(
        "greek:beta-hCG",
        re.compile(r"(?<![\w-])-hCG\b"),
        "β-hCG",
        "NCI defines it as 'beta human chorionic gonadotropin (-hCG)'",
        needles=("-hCG",),
    ),
)


def repair_medquad(text: str) -> str:
    """``text`` with the known MedQuAD artifacts restored (see :data:`MEDQUAD_REPAIRS`).

    Idempotent: repaired text has nothing left for the table to match.

    Example:
        >>> repair_medquad("Levels above 300 g/L in men ... serum ferritin")
        'Levels above 300 g/L in men ... serum ferritin'
        >>> repair_medquad("The serum ferritin ... Levels above 300 g/L in men")
        'The serum ferritin ... Levels above 300 µg/L in men'
    """
    for rule in MEDQUAD_REPAIRS:
        text = rule.apply(text)
    return text


# ---------------------------------------------------------------------------------------------
# Suspect spans: losses that cannot be restored with certainty


@dataclass(frozen=True)
class Suspect:
    """A flagged span of a text: ``text[start:end]`` probably lost a character.

    Example:
        >>> [(s.start, s.end, s.kind) for s in suspect_spans("The -transducin protein")]
        [(4, 15, 'symbol')]
    """

    start: int
    end: int
    kind: str
    reason: str


@dataclass(frozen=True)
class SuspectPattern:
    """A shape of text that probably lost a character, which no repair can restore.

    Attributes:
        kind: ``glued``, ``symbol``, ``range`` or ``unit``.
        pattern: the text to flag (its group ``flag`` if it has one, else the whole match).
        reason: what was probably lost.
        not_if_word: a match that this matches in full is not flagged (real words that only
            look glued).
        not_if_near: a match is not flagged if this matches within the :data:`CONTEXT_CHARS`
            before it or in it.
    """

    kind: str
    pattern: re.Pattern[str]
    reason: str
    not_if_word: re.Pattern[str] | None = None
    not_if_near: re.Pattern[str] | None = None

    def find(self, text: str) -> list[Suspect]:
        """The flagged spans of ``text``."""
        found = []
        for match in self.pattern.finditer(text):
            if self.not_if_word is not None and self.not_if_word.fullmatch(match.group(0)):
                continue
            window = text[max(0, match.start() - CONTEXT_CHARS) : match.end()]
            if self.not_if_near is not None and self.not_if_near.search(window):
                continue
            start, end = match.span("flag") if "flag" in self.pattern.groupindex else match.span()
            found.append(Suspect(start, end, self.kind, self.reason))
        return found


# Connectives that NIDDK and NHLBI pages put right after a closed-up em dash, and that end no
# English word of three or more letters before them, except those listed in _REAL_WORDS.
_CONNECTIVES = (
    "the|which|such|called|known|including|particularly|especially|because|usually|often|"
    "also|may|can|even|that|those|these|from|into|with|about|after|your|you|when|while|where|"
    "both|another|mostly|approximately|sometimes"
)
_REAL_WORDS = re.compile(
    r"(?i)(?:breathe|soothe|loathe|seethe|teethe|clothe|unclothe|writhe|scythe|blithe|absinthe|"
    r"african|pelican|toucan|vatican|tuscan|moroccan|"
    r"seven|eleven|uneven|hereafter|thereafter|forthwith|herewith|therewith|"
    r"thereabouts?|hereabouts?|whereabouts?|roundabout|runabout|walkabout|dismay|"
    r"meanwhile|worthwhile|erstwhile|elsewhere|everywhere|somewhere|nowhere|anywhere|"
    r"\w+ican|\w*glycans?|syndecans?|versican|beckwith|otherwise)"
)
# Quantities whose normal unit is grams or moles per litre (without a prefix).
_GRAM_ANALYTES = re.compile(
    r"ha?emoglobin|albumin|protein|fibrinogen|globulin|\bHb\b|grams? per", re.I
)

SUSPECT_PATTERNS: tuple[SuspectPattern, ...] = (
    SuspectPattern(
        "glued",
        re.compile(rf"\b[A-Za-z][a-z]{{2,}}(?:{_CONNECTIVES})\b"),
        "two words run together where a dash was lost ('tractcalled', 'duodenumthe')",
        not_if_word=_REAL_WORDS,
    ),
    SuspectPattern(
        "glued",
        re.compile(r"\b[A-Za-z][a-z]+(?:aa|ologista|scopea)\b"),
        "a word run into 'a' where a dash was lost ('comaa sleeplike state', 'pathologista')",
    ),
    SuspectPattern(
        "glued",
        re.compile(r"\b[a-z]{3,}[A-Z][a-z]{2,}\b"),
        "two words run together ('hemophiliaYou')",
    ),
    SuspectPattern(
        "symbol",
        re.compile(r"\(\)"),
        "empty parentheses: a Greek letter or symbol lost",
    ),
    SuspectPattern(
        "symbol",
        re.compile(r"\b(?:the|The|of|for|by|with|an|a|An|A) (?P<flag>-[A-Za-z][\w-]*)"),
        "a Greek letter or symbol lost before a hyphen ('The -transducin protein')",
    ),
    SuspectPattern(
        "range",
        re.compile(
            r"\b\d+ \d+(?= (?:years?|months?|weeks?|days?|hours?|minutes?|percent|times|mg|kg|"
            r"cm|mm|inches|pounds)\b)"
        ),
        "a range that lost its dash ('between 3 30 years')",
    ),
    SuspectPattern(
        "unit",
        re.compile(r"\b\d[\d,.]* (?:g|mol)/(?:L|dL|mL)\b"),
        "a mass or molar unit that may have lost its µ",
        not_if_near=_GRAM_ANALYTES,
    ),
)


def suspect_spans(text: str) -> tuple[Suspect, ...]:
    """Spans of ``text`` that probably lost a character which no repair could restore.

    Meant for MedQuAD text after :func:`repair_medquad`. Other sources kept their characters,
    and there the patterns find mostly false alarms (in SciFact and PubMedQA: 117 spans in
    6,183 abstracts, such as "proteoglycan" and "ATP-dependent and -independent"), so check
    only MedQuAD passages. Spans are sorted by start.

    Example:
        >>> text = "Iron is absorbed in the duodenumthe first part of the small intestine."
        >>> [(text[s.start : s.end], s.kind) for s in suspect_spans(text)]
        [('duodenumthe', 'glued')]
    """
    found = [suspect for pattern in SUSPECT_PATTERNS for suspect in pattern.find(text)]
    return tuple(sorted(found, key=lambda s: (s.start, s.end)))


@lru_cache(maxsize=16384)
def damaged(text: str) -> bool:
    """Whether ``text`` (typically one sentence) probably lost a character upstream (cached:
    the same sentences are candidates for answer after answer).

    Example:
        >>> damaged("Primary care doctors—such as a family doctor—often diagnose it.")
        False
        >>> damaged("Mild hemophiliaReplacement therapy usually isn't needed.")
        True
    """
    return bool(suspect_spans(text))
