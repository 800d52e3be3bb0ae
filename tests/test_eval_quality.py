"""The answer-quality benchmark: metrics on hand-built answers, expectations, inputs, and
`followup eval quality` end to end on the small real index of the answer tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from answer.schema import Answer, AnswerSection, Reference, SectionKind, Sentence, SentenceKind
from corpus.types import EvidenceTier, Passage
from eval.quality import (
    ItemScore,
    passage_answer,
    relative_gain,
    score_item,
    summarise,
)
from eval.quality_data import (
    Expectations,
    InputFormat,
    QualityItem,
    ReferenceAnswer,
    check_turn,
    detect_format,
    load_quality_set,
)
from eval.quality_metrics import (
    anaphoric_quotes,
    coverage,
    first_sentence,
    focus_covered,
    is_anaphoric,
    juxtapositions,
    mentions,
    repeated_quotes,
    rouge,
)
from tests.test_eval_cli import run_cli

# --------------------------------------------------------------------------- builders


def _ref(n: int, document: str) -> Reference:
    return Reference(
        n=n,
        passage_id=f"{document}#p{n}",
        document_id=document,
        tier="guideline",
        design="guideline",
        title=document,
        source="NIH",
    )


def _quote(text: str, *cites: int, label: str | None = None) -> Sentence:
    return Sentence(text=text, citations=list(cites), label=label)


def _gap(text: str) -> Sentence:
    return Sentence(text=text, kind=SentenceKind.EVIDENCE_GAP)


def _answer(
    lead: list[Sentence],
    body: list[Sentence] = (),  # type: ignore[assignment]
    documents: tuple[str, ...] = ("docA",),
    *,
    question: str = "q",
    standalone: str = "q",
    abstained: bool = False,
    topic_shift: bool = False,
) -> Answer:
    sections = [AnswerSection(kind=SectionKind.BOTTOM_LINE, title="Bottom line", sentences=lead)]
    if body:
        sections.append(
            AnswerSection(kind=SectionKind.GUIDELINES, title="From the Guidelines", sentences=body)
        )
    return Answer(
        question=question,
        standalone_query=standalone,
        abstained=abstained,
        topic_shift=topic_shift,
        sections=sections if not abstained else [],
        references=[_ref(n, d) for n, d in enumerate(documents, start=1)],
    )


# --------------------------------------------------------------------------- ROUGE


def test_rouge_on_a_hand_computed_pair() -> None:
    # rouge-score lower-cases, splits on non-alphanumerics and Porter-stems tokens over 3 chars:
    #   reference  "Iron pills treat anemia"      -> iron pill treat anemia          (4 tokens)
    #   prediction "Anemia is treated with iron"  -> anemia is treat with iron       (5 tokens)
    # ROUGE-1: 3 shared unigrams (iron, treat, anemia): recall 3/4 = 0.75.
    # ROUGE-L: the longest common subsequence has length 1 (the orders cross), so
    #   R = 1/4, P = 1/5, F1 = 2 * (1/4 * 1/5) / (1/4 + 1/5) = 0.1 / 0.45 = 2/9.
    scores = rouge("Anemia is treated with iron", ["Iron pills treat anemia"])
    assert scores.rouge1_recall == pytest.approx(0.75)
    assert scores.rougeL_f1 == pytest.approx(2 / 9)
    # Each measure takes its own best reference: "Iron" alone is fully recalled (1/1), and its
    # ROUGE-L F1 is 2 * (1 * 1/5) / (1 + 1/5) = 1/3 > 2/9.
    both = rouge("Anemia is treated with iron", ["Iron pills treat anemia", "Iron"])
    assert both.rouge1_recall == pytest.approx(1.0)
    assert both.rougeL_f1 == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="reference"):
        rouge("x", [])


# --------------------------------------------------------------------------- coverage


def test_focus_rule_half_of_the_content_tokens() -> None:
    # "polycystic renal disease" -> {polycyst, renal, diseas}; "Renal cysts ... this disease"
    # holds renal and diseas: 2/3 >= 0.5. "Renal problems" holds 1/3 only.
    assert focus_covered("Renal cysts are common in this disease.", "polycystic renal disease")
    assert not focus_covered("Renal problems are rare.", "polycystic renal disease")
    # British spelling, a possessive and a letter-digit hyphen normalise away.
    assert focus_covered("Noonan's syndrome is inherited.", "noonan syndrome")
    assert focus_covered("Vitamin B-12 and anaemia.", "b12 anemia")
    assert not focus_covered("anything", "the of")  # no content tokens: never covered


def test_coverage_counts_gap_statements_separately() -> None:
    gap = _answer(
        [_gap("The indexed evidence does not relate vitamin B12 levels to ferritin levels.")]
    )
    cov = coverage(gap, ["vitamin b12", "ferritin"])
    assert cov.by_quotes == (False, False) and cov.with_gaps == (True, True)
    assert (cov.quote_rate, cov.gap_rate) == (0.0, 1.0)
    quoted = _answer([_quote("Ferritin is a protein that stores iron.", 1)])
    cov = coverage(quoted, ["vitamin b12", "ferritin"])
    assert cov.by_quotes == (False, True) and cov.gap_rate == 0.5


# --------------------------------------------------------------------------- defects


def test_anaphora_checks_the_first_sentence_of_each_quote() -> None:
    answer = _answer(
        [_quote("These patients had low ferritin. Ferritin stores iron.", 1)],
        [
            _quote("Ferritin is a protein. It stores iron.", 1),  # antecedent comes first: fine
            _quote("It is important to eat iron-rich foods.", 1),  # impersonal "it": fine
            _quote("Affected individuals have anemia.", 1),
            _quote("In this study, folate lowered homocysteine.", 1),
            _quote("Dr. Smith noted it. This is true.", 1),  # "Dr." does not end a sentence
            _quote("The condition is inherited.", 1),
            _quote("The treatment for chronic diarrhea will depend on the cause.", 1),  # named
            # Its page's label names what "This condition" is.
            _quote("This condition is inherited.", 1, label="On Dementia (GHR)"),
        ],
    )
    assert anaphoric_quotes(answer) == (
        "These patients had low ferritin. Ferritin stores iron.",
        "Affected individuals have anemia.",
        "In this study, folate lowered homocysteine.",
        "The condition is inherited.",
    )
    assert first_sentence("e.g. iron. It helps.") == "e.g. iron."
    assert is_anaphoric("Such patients need B12.") and not is_anaphoric("Iron helps. It is cheap.")


def test_focus_mentions_tolerate_typos_and_use_the_synonym_table() -> None:
    # LiveQA foci as users typed them (TQ61, TQ7).
    assert focus_covered("Gabapentin and hydrocodone may interact.", "Gabamentine")
    assert focus_covered("A deep vein thrombosis can break loose.", "DVT")
    assert not focus_covered("Iron is found in red meat.", "Gabamentine")


def test_juxtaposition_of_unlabelled_quotes_from_different_documents() -> None:
    answer = _answer(
        [
            _quote("Iron pills treat iron-deficiency anemia.", 1),  # docA
            _quote("Ferritin above 300 suggests overload.", 2),  # docB: juxtaposed with docA
            _quote("Phlebotomy removes iron.", 3, label="On hemochromatosis (NIDDK)"),  # framed
            _gap("The evidence does not give a dose."),
            _quote("B12 shots treat pernicious anemia.", 4),  # docA, but after a gap sentence
            _quote("B12 pills also work.", 1),  # docA again: same document
        ],
        documents=("docA", "docB", "docC", "docA"),
    )
    assert juxtapositions(answer) == ((0, 1),)


def test_repeats_across_turns_ignore_whitespace() -> None:
    earlier = _answer([_quote("Ferritin stores iron.", 1)])
    now = _answer([_quote("Ferritin  stores iron.", 1)], [_quote("B12 comes from food.", 1)])
    assert repeated_quotes(now, [earlier]) == ("Ferritin  stores iron.",)
    assert repeated_quotes(now, []) == ()


# --------------------------------------------------------------------------- expectations


def _check(expectations: dict[str, object], answer: Answer, repeated: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    from eval.quality_metrics import lead_opens_with_gap, lead_text

    return check_turn(
        Expectations.from_dict(expectations),
        lead_text=lead_text(answer),
        lead_quotes=lead_text(answer, quotes_only=True),
        lead_opens_with_gap=lead_opens_with_gap(answer),
        standalone_query=answer.standalone_query,
        abstained=answer.abstained,
        topic_shift=answer.topic_shift,
        repeated=repeated,
        has_amount=lambda text: "mg" in text.split(),
    )


def test_expectations_pass_and_fail_with_reasons() -> None:
    gap = _answer(
        [_gap("The indexed evidence does not relate vitamin B12 to ferritin.")],
        standalone="vitamin b12 ferritin",
    )
    seed = {"lead_mentions": [["b12", "cobalamin"], ["ferritin"]], "gap_ok": True}
    assert _check(seed, gap).passed
    failed = _check({"lead_mentions": [["b12"], ["folate"]]}, gap)
    assert failed.failures == (
        "lead does not mention folate",
        "lead is an evidence-gap statement",
    )
    b12 = _answer(
        [_quote("Pernicious anemia is easy to treat with vitamin B12 shots.", 1)],
        standalone="treatment of vitamin B12 deficiency",
        topic_shift=True,
    )
    ok = {
        "lead_mentions": [["shot", "injection"]],
        "lead_excludes": ["iron"],
        "standalone_mentions": [["b12"]],
        "topic_shift": True,
        "abstain": False,
    }
    assert _check(ok, b12).passed
    bad = {
        "lead_excludes": ["vitamin b12"],
        "topic_shift": False,
        "standalone_mentions": [["iron"]],
    }
    assert _check(bad, b12).failures == (
        "topic shift detected",
        "lead mentions excluded 'vitamin b12'",
        "standalone query 'treatment of vitamin B12 deficiency' lacks iron",
    )
    assert _check({}, b12, repeated=("x",)).failures == ("1 quote(s) repeated from earlier turns",)
    assert _check({"no_repeat": False}, b12, repeated=("x",)).passed
    off = _answer([], abstained=True)
    assert _check({"abstain": True}, off).passed
    assert _check({"abstain": False}, off).failures == ("abstained",)


def test_amount_expectation_and_gap_standing_in() -> None:
    dose = _answer([_quote("Adults need 18 mg of iron a day.", 1)])
    none = _answer([_quote("Iron pills treat anemia.", 1)])
    gap = _answer([_gap("The evidence found gives no dose of iron.")])
    assert _check({"lead_has_amount": True}, dose).passed
    assert _check({"lead_has_amount": True}, none).failures == (
        "no amount with a unit in the lead",
    )
    assert _check({"lead_has_amount": True, "gap_ok": True}, gap).passed
    unknown = check_turn(
        Expectations(lead_has_amount=True),
        lead_text="x",
        lead_quotes="x",
        lead_opens_with_gap=False,
        standalone_query="q",
        abstained=False,
        topic_shift=False,
        repeated=(),
        has_amount=lambda text: None,
    )
    assert unknown.failures == ("cannot check an amount: answer.typefit.has_amount is missing",)


def test_phrase_mentions_use_stems_in_order() -> None:
    assert mentions("A lack of intrinsic factor causes it.", "intrinsic factors")
    assert not mentions("The factor is intrinsic.", "intrinsic factor")
    assert mentions("Treatment includes phlebotomy.", "treatments")


def test_expectation_values_are_checked() -> None:
    with pytest.raises(ValueError, match="'abstain' must be true or false"):
        Expectations.from_dict({"abstain": "yes"})
    with pytest.raises(ValueError, match="'lead_mentions' must be a list"):
        Expectations.from_dict({"lead_mentions": "b12"})
    with pytest.raises(ValueError, match="non-empty list of non-empty strings"):
        Expectations.from_dict({"lead_mentions": [[]]})


# --------------------------------------------------------------------------- scoring


def _passage(pid: str, document: str, text: str) -> Passage:
    return Passage(
        id=pid,
        document_id=document,
        text=text,
        start=0,
        end=len(text),
        section="",
        title=document,
        tier=EvidenceTier.GUIDELINE,
        source="NIH",
        licence="public domain",
        dataset="test",
    )


def test_passage_baseline_is_cut_to_length_and_leads_with_its_first_sentence() -> None:
    one = _passage("p1", "docA", "Iron pills treat anemia. They are cheap and work well.")
    two = _passage("p2", "docB", "Ferritin stores iron in cells.")
    answer = passage_answer("q", "q", [one, two], 12)
    # 10 words from p1, then 2 from p2: "Ferritin stores".
    lead = answer.sections[0].sentences
    assert [s.text for s in lead] == ["Iron pills treat anemia."]
    body = answer.sections[1].sentences
    assert [(s.text, s.citations) for s in body] == [
        ("They are cheap and work well.", [1]),
        ("Ferritin stores", [2]),
    ]
    assert [r.document_id for r in answer.references] == ["docA", "docB"]
    assert passage_answer("q", "q", [one], 0).abstained


def test_score_and_summary_of_constructed_answers() -> None:
    item = QualityItem(
        id="c#2",
        conversation="c",
        turn=2,
        question="What dose?",
        focus=("iron",),
        references=(ReferenceAnswer("Iron pills treat anemia"),),
        expectations=Expectations(lead_mentions=(("iron",),)),
    )
    earlier = _answer([_quote("Iron pills treat anemia.", 1)])
    answer = _answer(
        [_quote("Iron pills treat anemia.", 1), _quote("These help.", 2)],
        documents=("docA", "docB"),
    )
    score = score_item(item, "focused", answer, [earlier])
    assert score.rouge is not None and score.rouge.rouge1_recall == pytest.approx(1.0)
    assert score.coverage is not None and score.coverage.by_quotes == (True,)
    assert (score.quotes, len(score.anaphoric), score.juxtapositions) == (2, 1, 1)
    assert score.repeated == ("Iron pills treat anemia.",)
    assert score.check is not None and score.check.failures == (
        "1 quote(s) repeated from earlier turns",
    )
    summary = summarise([score])
    # 1 of 2 quotes anaphoric; 1 of the 2 quotes of turn 2 repeated; 0 of 1 turn passed.
    assert summary["anaphora_rate"] == 0.5 and summary["repeat_rate"] == 0.5
    assert summary["pass_rate"] == 0.0 and summary["answers_with_juxtaposition"] == 1.0
    assert isinstance(score, ItemScore) and score.to_dict()["failures"]
    assert relative_gain(0.2, 0.25) == pytest.approx(0.25)
    assert relative_gain(0.0, 0.3) is None


def test_type_fit_when_the_modules_exist() -> None:
    pytest.importorskip("answer.typefit")
    pytest.importorskip("retriever.question")
    from eval.quality_metrics import analyse, type_fit

    view = analyse("How is iron deficiency anemia treated?")
    assert view is not None
    assert isinstance(type_fit(view, "Iron pills treat iron-deficiency anemia."), bool)


# --------------------------------------------------------------------------- inputs


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_format_detection_and_loading(tmp_path: Path) -> None:
    assert detect_format({"turns": []}) is InputFormat.CONVERSATIONS
    assert detect_format({"summary": "x"}) is InputFormat.LIVEQA
    with pytest.raises(ValueError, match="cannot tell the format"):
        detect_format({"question": "x"})
    live = _write(
        tmp_path / "q.jsonl",
        [
            json.dumps(
                {
                    "id": "TQ1",
                    "summary": "What treats anemia?",
                    "focus": ["anemia"],
                    "types": ["TREATMENT"],
                    "reference_answers": [{"answer": "Iron.", "url": "u", "comment": ""}],
                }
            )
        ],
    )
    data = load_quality_set(live)
    assert data.format is InputFormat.LIVEQA
    assert [(i.id, i.question, i.focus) for i in data.items] == [
        ("TQ1", "What treats anemia?", ("anemia",))
    ]
    assert data.items[0].references[0].answer == "Iron."
    shipped = load_quality_set(Path(__file__).parents[1] / "eval" / "data" / "conversations.jsonl")
    assert shipped.format is InputFormat.CONVERSATIONS
    assert len(shipped.items) >= 25 and shipped.items[0].id == "b12-ferritin#1"
    assert all(i.expectations is not None for i in shipped.items)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], ":1: empty file"),
        (['{"id": "c", "turns": [{"q": "x"}]}', "{not json"], ":2: malformed JSON"),
        (['{"id": "c", "turns": [{"q": "x", "lead_mention": []}]}'], ":1: turn 1 of 'c': unknown"),
        (['{"id": "c", "turns": [{"q": "x"}]}', '{"id": "t", "summary": "y"}'], ":2: a liveqa"),
        (['{"id": "c", "turns": [{"q": "x"}]}', '{"id": "c", "turns": [{"q": "y"}]}'], ":2: dup"),
        (['{"id": "c", "turns": []}'], ":1: conversation 'c' has no turns"),
        (['["a list"]'], ":1: expected a JSON object"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = _write(tmp_path / "bad.jsonl", lines)
    with pytest.raises(ValueError) as caught:
        load_quality_set(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_cli_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "bad.jsonl", ['{"id": "c", "turns": [{"q": "x"}]}', "{oops"])
    argv = ["eval", "quality", "--questions", str(path), "--out", str(tmp_path / "out")]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{path}:2: malformed JSON" in err
    assert run_cli(["eval", "quality", "--questions", str(tmp_path / "missing.jsonl")]) == 2
    empty = _write(tmp_path / "empty.jsonl", [])
    assert run_cli(["eval", "quality", "--questions", str(empty)]) == 2
    assert f"{empty}:1: empty file" in capsys.readouterr().err


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The answer tests' 13 real records, indexed with the real model (as test_eval_answers)."""
    from index.build import build_index
    from tests.fixtures_answer import load_documents, load_embedder

    out = tmp_path_factory.mktemp("quality-index") / "index"
    build_index(load_documents(), out, load_embedder())
    return out


def test_quality_command_end_to_end(
    index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOLLOWUP_EMBEDDER__THREADS", "1")
    monkeypatch.setenv("FOLLOWUP_ANSWER__SENTENCE_CACHE_DIR", str(index_dir.parent / "sentences"))
    conversations = _write(
        tmp_path / "conversations.jsonl",
        [
            json.dumps(
                {
                    "id": "b12",
                    "turns": [
                        {
                            "q": "Are vitamin B12 levels higher with lower ferritin levels?",
                            "lead_mentions": [["ferritin", "b12"]],
                            "gap_ok": True,
                            "reference_answers": [
                                {"answer": "Ferritin is a protein that stores iron."}
                            ],
                        },
                        {"q": "How is pernicious anemia diagnosed?", "abstain": False},
                    ],
                }
            ),
            json.dumps({"id": "car", "turns": [{"q": "How do I pay for a car with cash?"}]}),
        ],
    )
    out = tmp_path / "quality"
    argv = ["eval", "quality", "--questions", str(conversations), "--index", str(index_dir)]
    assert run_cli([*argv, "--out", str(out), "--composer", "focused", "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert list(report["summary"]) == ["focused", "top1-passage", "top3-passages"]
    assert report["input"] == {
        "path": str(conversations),
        "format": "conversations",
        "items": 3,
        "conversations": 2,
    }
    focused = report["summary"]["focused"]
    assert focused["turns_checked"] == 3 and focused["rouge_items"] == 1
    items = report["items"]["focused"]
    assert [i["id"] for i in items] == ["b12#1", "b12#2", "car#1"]
    # The passage baselines are cut to the composed answer's length.
    for base in ("top1-passage", "top3-passages"):
        for mine, theirs in zip(items, report["items"][base], strict=True):
            assert theirs["words"] <= mine["words"]
    assert report["index_manifest"]["corpus"]["documents"] == 13
    assert report["settings"]["engine_settings"]["focused"]["answer"]["composer"] == "focused"
    assert (out / "quality.png").read_bytes()[:4] == b"\x89PNG"
    text = (out / "report.md").read_text()
    assert "## Conversation turns" in text and "## Per item" in text and "## Settings" in text
