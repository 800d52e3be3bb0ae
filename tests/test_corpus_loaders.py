"""Loaders on small real samples of every supported format, and the packaged demo corpus."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from corpus.chunking import chunk_documents
from corpus.demo import DEMO_ATTRIBUTION, DEMO_CORPUS, load_demo
from corpus.detect import detect_format
from corpus.formats.jsonl import document_to_json
from corpus.formats.medquad import normalise_medquad_answer
from corpus.loaders import CorpusError, CorpusFormat, load_corpora, load_corpus
from corpus.types import EvidenceKind, EvidenceTier, Section

DATA = Path(__file__).parent / "data" / "corpus"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# --- format detection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("scifact", CorpusFormat.BEIR),
        ("scifact/corpus.jsonl", CorpusFormat.BEIR),
        ("medquad_sample.jsonl", CorpusFormat.MEDQUAD),
        ("pubmedqa_sample.json", CorpusFormat.PUBMEDQA),
        ("demo-b12-iron/sample.jsonl", CorpusFormat.DEMO_B12_IRON),
        ("generic_sample.jsonl", CorpusFormat.JSONL),
        ("guidelines", CorpusFormat.MARKDOWN),
        ("guidelines/iron.md", CorpusFormat.MARKDOWN),
    ],
)
def test_detect_format(path: str, expected: CorpusFormat) -> None:
    assert detect_format(DATA / path) is expected
    assert load_corpus(DATA / path).format is expected


def test_detection_is_overridable(tmp_path: Path) -> None:
    # A BEIR corpus under another name, with a first line a generic reader would misjudge.
    odd = tmp_path / "abstracts.data"
    shutil.copy(DATA / "scifact" / "corpus.jsonl", odd)
    with pytest.raises(CorpusError, match="cannot tell the format from the name"):
        load_corpus(odd)
    result = load_corpus(odd, "beir", dataset="scifact")
    assert len(result.documents) == 4
    assert result.documents[0].licence == "CC BY-NC 2.0"


def test_unknown_format_name_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown corpus format 'csv'; expected one of: beir, "):
        load_corpus(DATA / "generic_sample.jsonl", "csv")


# --- BEIR --------------------------------------------------------------------------------------


def test_beir_scifact_sample() -> None:
    documents = load_corpus(DATA / "scifact").documents
    assert [d.id for d in documents] == [
        "scifact:4421742",
        "scifact:4442799",
        "scifact:27889071",
        "scifact:33740844",
    ]
    by_id = {d.id: d for d in documents}
    microcytosis = by_id["scifact:27889071"]
    assert microcytosis.title.startswith("Microcytosis, iron deficiency and thalassaemia")
    assert microcytosis.source == "SciFact"
    assert microcytosis.dataset == "scifact"
    assert microcytosis.licence == "CC BY-NC 2.0"
    assert microcytosis.url is None  # S2ORC ids are not PMIDs
    assert microcytosis.tier.kind is EvidenceKind.RESEARCH
    # The designs these abstracts report (read by hand): a mouse study, a randomised trial, an
    # observational pilot study and a systematic review.
    assert [d.tier for d in documents] == [
        EvidenceTier.PRECLINICAL,
        EvidenceTier.RCT,
        EvidenceTier.OBSERVATIONAL,
        EvidenceTier.SYSTEMATIC_REVIEW,
    ]
    raw = [json.loads(line) for line in (DATA / "scifact" / "corpus.jsonl").open()]
    assert [d.text for d in documents] == [r["text"] for r in raw]  # verbatim


def test_beir_dataset_name_comes_from_the_parameter(tmp_path: Path) -> None:
    folder = tmp_path / "nfcorpus"
    folder.mkdir()
    shutil.copy(DATA / "scifact" / "corpus.jsonl", folder / "corpus.jsonl")
    assert load_corpus(folder).documents[0].id == "nfcorpus:4421742"
    assert load_corpus(folder).documents[0].licence == "unknown"
    renamed = load_corpus(folder, dataset="scifact").documents[0]
    assert (renamed.id, renamed.licence) == ("scifact:4421742", "CC BY-NC 2.0")


# --- MedQuAD -----------------------------------------------------------------------------------


def test_medquad_sample() -> None:
    documents = load_corpus(DATA / "medquad_sample.jsonl").documents
    by_id = {d.id: d for d in documents}
    treatment = by_id["medquad:8_NHLBI_QA_XML/0000082#6"]
    assert treatment.title == "Iron-Deficiency Anemia"
    assert treatment.source == "NHLBI"
    assert treatment.tier is EvidenceTier.GUIDELINE
    assert treatment.licence == "CC BY 4.0"
    assert treatment.dataset == "medquad"
    assert treatment.url == "http://www.nhlbi.nih.gov/health-topics/topics/ida"
    assert treatment.sections == (
        Section("What are the treatments for Iron-Deficiency Anemia ?", 0, len(treatment.text)),
    )
    # MedlinePlus's code is shown as its name.
    assert by_id["medquad:4_MPlus_Health_Topics_QA/0000525#1"].source == "MedlinePlus"


def test_medquad_text_changes_only_in_whitespace() -> None:
    from corpus.formats.medquad import load_medquad

    raw = [json.loads(line) for line in (DATA / "medquad_sample.jsonl").open()]
    documents = load_medquad(DATA / "medquad_sample.jsonl", repair=False).documents
    for record, document in zip(raw, documents, strict=True):
        assert "".join(document.text.split()) == "".join(record["answer"].split())
        assert "  " not in document.text
        assert document.text == document.text.strip()


def test_medquad_repair_only_restores_lost_characters() -> None:
    from corpus.repair import repair_medquad

    raw = [json.loads(line) for line in (DATA / "medquad_sample.jsonl").open()]
    documents = load_corpus(DATA / "medquad_sample.jsonl").documents
    for record, document in zip(raw, documents, strict=True):
        assert document.text == repair_medquad(normalise_medquad_answer(record["answer"]))
    # The sample's pernicious anaemia answer says "the bodys immune system" (body's).
    by_id = {d.id: d for d in documents}
    assert "the body's immune system" in by_id["medquad:8_NHLBI_QA_XML/0000102#3"].text


def test_medquad_bullets_get_their_own_lines() -> None:
    answer = "Key Points\n                    - One.    - Two.\n                \n  Espaol\nText."
    assert normalise_medquad_answer(answer) == "Key Points\n- One.\n- Two.\nText."


def test_medquad_paragraphs_run_together_get_their_own_lines() -> None:
    # MedlinePlus, "Appendicitis": the list's last item and the paragraph after it, and a
    # heading and its text (NCI), were run together with only the spaces left between them.
    answer = (
        "Other symptoms may include       -  Low fever        Not everyone has all these symptoms."
        "    Appendicitis is an emergency.\n    Adult ALL in remission    The ALL has been treated."
    )
    assert normalise_medquad_answer(answer) == (
        "Other symptoms may include\n- Low fever\nNot everyone has all these symptoms.\n"
        "Appendicitis is an emergency.\nAdult ALL in remission\nThe ALL has been treated."
    )


# --- PubMedQA ----------------------------------------------------------------------------------


def test_pubmedqa_sample() -> None:
    documents = load_corpus(DATA / "pubmedqa_sample.json").documents
    assert [d.id for d in documents] == [
        "pubmedqa:25304452",
        "pubmedqa:21276532",
        "pubmedqa:18616781",
    ]
    raw = json.loads((DATA / "pubmedqa_sample.json").read_text())
    gluten = documents[0]
    entry = raw["25304452"]
    assert gluten.title == entry["QUESTION"]  # PubMedQA has no title: the question stands in
    assert gluten.url == "https://pubmed.ncbi.nlm.nih.gov/25304452/"
    assert gluten.year == 2015
    assert gluten.licence == "MIT"
    assert gluten.mesh == tuple(entry["MESHES"])
    assert [s.heading for s in gluten.sections] == entry["LABELS"] + ["CONCLUSIONS"]
    bodies = [gluten.text[s.start : s.end] for s in gluten.sections]
    assert bodies == entry["CONTEXTS"] + [entry["LONG_ANSWER"]]
    assert gluten.tier is EvidenceTier.OBSERVATIONAL  # a prospective study of children


def test_pubmedqa_without_the_conclusion() -> None:
    from corpus.formats.pubmedqa import load_pubmedqa

    document = load_pubmedqa(DATA / "pubmedqa_sample.json", include_conclusion=False).documents[0]
    assert "CONCLUSIONS" not in [s.heading for s in document.sections]


# --- demo-b12-iron -------------------------------------------------------------------------------


def test_demo_b12_iron_sample() -> None:
    documents = load_corpus(DATA / "demo-b12-iron" / "sample.jsonl").documents
    assert [d.id for d in documents] == [
        "medquad:8_NHLBI_QA_XML/0000082#1",
        "medquad:8_NHLBI_QA_XML/0000082#2",
        "scifact:27889071",
        "pubmed:23831910",
    ]
    guideline, _, scifact, pubmed = documents
    assert (guideline.tier, guideline.source) == (EvidenceTier.GUIDELINE, "NHLBI")
    assert guideline.url == "http://www.nhlbi.nih.gov/health-topics/topics/ida"
    assert (scifact.source, scifact.licence) == ("BEIR SciFact corpus", "CC BY-NC 2.0")
    assert scifact.tier is EvidenceTier.OBSERVATIONAL
    assert (pubmed.year, pubmed.licence) == (2013, "MIT")


# --- generic JSONL -----------------------------------------------------------------------------


def test_generic_jsonl_sample() -> None:
    documents = load_corpus(DATA / "generic_sample.jsonl").documents
    pubmedqa, mine, medquad = documents
    assert [s.heading for s in pubmedqa.sections] == [
        "INTRODUCTION",
        "MATERIAL AND METHODS",
        "RESULTS",
        "CONCLUSIONS",
    ]
    assert pubmedqa.year == 2015 and pubmedqa.mesh[0] == "Adolescent"
    # tier "research" asks the classifier: a mouse study.
    assert (mine.id, mine.dataset, mine.tier) == (
        "my-papers:4421742",
        "my-papers",
        EvidenceTier.PRECLINICAL,
    )
    assert medquad.tier is EvidenceTier.GUIDELINE


def test_generic_jsonl_round_trips_documents(tmp_path: Path) -> None:
    originals = [
        *load_corpus(DATA / "pubmedqa_sample.json").documents,
        *load_corpus(DATA / "medquad_sample.jsonl").documents,
        *load_corpus(DATA / "scifact").documents,
    ]
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(document_to_json(d)) + "\n" for d in originals))
    assert load_corpus(path).documents == tuple(originals)


def test_generic_jsonl_dataset_defaults_to_the_file_name(tmp_path: Path) -> None:
    record = document_to_json(load_corpus(DATA / "medquad_sample.jsonl").documents[0])
    del record["dataset"]
    path = tmp_path / "clinic-leaflets.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert load_corpus(path).documents[0].dataset == "clinic-leaflets"


# --- Markdown ----------------------------------------------------------------------------------


def test_markdown_folder() -> None:
    documents = load_corpus(DATA / "guidelines").documents
    iron, pernicious = documents  # sorted by file name
    assert (iron.id, iron.title, iron.source, iron.dataset) == (
        "md:iron",
        "Iron",
        "MedlinePlus",
        "guidelines",
    )
    assert iron.sections == ()  # no headings below the H1 title
    assert iron.text.startswith("Summary : Iron is a mineral that our bodies need")
    assert (pernicious.id, pernicious.title, pernicious.dataset) == (
        "nhlbi:pernicious-anemia",
        "Pernicious Anemia",
        "medquad",
    )
    assert [s.heading for s in pernicious.sections] == [
        "What is (are) Pernicious Anemia ?",
        "What are the treatments for Pernicious Anemia ?",
    ]
    for section in pernicious.sections:
        body = pernicious.text[section.start : section.end]
        assert body == body.strip() and "##" not in body
    assert pernicious.url == "http://www.nhlbi.nih.gov/health/health-topics/topics/prnanmia"


def test_markdown_single_file_keeps_the_text_verbatim() -> None:
    document = load_corpus(DATA / "guidelines" / "iron.md").documents[0]
    medquad = {d.id: d for d in load_corpus(DATA / "medquad_sample.jsonl").documents}
    # iron.md holds the MedlinePlus "Iron" answer below its front matter and "# Iron" title.
    assert document.text == medquad["medquad:4_MPlus_Health_Topics_QA/0000525#1"].text
    assert document.dataset == "guidelines"  # the folder name
    assert document.tier is EvidenceTier.GUIDELINE


# --- several corpora -----------------------------------------------------------------------------


def test_load_corpora_merges_and_refuses_duplicate_ids() -> None:
    merged = load_corpora([DATA / "scifact", DATA / "medquad_sample.jsonl"])
    assert len(merged.documents) == 8
    with pytest.raises(CorpusError) as raised:
        load_corpora([DATA / "medquad_sample.jsonl", DATA / "generic_sample.jsonl"])
    assert str(raised.value) == (
        f"{DATA / 'generic_sample.jsonl'}: document id 'medquad:3_GHR_QA/0000529#5' was already "
        f"loaded from {DATA / 'medquad_sample.jsonl'}"
    )
    skipped = load_corpora(
        [DATA / "medquad_sample.jsonl", DATA / "generic_sample.jsonl"], skip_bad=True
    )
    assert (len(skipped.documents), len(skipped.skipped)) == (6, 1)


# --- the demo corpus ---------------------------------------------------------------------------


def test_demo_corpus_loads_with_full_provenance() -> None:
    result = load_demo()
    assert result.skipped == ()
    assert DEMO_CORPUS.stat().st_size < 3_000_000
    licences = {"medquad": "CC BY 4.0", "scifact": "CC BY-NC 2.0", "pubmedqa": "MIT"}
    for document in result.documents:
        assert document.licence == licences[document.dataset], document.id
        assert document.source
        assert document.id.startswith(f"{document.dataset}:")
        if document.dataset != "scifact":  # SciFact's identifier is its id
            assert document.url and document.url.startswith("http"), document.id
        assert (document.tier is EvidenceTier.GUIDELINE) == (document.dataset == "medquad")


def test_demo_corpus_covers_the_demo_questions() -> None:
    text = {d.id: f"{d.title} {d.text}" for d in load_demo().documents}

    def ids(pattern: str) -> set[str]:
        return {i for i, t in text.items() if re.search(pattern, t, re.IGNORECASE)}

    assert len(ids(r"\bferritin\b")) >= 10
    assert len(ids(r"vitamin b12|cobalamin")) >= 20
    assert ids(r"\bferritin\b") & ids(r"vitamin b-?12")  # both measured in one study or page
    assert "medquad:8_NHLBI_QA_XML/0000082#6" in text  # treating iron-deficiency anaemia
    assert "medquad:8_NHLBI_QA_XML/0000102#3" in text  # causes of pernicious anaemia
    # Curation removed the off-topic hits of the loose keyword filter.
    assert not ids(r"nanoparticle|iron-sulfur cluster")


def test_demo_corpus_passage_count_and_attribution_counts() -> None:
    documents = load_demo().documents
    passages = chunk_documents(documents)
    assert 900 <= len(passages) <= 1600
    attribution = DEMO_ATTRIBUTION.read_text()
    for dataset in ("medquad", "scifact", "pubmedqa"):
        count = sum(d.dataset == dataset for d in documents)
        assert f"| {dataset} | {count} |" in attribution.replace("`", ""), dataset


@pytest.mark.slow
def test_demo_corpus_is_reproducible_from_shared_data() -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "scripts" / "build_demo_corpus.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "count"),
    [
        ("scifact", 5183),
        ("medquad/medquad_qa.jsonl", 16407),
        ("pubmedqa/ori_pqal.json", 1000),
        ("demo-b12-iron/guideline_tier_medquad.jsonl", 196),
        ("demo-b12-iron/research_tier_abstracts.jsonl", 95),
    ],
)
def test_full_shared_data_sets_load(path: str, count: int) -> None:
    assert len(load_corpus(SHARED / path).documents) == count
