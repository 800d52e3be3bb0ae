"""Candidate sentences: verbatim spans, junk filtering, and the sentence embedding cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from answer.sentences import (
    SentenceBank,
    _split,
    abstract_section,
    candidate_spans,
    glued_at,
    is_anaphoric,
    junk_reason,
)
from corpus.types import EvidenceTier, Passage, passage_id
from tests.fixtures_answer import load_embedder, load_passages, passage_by_text


def _passage(text: str) -> Passage:
    return Passage(
        id=passage_id("doc", 0, len(text)),
        document_id="doc",
        text=text,
        start=0,
        end=len(text),
        section="",
        title="t",
        tier=EvidenceTier.RCT,
        source="s",
        licence="l",
        dataset="d",
    )


def test_every_candidate_is_an_exact_span_of_its_passage() -> None:
    spans_seen = 0
    for passage in load_passages():
        for span in candidate_spans(passage):
            assert passage.text[span.start : span.end] == span.text
            spans_seen += 1
    assert spans_seen > 100


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # MedQuAD headings on their own line (real headings from the NHLBI pages).
        ("Specialists Involved", "too short"),
        ("Diagnostic Tests and Procedures", "too short"),
        ("Tests to measure iron levels include:", "no full stop"),
        # MedQuAD's question line opening a GARD answer.
        (
            "What are the signs and symptoms of Anemia due to Adenosine triphosphatase deficiency?",
            "question",
        ),
        # A bullet without a full stop (NHLBI iron-deficiency anemia page).
        ("Listen to your heart for rapid or irregular heartbeats", "no full stop"),
        ("NIH: National Heart, Lung, and Blood Institute", "no full stop"),
        # A list item behind a short label (NHLBI iron-deficiency anemia page, screening).
        ("Pregnant women: At the first prenatal visit.", "list"),
        # GARD boilerplate that points at a table the answer cannot show.
        (
            "If the information is available, the table below includes how often the symptom "
            "is seen in people with this condition.",
            "boilerplate",
        ),
        # GARD, hypophosphatemic rickets: it points at text a quote does not show.
        ("The different inheritance patterns are described below.", "boilerplate"),
        # NIHSeniorHealth, shingles: list items the page ran together, with no capital.
        (
            "wash your hands often to prevent the spread of varicella zoster virus. keep the "
            "rash covered avoid touching or scratching the rash.",
            "fragment",
        ),
    ],
)
def test_junk_reasons(text: str, reason: str) -> None:
    assert junk_reason(text) == reason


def test_a_plain_sentence_is_not_junk() -> None:
    assert junk_reason("Ferritin is a protein that helps store iron in your body.") is None
    # A name in lower case is a word of the sentence, not a cut: mRNA, p53.
    assert junk_reason("mRNA levels of ferroportin fell in the treated mice.") is None


def test_inline_list_run_on_is_junk() -> None:
    # The MedlinePlus anemia page lists conditions inline with " - " bullets.
    passage = passage_by_text("Conditions that may lead to anemia include")
    texts = [s.text for s in candidate_spans(passage)]
    assert not any("Heavy periods" in t for t in texts)
    assert "Treatment depends on the kind of anemia you have." in texts


def test_structured_abstract_label_is_trimmed_but_span_stays_exact() -> None:
    passage = passage_by_text("RESULTS Median serum homocysteine level decreased")
    spans = candidate_spans(passage)
    results = next(s for s in spans if "Median serum homocysteine level decreased" in s.text)
    assert results.text.startswith("Median serum homocysteine")
    assert passage.text[results.start : results.end] == results.text
    assert not any(s.text.startswith(("BACKGROUND", "METHODS", "RESULTS")) for s in spans)


def test_anaphoric_openers() -> None:
    assert is_anaphoric("It carries oxygen from the lungs to the rest of the body.")
    assert not is_anaphoric("Hemoglobin is an iron-rich protein that gives the red color to blood.")


def test_bank_encodes_each_passage_once_and_matches_the_model() -> None:
    embedder = load_embedder()
    bank = SentenceBank(embedder)
    passages = list(load_passages()[:3])
    first = bank.warm(passages)
    assert first == sum(len(candidate_spans(p)) for p in passages)
    assert bank.warm(passages) == 0  # already there: nothing encoded
    entry = bank.entries(passages[:1])[0]
    direct = embedder.encode_documents([s.text for s in entry.spans])
    np.testing.assert_allclose(entry.vectors, direct, atol=1e-5)


def test_bank_save_and_load_round_trip(tmp_path: Path) -> None:
    embedder = load_embedder()
    bank = SentenceBank(embedder)
    passages = list(load_passages()[:4]) + [_passage("Overview")]  # one without sentences
    bank.warm(passages)
    path = tmp_path / "cache" / "sentences.npz"
    bank.save(path)
    assert not bank.dirty

    loaded = SentenceBank(embedder)
    assert loaded.load(path) == len(passages)
    assert loaded.warm(passages) == 0
    for a, b in zip(bank.entries(passages), loaded.entries(passages), strict=True):
        assert a.spans == b.spans
        np.testing.assert_array_equal(a.vectors, b.vectors)


def test_bank_ignores_a_cache_written_for_another_model(tmp_path: Path) -> None:
    embedder = load_embedder()
    bank = SentenceBank(embedder)
    bank.warm(list(load_passages()[:1]))
    path = tmp_path / "sentences.npz"
    bank.save(path)

    class OtherModel:
        model_name = "another/model"
        dimension = embedder.dimension

    assert SentenceBank(OtherModel()).load(path) == 0  # type: ignore[arg-type]
    assert SentenceBank(embedder).load(tmp_path / "missing.npz") == 0


def test_changed_text_under_the_same_id_is_encoded_again() -> None:
    embedder = load_embedder()
    bank = SentenceBank(embedder)
    original = _passage("Ferritin is a protein that helps store iron in your body.")
    bank.warm([original])
    edited = Passage(**{**original.__dict__, "text": "Your body needs iron to make hemoglobin."})
    assert edited.id == original.id
    assert bank.warm([edited]) == 1


# NIDDK, "Hemochromatosis" (corpus/data/demo.jsonl): the blood tests are bullet items.
HEMOCHROMATOSIS_TESTS = (
    "Blood tests can determine whether the amount of iron stored in the body is higher than "
    "normal:1\n- The transferrin saturation test shows how much iron is bound to the protein "
    "that carries iron in the blood. Transferrin saturation values above or equal to 45 percent "
    "are considered abnormal.\n"
)
# MedlinePlus, "Folic Acid": the last food item has no full stop.
FOLIC_ACID_FOODS = (
    "Foods with folic acid in them include\n- Leafy green vegetables\n- Fruits\n- Enriched "
    "breads, cereals and other grain products If you don't get enough folic acid from the foods "
    "you eat, you can also take it as a dietary supplement."
)


def test_a_bullet_item_that_is_a_sentence_is_quoted_without_its_bullet() -> None:
    spans = candidate_spans(_passage(HEMOCHROMATOSIS_TESTS))
    texts = [s.text for s in spans]
    assert texts[0] == (
        "The transferrin saturation test shows how much iron is bound to the protein that "
        "carries iron in the blood."
    )
    assert all(HEMOCHROMATOSIS_TESTS[s.start : s.end] == s.text for s in spans)


def test_a_bullet_item_run_into_the_next_sentence_is_not_quoted() -> None:
    assert candidate_spans(_passage(FOLIC_ACID_FOODS)) == ()


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        # MedlinePlus pages open with "Summary : " (MedlinePlus, "Blood Count Tests").
        (
            "Summary : Your blood contains red blood cells (RBC), white blood cells (WBC), and "
            "platelets.",
            "Your blood contains red blood cells (RBC), white blood cells (WBC), and platelets.",
        ),
        # A structured abstract's two-word label (SciFact: folic acid and endothelial function).
        (
            "METHODS AND RESULTS A randomized, placebo-controlled study of folic acid (5 mg/d) "
            "for 6 weeks was undertaken in 33 patients.",
            "A randomized, placebo-controlled study of folic acid (5 mg/d) for 6 weeks was "
            "undertaken in 33 patients.",
        ),
        # Title-case labels without a space (SciFact: folic acid and preeclampsia).
        (
            "Background/Objectives:Folic acid supplementation has been suggested to reduce the "
            "risk of preeclampsia.",
            "Folic acid supplementation has been suggested to reduce the risk of preeclampsia.",
        ),
    ],
)
def test_page_and_abstract_labels_are_trimmed(text: str, quoted: str) -> None:
    assert candidate_spans(_passage(text))[0].text == quoted


def test_a_label_run_into_the_sentence_before_starts_a_sentence() -> None:
    # SciFact, folic acid and preeclampsia (demo corpus): no space after the full stop.
    text = (
        "The reduced risk was only seen for severe preeclampsia (OR=0.52, 95% CI: 0.31-0.87, for "
        "the highest quartile compared with the lowest).Conclusions:Our study results suggest "
        "that folic acid supplementation and higher dietary folate intake during pregnancy reduce "
        "the risk of preeclampsia."
    )
    spans = candidate_spans(_passage(text))
    assert [s.text[:24] for s in spans] == ["The reduced risk was onl", "Our study results sugges"]
    assert all(text[s.start : s.end] == s.text for s in spans)
    assert abstract_section(text, spans[1].start) == "CONCLUSIONS"


def test_a_sentence_run_into_the_one_before_starts_a_sentence() -> None:
    # NHLBI, "Iron-Deficiency Anemia" (demo corpus): the space after "foods." was lost upstream.
    # A web address keeps its dots.
    text = (
        "Also, your doctor may prescribe iron supplements or advise you to eat more iron-rich "
        "foods.This not only will help you avoid iron-deficiency anemia, but also may lower your "
        "risk of having a low-birth-weight baby."
    )
    spans = candidate_spans(_passage(text))
    assert [s.text[:24] for s in spans] == ["Also, your doctor may pr", "This not only will help "]
    assert spans[0].text.endswith("iron-rich foods.")
    assert all(text[s.start : s.end] == s.text for s in spans)
    address = "Smokers who quit get help from the national quitline at www.Smokefree.gov today."
    assert _split(address) == ((0, len(address)),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # MedQuAD (NIDDK, appendicitis): a list item run into the sentence after it.
        ("Low fever Not everyone with appendicitis has all these symptoms.", True),
        ("Not everyone with appendicitis has all these symptoms.", False),
        # MedQuAD (NIHSeniorHealth, lung cancer): a heading run into its first sentence.
        (
            "Heart disease and lung cancer in adults who have never smoked There is no safe "
            "amount of secondhand smoke.",
            True,
        ),
        # MedQuAD (MedlinePlus, male infertility).
        ("Lifestyle or environmental factors About a third of the time, infertility is ...", True),
        # MedlinePlus, fibromyalgia: a list item ending in a bracket.
        (
            'Problems with thinking and memory (sometimes called "fibro fog") No one knows what '
            "causes fibromyalgia.",
            True,
        ),
        # A capital after a lower-case word that starts no sentence.
        ("Iron deficiency is common in Europe and North America.", False),
    ],
)
def test_a_heading_glued_to_a_sentence_is_seen(text: str, expected: bool) -> None:
    assert (glued_at(text) is not None) is expected
