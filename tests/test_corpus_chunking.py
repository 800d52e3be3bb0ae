"""Sentence splitting and chunking: offsets, budgets, overlap and stable ids, on real text."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.chunking import (
    DEFAULT_CHUNKING,
    MODEL_MAX_TOKENS,
    ChunkingConfig,
    CounterKind,
    EstimateCounter,
    WordPieceCounter,
    chunk_document,
    chunk_documents,
    load_counter,
    split_sentences,
)
from corpus.loaders import load_corpus
from corpus.types import Document, EvidenceTier, Section, passage_id

DATA = Path(__file__).parent / "data" / "corpus"


@pytest.fixture(scope="module")
def counter() -> WordPieceCounter:
    return WordPieceCounter.load()


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    docs: list[Document] = []
    for name in ("medquad_sample.jsonl", "pubmedqa_sample.json", "scifact", "guidelines"):
        docs.extend(load_corpus(DATA / name).documents)
    return docs


def _doc(text: str, title: str = "Anemia", sections: tuple[Section, ...] = ()) -> Document:
    return Document(
        id="test:1",
        title=title,
        text=text,
        tier=EvidenceTier.GUIDELINE,
        source="NHLBI",
        licence="CC BY 4.0",
        dataset="test",
        sections=sections,
    )


def _sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


# --- sentence splitting -----------------------------------------------------------------------


def test_split_keeps_abbreviations_and_decimals_inside_sentences() -> None:
    text = (
        "Adults need 2.4 mcg of vitamin B12 a day, e.g. from meat or fortified foods. "
        "Smith et al. found lower levels in vegans vs. omnivores (Fig. 2). "
        "Dr. Jones gave 1.5 mg i.e. a low dose. Was it enough? Yes!"
    )
    assert _sentences(text) == [
        "Adults need 2.4 mcg of vitamin B12 a day, e.g. from meat or fortified foods.",
        "Smith et al. found lower levels in vegans vs. omnivores (Fig. 2).",
        "Dr. Jones gave 1.5 mg i.e. a low dose.",
        "Was it enough?",
        "Yes!",
    ]


def test_split_ends_sentences_at_line_breaks_and_before_bullets() -> None:
    # MedQuAD pages put headings and bullets on their own lines.
    text = "Key Points\n- Anemia is common.\n- It is easily treated. See No. 5. (Rare.) - Bullet."
    assert _sentences(text) == [
        "Key Points",
        "- Anemia is common.",
        "- It is easily treated.",
        "See No. 5.",
        "(Rare.)",
        "- Bullet.",
    ]


def test_split_does_not_end_a_sentence_before_lower_case() -> None:
    assert _sentences("Serum ferritin was 12 ng/mL. in women it was lower.") == [
        "Serum ferritin was 12 ng/mL. in women it was lower."
    ]


def test_split_offsets_are_stripped_ordered_and_exact(documents: list[Document]) -> None:
    for doc in documents:
        spans = split_sentences(doc.text)
        assert spans, doc.id
        previous_end = 0
        for start, end in spans:
            assert previous_end <= start < end <= len(doc.text)
            piece = doc.text[start:end]
            assert piece == piece.strip()
            previous_end = end
        # Nothing but whitespace is left outside the sentences.
        outside = "".join(
            doc.text[a:b]
            for a, b in zip(
                [0] + [e for _, e in spans], [s for s, _ in spans] + [len(doc.text)], strict=True
            )
        )
        assert not outside.strip(), doc.id


def test_split_empty_and_blank_text() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n\t ") == []


# --- packing: a hand-worked example ------------------------------------------------------------

# Word pieces (all-MiniLM-L6-v2 tokenizer, no special tokens):
#   "Iron is a mineral."                          -> iron is a mineral .                =  5
#   "Ferritin stores iron in the body."           -> fe ##rri ##tin stores iron in the body . = 9
#   "Low ferritin means low iron stores."         -> low fe ##rri ##tin means low iron stores . = 9
#   "Vitamin B12 helps make red blood cells."     -> vitamin b1 ##2 helps make red blood cells . = 9
#   title prefix "Anemia. "                       -> an ##emia .   (checked below)         =  3
A = "Iron is a mineral."
B = "Ferritin stores iron in the body."
C = "Low ferritin means low iron stores."
D = "Vitamin B12 helps make red blood cells."
TEXT = f"{A} {B} {C} {D}"


def test_hand_counted_token_lengths(counter: WordPieceCounter) -> None:
    assert counter.count([A, B, C, D, "Anemia. "]) == [5, 9, 9, 9, 3]


def test_packing_with_one_sentence_overlap(counter: WordPieceCounter) -> None:
    # Budget min(20, 256 - 2 - 3) = 20: A+B = 14 (+C would be 23); B+C = 18; C+D = 18.
    config = ChunkingConfig(max_tokens=20, overlap_sentences=1, min_tokens=5)
    passages = chunk_document(_doc(TEXT), config, counter)
    assert [p.text for p in passages] == [f"{A} {B}", f"{B} {C}", f"{C} {D}"]


def test_packing_without_overlap(counter: WordPieceCounter) -> None:
    # A+B = 14, then C+D = 18.
    config = ChunkingConfig(max_tokens=20, overlap_sentences=0, min_tokens=5)
    passages = chunk_document(_doc(TEXT), config, counter)
    assert [p.text for p in passages] == [f"{A} {B}", f"{C} {D}"]


def test_title_and_heading_shrink_the_budget(counter: WordPieceCounter) -> None:
    # model window 22: 22 - 2 special - 3 title = 17 < max_tokens 20, so the budget is 17.
    # A+B = 14 fits; B+C = 18 does not, so the overlap is dropped: C alone (C+D = 18), then D.
    config = ChunkingConfig(max_tokens=20, overlap_sentences=1, model_max_tokens=22, min_tokens=5)
    passages = chunk_document(_doc(TEXT), config, counter)
    assert [p.text for p in passages] == [f"{A} {B}", C, D]
    for passage in passages:
        assert counter.count([passage.embedding_text])[0] + 2 <= 22


def test_a_sentence_longer_than_the_budget_is_cut_at_word_boundaries(
    counter: WordPieceCounter,
) -> None:
    long_sentence = "Iron " + " ".join(["iron"] * 29) + "."  # 31 tokens, no break inside
    text = f"{A} {long_sentence} {D}"
    config = ChunkingConfig(max_tokens=12, overlap_sentences=0, min_tokens=5)
    passages = chunk_document(_doc(text), config, counter)
    assert passages[0].text == A
    assert passages[-1].text == D
    middle = passages[1:-1]
    assert "".join(p.text.replace(" ", "") for p in middle) == long_sentence.replace(" ", "")
    for passage in middle:
        assert counter.count([passage.text])[0] <= 12
        assert text[passage.start - 1] == " " and text[passage.end] == " "  # word boundaries


def test_a_single_word_longer_than_the_budget_is_cut_by_characters(
    counter: WordPieceCounter,
) -> None:
    sequence = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVV"
    config = ChunkingConfig(max_tokens=8, overlap_sentences=0, min_tokens=1)
    passages = chunk_document(_doc(sequence, title="Protein"), config, counter)
    assert "".join(p.text for p in passages) == sequence
    assert all(counter.count([p.text])[0] <= 8 for p in passages)


# --- invariants on real documents --------------------------------------------------------------


def test_passage_text_is_the_document_slice(documents: list[Document]) -> None:
    by_id = {doc.id: doc for doc in documents}
    passages = chunk_documents(documents)
    assert len(passages) > len(documents)  # the long MedQuAD and PubMedQA records split
    for passage in passages:
        doc = by_id[passage.document_id]
        assert passage.text == doc.text[passage.start : passage.end]
        assert passage.id == passage_id(doc.id, passage.start, passage.end)
        assert (passage.title, passage.tier, passage.source, passage.licence) == (
            doc.title,
            doc.tier,
            doc.source,
            doc.licence,
        )
        assert (passage.dataset, passage.year, passage.url, passage.mesh) == (
            doc.dataset,
            doc.year,
            doc.url,
            doc.mesh,
        )


def test_rechunking_gives_identical_ids(documents: list[Document]) -> None:
    first = [p.id for p in chunk_documents(documents)]
    second = [p.id for p in chunk_documents(documents)]
    assert first == second
    assert len(set(first)) == len(first)


def test_passages_stay_inside_one_section(documents: list[Document]) -> None:
    sectioned = [doc for doc in documents if len(doc.sections) > 1]
    assert sectioned  # PubMedQA and the Markdown guideline
    for doc in sectioned:
        for passage in chunk_document(doc):
            matching = [
                s for s in doc.sections if s.start <= passage.start and passage.end <= s.end
            ]
            assert len(matching) == 1, passage
            assert passage.section == matching[0].heading


def test_passages_fit_the_model_window(
    documents: list[Document], counter: WordPieceCounter
) -> None:
    passages = chunk_documents(documents, DEFAULT_CHUNKING, counter)
    text_tokens = counter.count([p.text for p in passages])
    full_tokens = counter.count([p.embedding_text for p in passages])
    assert max(text_tokens) <= DEFAULT_CHUNKING.max_tokens
    assert max(full_tokens) + 2 <= MODEL_MAX_TOKENS


def test_passages_start_and_end_on_sentence_boundaries(documents: list[Document]) -> None:
    for doc in documents:
        for section in doc.spans():
            spans = [
                (s + section.start, e + section.start)
                for s, e in split_sentences(doc.text[section.start : section.end])
            ]
            starts, ends = {s for s, _ in spans}, {e for _, e in spans}
            passages = [p for p in chunk_document(doc) if p.section == section.heading]
            for passage in passages:
                assert passage.start in starts and passage.end in ends
            # Together the passages cover every sentence of the section.
            covered = {(s, e) for s, e in spans for p in passages if p.start <= s and e <= p.end}
            assert covered == set(spans)


def test_consecutive_passages_share_one_sentence(documents: list[Document]) -> None:
    doc = next(d for d in documents if d.id == "medquad:8_NHLBI_QA_XML/0000082#6")
    passages = chunk_document(doc)
    assert len(passages) >= 3
    for before, after in zip(passages, passages[1:], strict=False):
        assert after.start < before.end  # overlap
        shared = doc.text[after.start : before.end]
        assert len(split_sentences(shared)) == 1


# --- configuration -----------------------------------------------------------------------------


def test_config_round_trips_through_a_dict() -> None:
    config = ChunkingConfig(max_tokens=150, overlap_sentences=2)
    data = config.to_dict()
    assert data == {
        "max_tokens": 150,
        "overlap_sentences": 2,
        "model_max_tokens": 256,
        "min_tokens": 48,
        "counter": "wordpiece",
        "chunker_version": 1,
    }
    assert ChunkingConfig.from_dict(data) == config


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_tokens": 0}, "max_tokens must be between 1 and 254"),
        ({"max_tokens": 255}, "max_tokens must be between 1 and 254"),
        ({"overlap_sentences": -1}, "overlap_sentences must be >= 0, got -1"),
        ({"min_tokens": 500}, "min_tokens must be between 1 and max_tokens (200)"),
        ({"counter": "chars"}, "unknown token counter 'chars'; expected one of: wordpiece"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ChunkingConfig(**kwargs)  # type: ignore[arg-type]


def test_config_from_another_chunker_version_is_refused() -> None:
    with pytest.raises(ValueError, match="chunker version 99"):
        ChunkingConfig.from_dict({**ChunkingConfig().to_dict(), "chunker_version": 99})


def test_the_estimate_counter_is_used_only_when_asked_for(documents: list[Document]) -> None:
    assert isinstance(load_counter(), WordPieceCounter)
    assert isinstance(load_counter(CounterKind.ESTIMATE), EstimateCounter)
    config = ChunkingConfig(counter=CounterKind.ESTIMATE)
    passages = chunk_documents(documents[:3], config)
    assert passages and all(p.text == p.text.strip() for p in passages)
    # "Iron deficiency." is 3 basic tokens -> ceil(3 x 1.3) = 4.
    assert EstimateCounter().count(["Iron deficiency."]) == [4]
