"""The LLM generator against a real local HTTP server that plays an OpenAI-compatible endpoint.

The server (http.server on 127.0.0.1, in a thread) answers each request with the canned reply
registered for the request's ``model`` name, so every test picks its scenario by model name:
good output, malformed output, uncited sentences, hallucinated citation numbers, research cited
in the guideline section, a slow reply (timeout), and HTTP 500. The sentences in the canned
replies are real sentences copied from the fixture passages, never made up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from answer.abstain import ABSTAIN_NOTICE
from answer.compose import ExtractiveComposer
from answer.llm import (
    FALLBACK_INVALID_NOTICE,
    FALLBACK_UNAVAILABLE_NOTICE,
    LLM_DISCLAIMER,
    REMOVED_NOTICE,
    ChatClient,
    LLMError,
    LLMGenerator,
    MalformedOutputError,
    ParsedOutput,
    RawSentence,
    number_passages,
    parse_output,
    validate,
)
from answer.schema import Answer, SectionKind
from answer.sentences import candidate_spans
from corpus.types import EvidenceKind, Passage
from retriever.types import Evidence
from tests.fixtures_answer import evidence_for, load_bank, load_embedder
from tests.fixtures_llm import FakeEndpoint

QUESTION = "What is iron-deficiency anemia?"


@pytest.fixture(scope="module")
def composer() -> ExtractiveComposer:
    return ExtractiveComposer(load_embedder(), load_bank())


@pytest.fixture(scope="module")
def evidence() -> Evidence:
    return evidence_for(QUESTION, top_k=12)


@dataclass(frozen=True)
class Numbering:
    """The passage numbers the generator will show the model, and real sentences of each."""

    numbered: dict[int, Passage]
    guideline: int
    research: int

    def sentence(self, n: int, i: int = 0) -> str:
        return candidate_spans(self.numbered[n])[i].text


@pytest.fixture(scope="module")
def numbering(composer: ExtractiveComposer, evidence: Evidence) -> Numbering:
    numbered = number_passages(composer.prepare(evidence).passages)
    guideline = min(n for n, p in numbered.items() if p.kind is EvidenceKind.GUIDELINE)
    research = min(n for n, p in numbered.items() if p.kind is EvidenceKind.RESEARCH)
    return Numbering(numbered, guideline, research)


def reply(
    bottom: tuple[str, list[int]] | None,
    guidelines: list[tuple[str, list[int]]] = (),  # type: ignore[assignment]
    research: list[tuple[str, list[int]]] = (),  # type: ignore[assignment]
) -> str:
    def item(pair: tuple[str, list[int]]) -> dict[str, Any]:
        return {"text": pair[0], "citations": pair[1]}

    data: dict[str, Any] = {"abstain": False}
    if bottom is not None:
        data["bottom_line"] = item(bottom)
    data["guidelines"] = [item(p) for p in guidelines]
    data["research"] = [item(p) for p in research]
    return json.dumps(data)


def generate(
    endpoint: FakeEndpoint,
    composer: ExtractiveComposer,
    evidence: Evidence,
    model: str,
    content: str,
    *,
    status: int = 200,
    delay: float = 0.0,
    timeout_s: float = 10.0,
) -> Answer:
    endpoint.replies[model] = (status, content, delay)
    client = ChatClient(endpoint.url, model=model, api_key="test-key", timeout_s=timeout_s)
    return LLMGenerator(client, composer).generate(evidence)


def notices(answer: Answer) -> list[str]:
    section = answer.section(SectionKind.NOTICE)
    return [s.text for s in section.sentences] if section else []


def cited_passages(answer: Answer, kind: SectionKind) -> list[str]:
    section = answer.section(kind)
    by_n = {r.n: r for r in answer.references}
    return [by_n[n].tier for s in (section.sentences if section else []) for n in s.citations]


def assert_valid(answer: Answer) -> None:
    by_n = {r.n for r in answer.references}
    seen: list[int] = []
    for section in answer.sections:
        for sentence in section.sentences:
            if section.kind is SectionKind.NOTICE:
                assert not sentence.citations
                continue
            assert sentence.citations and set(sentence.citations) <= by_n
            seen += [n for n in sentence.citations if n not in seen]
    assert seen == sorted(by_n) == list(range(1, len(by_n) + 1))
    assert cited_passages(answer, SectionKind.GUIDELINES) == ["guideline"] * len(
        cited_passages(answer, SectionKind.GUIDELINES)
    )


def test_good_output_is_used_and_renumbered(
    endpoint: FakeEndpoint, composer: ExtractiveComposer, evidence: Evidence, numbering: Numbering
) -> None:
    g, r = numbering.guideline, numbering.research
    content = reply(
        (numbering.sentence(g), [g]),
        [(numbering.sentence(g, 1), [g])],
        [(numbering.sentence(r), [r])],
    )
    answer = generate(endpoint, composer, evidence, "good", content)
    assert answer.generator == "llm:good"
    assert not answer.abstained
    assert answer.disclaimer == LLM_DISCLAIMER
    assert notices(answer) == []
    assert_valid(answer)
    bottom = answer.section(SectionKind.BOTTOM_LINE).sentences[0]  # type: ignore[union-attr]
    assert bottom.text == numbering.sentence(g) and bottom.citations == [1]
    research = answer.section(SectionKind.RESEARCH).sentences[0]  # type: ignore[union-attr]
    assert research.citations == [2]
    assert research.design == numbering.numbered[r].tier.value
    assert answer.references[1].passage_id == numbering.numbered[r].id
    # The request carried the numbered passages, the question, the model and the key.
    request = endpoint.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer test-key"
    prompt = request["body"]["messages"][-1]["content"]
    assert f"[{g}] GUIDELINE" in prompt and f"[{r}] RESEARCH" in prompt
    assert numbering.numbered[r].text in prompt and QUESTION in prompt


def test_malformed_output_falls_back_to_extractive(
    endpoint: FakeEndpoint, composer: ExtractiveComposer, evidence: Evidence
) -> None:
    answer = generate(endpoint, composer, evidence, "malformed", "Iron is important.")
    assert answer.generator == "extractive"
    assert notices(answer)[0] == FALLBACK_INVALID_NOTICE
    assert answer.section(SectionKind.BOTTOM_LINE) is not None
    assert_valid(answer)


def test_wrong_json_shape_falls_back(
    endpoint: FakeEndpoint, composer: ExtractiveComposer, evidence: Evidence
) -> None:
    answer = generate(endpoint, composer, evidence, "shape", '{"guidelines": "not a list"}')
    assert answer.generator == "extractive"
    assert FALLBACK_INVALID_NOTICE in notices(answer)


def test_uncited_sentences_are_removed(
    endpoint: FakeEndpoint, composer: ExtractiveComposer, evidence: Evidence, numbering: Numbering
) -> None:
    g = numbering.guideline
    content = reply(
        (numbering.sentence(g), [g]),
        [(numbering.sentence(g, 1), []), (numbering.sentence(g, 2), [g])],
    )
    answer = generate(endpoint, composer, evidence, "uncited", content)
    assert answer.generator == "llm:uncited"
    texts = [s.text for s in answer.section(SectionKind.GUIDELINES).sentences]  # type: ignore[union-attr]
    assert texts == [numbering.sentence(g, 2)]
    assert REMOVED_NOTICE.format(count=1) in notices(answer)
    assert_valid(answer)


def test_hallucinated_citation_numbers_are_removed(
    endpoint: FakeEndpoint, composer: ExtractiveComposer, evidence: Evidence, numbering: Numbering
) -> None:
    g = numbering.guideline
    content = reply(
        (numbering.sentence(g), [g, 99]),  # 99 was never provided: dropped, [g] stays
        [(numbering.sentence(g, 1), [42]), (numbering.sentence(g, 2), [0, g])],
    )
    answer = generate(endpoint, composer, evidence, "hallucinated", content)
    assert answer.generator == "llm:hallucinated"
    assert [r.passage_id for r in answer.references] == [numbering.numbered[g].id]
    guideline = answer.section(SectionKind.GUIDELINES).sentences  # type: ignore[union-attr]
    assert [s.text for s in guideline] == [numbering.sentence(g, 2)]
    assert all(s.citations == [1] for s in guideline)
    assert REMOVED_NOTICE.format(count=1) in notices(answer)
    assert_valid(answer)


def test_only_hallucinated_citations_fall_back(
    endpoint: FakeEndpoint, composer: ExtractiveComposer, evidence: Evidence, numbering: Numbering
) -> None:
    g = numbering.guideline
    content = reply((numbering.sentence(g), [77]), [(numbering.sentence(g, 1), [78])])
    answer = generate(endpoint, composer, evidence, "all-hallucinated", content)
    assert answer.generator == "extractive"
    assert FALLBACK_INVALID_NOTICE in notices(answer)


def test_research_cited_in_the_guideline_section_moves_to_research(
    endpoint: FakeEndpoint, composer: ExtractiveComposer, evidence: Evidence, numbering: Numbering
) -> None:
    g, r = numbering.guideline, numbering.research
    content = reply(
        (numbering.sentence(g), [g]),
        [(numbering.sentence(r), [r]), (numbering.sentence(g, 1), [g])],
        [(numbering.sentence(g, 2), [g])],  # a guideline sentence filed under research
    )
    answer = generate(endpoint, composer, evidence, "misplaced", content)
    assert answer.generator == "llm:misplaced"
    guideline = [s.text for s in answer.section(SectionKind.GUIDELINES).sentences]  # type: ignore[union-attr]
    research = [s.text for s in answer.section(SectionKind.RESEARCH).sentences]  # type: ignore[union-attr]
    assert numbering.sentence(r) in research and numbering.sentence(r) not in guideline
    assert numbering.sentence(g, 2) in guideline
    assert set(cited_passages(answer, SectionKind.RESEARCH)) == {"research"}
    assert_valid(answer)


def test_missing_bottom_line_uses_the_first_guideline_sentence(
    endpoint: FakeEndpoint, composer: ExtractiveComposer, evidence: Evidence, numbering: Numbering
) -> None:
    g = numbering.guideline
    content = reply(None, [(numbering.sentence(g, 1), [g])])
    answer = generate(endpoint, composer, evidence, "no-bottom", content)
    bottom = answer.section(SectionKind.BOTTOM_LINE).sentences[0]  # type: ignore[union-attr]
    assert bottom.text == numbering.sentence(g, 1) and bottom.citations == [1]


def test_fenced_json_and_inline_markers_are_understood(
    endpoint: FakeEndpoint, composer: ExtractiveComposer, evidence: Evidence, numbering: Numbering
) -> None:
    g = numbering.guideline
    inner = json.dumps({"bottom_line": {"text": f"{numbering.sentence(g)} [{g}]", "citations": []}})
    answer = generate(endpoint, composer, evidence, "fenced", f"```json\n{inner}\n```")
    assert answer.generator == "llm:fenced"
    bottom = answer.section(SectionKind.BOTTOM_LINE).sentences[0]  # type: ignore[union-attr]
    assert bottom.text == numbering.sentence(g) and bottom.citations == [1]


def test_slow_endpoint_times_out_and_falls_back(
    endpoint: FakeEndpoint, composer: ExtractiveComposer, evidence: Evidence, numbering: Numbering
) -> None:
    g = numbering.guideline
    content = reply((numbering.sentence(g), [g]))
    answer = generate(endpoint, composer, evidence, "slow", content, delay=2.0, timeout_s=0.3)
    assert answer.generator == "extractive"
    assert notices(answer)[0] == FALLBACK_UNAVAILABLE_NOTICE
    assert_valid(answer)


def test_server_error_falls_back(
    endpoint: FakeEndpoint, composer: ExtractiveComposer, evidence: Evidence
) -> None:
    answer = generate(endpoint, composer, evidence, "broken", "internal error", status=500)
    assert answer.generator == "extractive"
    assert notices(answer)[0] == FALLBACK_UNAVAILABLE_NOTICE


def test_unreachable_endpoint_falls_back(composer: ExtractiveComposer, evidence: Evidence) -> None:
    # Port 9 on loopback: nothing listens there, the connection is refused at once.
    client = ChatClient("http://127.0.0.1:9/v1", model="m", timeout_s=2)
    answer = LLMGenerator(client, composer).generate(evidence)
    assert answer.generator == "extractive"
    assert FALLBACK_UNAVAILABLE_NOTICE in notices(answer)


def test_model_abstention_is_an_abstention(
    endpoint: FakeEndpoint, composer: ExtractiveComposer, evidence: Evidence
) -> None:
    answer = generate(endpoint, composer, evidence, "abstains", '{"abstain": true}')
    assert answer.abstained and answer.references == []
    assert answer.generator == "llm:abstains"
    assert notices(answer) == [ABSTAIN_NOTICE]


def test_off_topic_question_abstains_without_calling_the_endpoint(
    endpoint: FakeEndpoint, composer: ExtractiveComposer
) -> None:
    before = len(endpoint.requests)
    endpoint.replies["never"] = (200, "{}", 0.0)
    client = ChatClient(endpoint.url, model="never", timeout_s=5)
    answer = LLMGenerator(client, composer).generate(evidence_for("What is the capital of France?"))
    assert answer.abstained
    assert len(endpoint.requests) == before


# --------------------------------------------------------------------------- pure units


def test_parse_output_rejects_non_objects() -> None:
    for content in ("", "no json here", "[1, 2]", '{"bottom_line": 3}', "{not json}"):
        with pytest.raises(MalformedOutputError):
            parse_output(content)


def test_parse_output_reads_citations_from_markers_and_strings() -> None:
    parsed = parse_output(
        '{"guidelines": [{"text": "Ferritin is a protein. [2, 3]", "citations": ["1", 2, true]}]}'
    )
    assert parsed.guidelines == (RawSentence("Ferritin is a protein.", (2, 1, 3)),)


def test_validate_drops_and_moves(numbering: Numbering) -> None:
    g, r = numbering.guideline, numbering.research
    parsed = ParsedOutput(
        bottom_line=(RawSentence("a", (g,)),),
        guidelines=(RawSentence("b", (r,)), RawSentence("c", (99,))),
        research=(RawSentence("d", (g,)),),
    )
    result = validate(parsed, numbering.numbered)
    assert [d.text for d in result.guidelines] == ["d"]
    assert [d.text for d in result.research] == ["b"]
    assert (result.removed, result.dropped_citations, result.moved) == (1, 1, 2)


def test_client_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="base_url"):
        ChatClient("localhost:8080", model="m")
    with pytest.raises(ValueError, match="timeout_s"):
        ChatClient("http://127.0.0.1:1/v1", model="m", timeout_s=0)


def test_client_reports_a_body_without_choices(endpoint: FakeEndpoint) -> None:
    endpoint.replies["empty-choices"] = (200, "", 0.0)
    client = ChatClient(endpoint.url, model="empty-choices", timeout_s=5)
    assert client.complete([{"role": "user", "content": "hi"}]) == ""
    with pytest.raises(LLMError, match="HTTP 500"):
        endpoint.replies["err"] = (500, "boom", 0.0)
        ChatClient(endpoint.url, model="err", timeout_s=5).complete([])
