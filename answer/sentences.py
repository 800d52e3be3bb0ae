"""Candidate sentences of a passage, and a cache of their embeddings.

An extractive answer quotes sentences verbatim, so every candidate is a span of the passage's
own text: ``passage.text[span.start:span.end] == span.text``. The spans come from the corpus
layer's :func:`corpus.chunking.split_sentences` (which also ends a sentence at every line
break, so MedQuAD's bare headings such as "Overview" stand alone), trimmed of a leading
structured-abstract label ("RESULTS Median serum ..."). Spans that cannot stand alone in an
answer (headings, questions, list items, table rows, fragments, run-ons) are dropped here, so
nothing downstream has to think about them.

Encoding sentences is the slow part of an answer on this machine (about 30 ms a sentence on one
busy core), so :class:`SentenceBank` encodes each passage's sentences once, keeps them in
memory, and can persist them to a plain ``.npz`` file (no pickle) next to other caches. The
file is read lazily: its arrays are uncompressed, sorted by key and memory-mapped, so a bank
over a million passages' sentences costs only the pages its answers touch.

Example:
    >>> spans = candidate_spans(passage)
    >>> all(passage.text[s.start:s.end] == s.text for s in spans)
    True
    >>> bank = SentenceBank(embedder)
    >>> entry = bank.entries([passage])[0]
    >>> entry.vectors.shape == (len(entry.spans), embedder.dimension)
    True
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import struct
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from corpus.chunking import split_sentences
from corpus.types import Passage
from index.types import Embedder, Vectors

logger = logging.getLogger(__name__)

# The sentence bank's file in an index version (:class:`SentenceCompanion`).
SENTENCES_FILE = "sentences.npz"

# Bump when the rules below change: cached vectors of an older splitter are not reused.
SPLITTER_VERSION = 5

# The sentence file's layout: 3 keeps the keys sorted, with the offsets of each key's
# sentences (``first``), and is read lazily; 2 (unsorted keys, ``counts``) is read whole.
FILE_FORMAT = 3
_FORMATS_READ = (2, FILE_FORMAT)

# A quotable sentence has at least this many words and at most this many. Below 6 words it is
# a heading or a fragment ("Key Points", "Outlook"); above 60 it is a run-on list or table that
# the splitter could not cut.
MIN_WORDS = 6
MAX_WORDS = 60
MIN_CHARS = 30
MAX_CHARS = 450

# Structured-abstract labels that SciFact and PubMed keep inline ("RESULTS Median serum ...",
# "Background/Objectives:Folic acid ..."). In capitals a label may stand without its colon; in
# title case it needs one ("Results are ..." is a sentence, "Results: ..." a label).
_LABEL_NAMES = (
    # Longer labels first: "METHODS AND RESULTS" must not stop after "METHODS".
    r"MATERIALS? AND METHODS|METHODS AND RESULTS|MAIN OUTCOME MEASURES?|DATA SOURCES|"
    r"STUDY SELECTION|DATA EXTRACTION|DATA SYNTHESIS|BACKGROUND|OBJECTIVES?|AIMS?|PURPOSE|"
    r"INTRODUCTION|CONTEXT|METHODS?|DESIGN|SETTINGS?|PARTICIPANTS|PATIENTS|SUBJECTS|"
    r"INTERVENTIONS?|MEASUREMENTS|OUTCOMES?|RESULTS?|FINDINGS|CONCLUSIONS?|INTERPRETATION|"
    r"DISCUSSION|SUMMARY|SIGNIFICANCE|RATIONALE|LIMITATIONS"
)
_LABEL = re.compile(
    rf"(?:(?:{_LABEL_NAMES})(?:/(?:{_LABEL_NAMES}))*[:.]?\s+|"
    rf"(?i:(?:{_LABEL_NAMES})(?:\s*/\s*(?:{_LABEL_NAMES}))*)\s?:\s*|"
    # MedlinePlus opens its pages with "Summary : ".
    r"Summary\s?:\s+)+(?=[A-Z0-9(])"
)
_TERMINAL = re.compile(r"""[.!]["')\]]*$""")
_WORD = re.compile(r"\S+")
_NUMERIC = re.compile(r"^[(\[]?[-+<>≤≥=~]?\d[\d.,:/%–-]*[)\]]?[,;.]?$")
_BOILERPLATE = (
    "click here",
    "table below",
    "see the table",
    "http://",
    "https://",
    "www.",
    "this article",
    "this section",
    "this summary",
    "this page",
    "key points",
    # Sentences that point at text after them, which a quote does not show.
    "described below",
    "listed below",
    "shown below",
    "explained below",
    "as follows",
)


# A list item behind a short label: "Pregnant women: At the first prenatal visit."
_LIST_LABEL = re.compile(r"^[A-Z][\w'-]*(?: [\w'-]+){0,2}: [A-Z]")

# A list item's bullet, which is not part of its sentence.
_BULLET = re.compile(r"[-\u2022*]\s+")

# "Enriched breads, cereals and other grain products If you don't get enough ...".
_RUN_ON = re.compile(r"[a-z,] (?:If|When|You|Your|The|This|These|Those|It|They|We|For|In) [a-z]")
# A heading or list item run into the sentence after it, where the source lost its line break:
# "Low fever Not everyone with appendicitis has all these symptoms." (MedQuAD).
_GLUED = re.compile(
    r"[a-z)\"] (?:If|When|You|Your|The|This|These|Those|It|They|We|Not|Most|Many|Some|People|"
    r"There|Because|Although|About|No) [a-z]"
)


def glued_at(text: str) -> int | None:
    """Where the sentence starts in ``text`` when a heading is glued before it, else ``None``.

    Example:
        >>> glued_at("Low fever Not everyone with appendicitis has all these symptoms.")
        10
        >>> glued_at("Not everyone with appendicitis has all these symptoms.") is None
        True
    """
    match = _GLUED.search(text)
    return None if match is None else match.start() + 2


# Openers that point back at a sentence the reader will not see ("It carries oxygen ...").
# Such sentences are quotable but read worse alone, so selection ranks them a little lower.
_ANAPHORIC = re.compile(
    r"^(?:It|Its|This|These|That|Those|They|Their|Them|He|She|He or she|Such|Thus|Therefore|"
    r"However|Also|Here|Both|Hence|In addition|Instead)\b"
)


def is_anaphoric(text: str) -> bool:
    """True when ``text`` opens with a word that refers to an earlier, unseen sentence."""
    return _ANAPHORIC.match(text) is not None


@dataclass(frozen=True)
class SentenceSpan:
    """A quotable sentence: ``passage.text[start:end] == text``."""

    start: int
    end: int
    text: str


def junk_reason(text: str) -> str | None:
    """Why ``text`` cannot be quoted on its own in an answer, or ``None`` if it can.

    Example:
        >>> junk_reason("Overview")
        'too short'
        >>> junk_reason("What are the signs and symptoms of Pernicious Anemia?")
        'question'
    """
    words = _WORD.findall(text)
    if len(words) < MIN_WORDS or len(text) < MIN_CHARS:
        return "too short"
    if len(words) > MAX_WORDS or len(text) > MAX_CHARS:
        return "too long"
    if text.rstrip("\"')]").endswith("?"):
        return "question"
    if not _TERMINAL.search(text):
        return "no full stop"  # a heading, a list item or a sentence the splitter cut
    if not (text[0].isalnum() or text[0] in "\"'(“"):
        return "fragment"
    if text[0].islower() and words[0].isalpha() and words[0].islower():
        return "fragment"  # "and ...", "wash your hands ...": a cut sentence or a list item
    lowered = text.lower()
    if any(marker in lowered for marker in _BOILERPLATE):
        return "boilerplate"
    numeric = sum(1 for word in words if _NUMERIC.match(word))
    if numeric / len(words) > 0.3:
        return "table"
    if text.count(" - ") >= 2 or "   " in text or _LIST_LABEL.match(text):
        return "list"
    return None


def abstract_section(text: str, position: int) -> str | None:
    """The structured-abstract label in force at ``position`` of ``text``: the last one that
    opens a sentence at or before it, upper-cased ("BACKGROUND/OBJECTIVES"), or ``None``.

    Example:
        >>> text = "BACKGROUND Iron is vital. RESULTS Ferritin fell by a third in the trial."
        >>> abstract_section(text, text.index("Iron")), abstract_section(text, text.index("Ferr"))
        ('BACKGROUND', 'RESULTS')
    """
    section = None
    for start, end in _split(text):
        if start > position:
            break
        label = _LABEL.match(text, start, end)
        if label:
            section = re.sub(r"[\s:.]+", " ", label.group()).strip().upper().replace(" / ", "/")
    return section


# A label run into the sentence before it: "... the lowest).Conclusions:Our study ...".
_RUN_IN_LABEL = re.compile(rf"(?<=[.!?])[)\]]?(?=(?i:{_LABEL_NAMES})\s?:)")
# A sentence run into the one before it, its space lost upstream (MedQuAD): "... eat more
# iron-rich foods.This not only ...". A web address ("www.Smokefree.gov") is no sentence.
_UNSPACED = re.compile(r"(?<![\w.])(?!www\.)[a-z]{2,}[.!?](?=[A-Z][a-z]+\b)")


@lru_cache(maxsize=1024)
def _split(text: str) -> tuple[tuple[int, int], ...]:
    """The sentences of ``text``, also cut before a label or a sentence that follows a full
    stop unspaced."""
    cuts: list[tuple[int, int]] = []
    for start, end in split_sentences(text):
        stops = [m.end() for m in _RUN_IN_LABEL.finditer(text, start, end)]
        stops += [m.end() for m in _UNSPACED.finditer(text, start, end)]
        for stop in sorted(set(stops)):
            cuts.append((start, stop))
            start = stop
        cuts.append((start, end))
    return tuple(cuts)


def candidate_spans(passage: Passage) -> tuple[SentenceSpan, ...]:
    """The quotable sentences of ``passage``, in text order, as exact spans of its text.

    A bullet item that is a whole sentence ("- The transferrin saturation test shows ...")
    is quoted without its bullet."""
    text = passage.text
    spans: list[SentenceSpan] = []
    for start, end in _split(text):
        label = _LABEL.match(text, start, end)
        bullet = _BULLET.match(text, start, end)
        marker = label or bullet
        if marker:
            start = marker.end()
        sentence = text[start:end]
        if bullet and _RUN_ON.search(sentence):
            continue  # an item without its full stop, run into the next sentence
        if sentence and junk_reason(sentence) is None:
            spans.append(SentenceSpan(start, end, sentence))
    return tuple(spans)


@dataclass(frozen=True)
class BankEntry:
    """A passage's quotable sentences and their unit-length embeddings, row for row."""

    spans: tuple[SentenceSpan, ...]
    vectors: Vectors


def _key(passage: Passage) -> str:
    # The id is a hash of document id and offsets; the text digest guards against a corpus
    # whose text changed under the same offsets.
    digest = hashlib.sha1(passage.text.encode("utf-8")).hexdigest()[:12]
    return f"{passage.id}:{digest}"


class SentenceBank:
    """Encodes each passage's candidate sentences once and remembers them.

    The bank keeps offsets and vectors, not text: a span's text is cut from the passage it is
    asked for (the key includes a digest of that text, so the offsets always fit it).

    Args:
        embedder: encodes sentences (``encode_documents``) into unit rows.

    Example:
        >>> bank = SentenceBank(embedder)
        >>> bank.load(Path("var/cache/answer/sentences.npz"))  # no-op if the file is missing
        0
        >>> bank.warm(index.passages)  # encode every passage's sentences up front
        >>> bank.save(Path("var/cache/answer/sentences.npz"))
    """

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._offsets: dict[str, tuple[tuple[int, int], ...]] = {}
        self._vectors: dict[str, Vectors] = {}
        self._files: list[_SentenceFile] = []
        self._dirty = False
        # Requests run in threads: one encodes a passage's sentences, the others wait for it.
        self._lock = threading.RLock()

    def __len__(self) -> int:
        """Passages with entries: those encoded here plus those of the loaded files (a
        passage in two loaded files counts twice)."""
        return len(self._offsets) + sum(len(file) for file in self._files)

    @property
    def dirty(self) -> bool:
        """True when entries were added since the last :meth:`load` or :meth:`save`."""
        return self._dirty

    def _find(self, key: str) -> tuple[tuple[tuple[int, int], ...], Vectors] | None:
        """The offsets and vectors of ``key``: encoded here, or in a loaded file."""
        offsets = self._offsets.get(key)
        if offsets is not None:
            return offsets, self._vectors[key]
        for file in self._files:
            found = file.find(key)
            if found is not None:
                return found
        return None

    def entries(self, passages: Sequence[Passage]) -> list[BankEntry]:
        """The entries of ``passages``, encoding the missing ones in one batch."""
        with self._lock:
            self.warm(passages)
        entries = []
        for passage in passages:
            found = self._find(_key(passage))
            assert found is not None  # warm() added every missing key
            offsets, vectors = found
            spans = tuple(
                SentenceSpan(start, end, passage.text[start:end]) for start, end in offsets
            )
            entries.append(BankEntry(spans, vectors))
        return entries

    def warm(self, passages: Sequence[Passage], *, progress: bool = False) -> int:
        """Encode the sentences of every passage not yet in the bank; returns how many."""
        with self._lock:
            return self._warm(passages, progress=progress)

    def _warm(self, passages: Sequence[Passage], *, progress: bool) -> int:
        missing: dict[str, tuple[SentenceSpan, ...]] = {}
        for passage in passages:
            key = _key(passage)
            if key not in missing and self._find(key) is None:
                missing[key] = candidate_spans(passage)
        if not missing:
            return 0
        texts = [span.text for spans in missing.values() for span in spans]
        vectors = self._embedder.encode_documents(texts, progress=progress)
        row = 0
        for key, spans in missing.items():
            self._offsets[key] = tuple((span.start, span.end) for span in spans)
            self._vectors[key] = vectors[row : row + len(spans)]
            row += len(spans)
        self._dirty = True
        logger.debug("encoded %d sentences of %d passages", len(texts), len(missing))
        return len(texts)

    def _meta(self, file_format: int = FILE_FORMAT) -> dict[str, object]:
        return {
            "format": file_format,
            "splitter_version": SPLITTER_VERSION,
            "model": self._embedder.model_name,
            "dimension": self._embedder.dimension,
        }

    def load(self, path: Path) -> int:
        """Add the entries saved at ``path``; returns how many passages it holds.

        A current file is memory-mapped, not read: its entries are looked up as answers need
        them. A missing file, or one written for another model, format or splitter version,
        reads as empty (it is a cache: it is rebuilt, never trusted across versions).
        """
        if not path.is_file():
            return 0
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
        if meta not in [self._meta(version) for version in _FORMATS_READ]:
            logger.info("ignoring sentence cache %s written for %s", path, meta)
            return 0
        if meta["format"] == FILE_FORMAT:
            file = _SentenceFile(path)
            self._files.append(file)
            logger.info("opened %d cached sentence sets in %s", len(file), path)
            return len(file)
        return self._load_whole(path)

    def _load_whole(self, path: Path) -> int:
        """Read a format-2 file into memory."""
        with np.load(path, allow_pickle=False) as data:
            keys = data["keys"].tolist()
            counts: list[int] = data["counts"].tolist()
            starts: list[int] = data["starts"].tolist()
            ends: list[int] = data["ends"].tolist()
            vectors: Vectors = data["vectors"]
        row = 0
        for key, count in zip(keys, counts, strict=True):
            if key not in self._offsets:
                self._offsets[key] = tuple(
                    zip(starts[row : row + count], ends[row : row + count], strict=True)
                )
                self._vectors[key] = vectors[row : row + count]
            row += count
        logger.info("loaded %d cached sentence sets from %s", len(keys), path)
        return len(keys)

    def save(self, path: Path, passages: Sequence[Passage] | None = None) -> None:
        """Write every entry (or those of ``passages``, which must all have one) to ``path``
        atomically (temporary file, then rename), sorted by key for lazy reading."""
        if passages is None:
            wanted = [*self._offsets, *(key for file in self._files for key in file.stored_keys())]
        else:
            wanted = [_key(passage) for passage in passages]
        keys = sorted(set(wanted))
        found = [self._find(key) for key in keys]
        if any(entry is None for entry in found):
            raise KeyError("save() was given passages that have no entry; warm() them first")
        entries = [entry for entry in found if entry is not None]
        offsets = [pair for pairs, _ in entries for pair in pairs]
        vectors = [vectors for _, vectors in entries]
        first = np.zeros(len(keys) + 1, dtype=np.int64)
        first[1:] = np.cumsum(np.array([len(pairs) for pairs, _ in entries], dtype=np.int64))
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                np.savez(
                    handle,
                    meta=np.array(json.dumps(self._meta(), sort_keys=True)),
                    keys=np.array(keys, dtype=str),
                    first=first,
                    starts=np.array([a for a, _ in offsets], dtype=np.int64),
                    ends=np.array([b for _, b in offsets], dtype=np.int64),
                    vectors=(
                        np.concatenate(vectors).astype(np.float32)
                        if vectors
                        else np.zeros((0, self._embedder.dimension), dtype=np.float32)
                    ),
                )
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._dirty = False


def _mapped_members(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    """The arrays of an uncompressed ``.npz`` file, memory-mapped where they lie in it.

    ``np.load`` reads a member of an archive whole; ``np.savez`` stores each member
    uncompressed, so its ``.npy`` bytes can be mapped in place instead.

    Raises:
        ValueError: a member is compressed or not a plain array.
    """
    headers = {(1, 0): np.lib.format.read_array_header_1_0}
    headers[(2, 0)] = np.lib.format.read_array_header_2_0
    members: dict[str, npt.NDArray[np.generic]] = {}
    with zipfile.ZipFile(path) as archive, path.open("rb") as handle:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"{path}: {info.filename} is compressed")
            handle.seek(info.header_offset + 26)  # the local header's name and extra lengths
            name_length, extra_length = struct.unpack("<HH", handle.read(4))
            handle.seek(name_length + extra_length, os.SEEK_CUR)
            version = np.lib.format.read_magic(handle)
            if version not in headers:
                raise ValueError(f"{path}: {info.filename} is .npy format {version}")
            shape, fortran, dtype = headers[version](handle)
            if dtype.hasobject:
                raise ValueError(f"{path}: {info.filename} holds Python objects")
            name = info.filename.removesuffix(".npy")
            if int(np.prod(shape)) == 0:  # nothing to map
                members[name] = np.zeros(shape, dtype=dtype)
                continue
            members[name] = np.memmap(
                path,
                dtype=dtype,
                mode="r",
                offset=handle.tell(),
                shape=shape,
                order="F" if fortran else "C",
            )
    return members


class _SentenceFile:
    """A format-3 sentence file, memory-mapped: keys sorted, ``first[i]:first[i + 1]`` the
    rows of key ``i`` in ``starts``, ``ends`` and ``vectors``."""

    def __init__(self, path: Path) -> None:
        members = _mapped_members(path)
        self._keys = members["keys"]
        self._first = members["first"]
        self._starts = members["starts"]
        self._ends = members["ends"]
        self._vectors = members["vectors"]

    def __len__(self) -> int:
        return len(self._keys)

    def stored_keys(self) -> list[str]:
        return [str(key) for key in self._keys.tolist()]

    def find(self, key: str) -> tuple[tuple[tuple[int, int], ...], Vectors] | None:
        at = int(np.searchsorted(self._keys, key))
        if at == len(self._keys) or self._keys[at] != key:
            return None
        start, end = int(self._first[at]), int(self._first[at + 1])
        offsets = tuple(
            zip(self._starts[start:end].tolist(), self._ends[start:end].tolist(), strict=True)
        )
        return offsets, np.array(self._vectors[start:end], dtype=np.float32)


class SentenceCompanion:
    """The sentence bank of an index version, written into it at build time (see
    :class:`index.types.Companion`), so that serving the index encodes only queries.

    Sentences of passages already in the ``previous`` version are reused, not encoded again.
    Without an embedder (``followup index remove``) the previous file is carried over as it
    is: removing passages needs no new sentences.

    Example:
        >>> build_index(documents, out, embedder, companions=[SentenceCompanion(embedder)])
    """

    name = SENTENCES_FILE

    def __init__(self, embedder: Embedder | None, *, progress: bool = False) -> None:
        self._embedder = embedder
        self._progress = progress

    def write(self, passages: Sequence[Passage], directory: Path, previous: Path | None) -> None:
        old = previous / self.name if previous is not None else None
        if self._embedder is None:
            if old is not None and old.is_file():
                shutil.copyfile(old, directory / self.name)
            return
        bank = SentenceBank(self._embedder)
        if old is not None:
            bank.load(old)
        bank.warm(passages, progress=self._progress)
        bank.save(directory / self.name, passages)
