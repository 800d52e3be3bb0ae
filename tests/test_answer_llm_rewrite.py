"""The LLM rewriter against a real local HTTP server that plays an OpenAI-compatible endpoint.

As in tests/test_answer_llm.py, the server (http.server on 127.0.0.1, in a thread) answers each
request with the canned reply registered for the request's ``model`` name, so every test picks
its scenario by model name. The fallback is the real rule rewriter, and the retriever test runs
the real hybrid retriever on the 20-document fixture index.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import ValidationError

from answer.llm import DEFAULT_MAX_RETRIES, ChatClient
from answer.llm_rewrite import (
    InvalidRewriteError,
    LLMRewriter,
    content_words,
    dropped_words,
    validate_rewrite,
)
from answer.settings import AnswerSettings
from index.load import PassageIndex
from retriever.hybrid import HybridRetriever, index_vocabulary
from retriever.rewrite import RewriteRule, RuleRewriter
from retriever.types import Conversation, Turn
from tests.fixtures_llm import FakeEndpoint
from tests.fixtures_retriever import retriever_embedder, retriever_index  # noqa: F401

IRON = "How is iron deficiency treated?"
PREGNANCY = "Is it safe in pregnancy?"
# The rules resolve "it" to the nutrient of a treated deficiency: "Is iron safe in pregnancy?".
RULES_PREGNANCY = "Is iron safe in pregnancy?"
LLM_PREGNANCY = "Is oral iron therapy safe in pregnancy?"
B12 = "And for B12?"
RULES_B12 = "How is vitamin B12 deficiency treated?"


def rewriter_for(
    endpoint: FakeEndpoint,
    model: str,
    content: str,
    *,
    status: int = 200,
    delay: float = 0.0,
    timeout_s: float = 5.0,
) -> LLMRewriter:
    endpoint.replies[model] = (status, content, delay)
    client = ChatClient(endpoint.url, model=model, timeout_s=timeout_s)
    return LLMRewriter(client, RuleRewriter())


def requests_for(endpoint: FakeEndpoint, model: str) -> list[dict[str, Any]]:
    return [r for r in endpoint.requests if r["body"]["model"] == model]


# ------------------------------------------------------------------------- through the endpoint


def test_a_good_rewrite_is_used(endpoint: FakeEndpoint) -> None:
    rewriter = rewriter_for(endpoint, "good", LLM_PREGNANCY)
    rules = RuleRewriter().rewrite(PREGNANCY, [IRON])

    rewritten = rewriter.rewrite(PREGNANCY, [IRON])

    assert rewritten.standalone == LLM_PREGNANCY
    assert rewritten.question == PREGNANCY
    # state, rule and topic shift are the rules' (the docstring says so).
    assert (rewritten.state, rewritten.rule, rewritten.topic_shift) == (
        rules.state,
        RewriteRule.PRONOUN,
        False,
    )
    # The analysis is of the model's question: "oral iron therapy" is its focus, not "iron".
    assert rewritten.analysis.question == LLM_PREGNANCY
    assert rules.analysis.question == RULES_PREGNANCY
    assert rewritten.analysis.population == ("pregnancy",)
    # The model saw the earlier question and the follow-up, and nothing else.
    (request,) = requests_for(endpoint, "good")
    user = request["body"]["messages"][-1]["content"]
    assert request["path"] == "/v1/chat/completions"
    assert f"1. {IRON}" in user and f"Last question: {PREGNANCY}" in user


def test_a_reply_is_tidied(endpoint: FakeEndpoint) -> None:
    rewriter = rewriter_for(endpoint, "untidy", '  "is oral iron therapy  safe in pregnancy ?"\n')
    assert rewriter.rewrite(PREGNANCY, [IRON]).standalone == LLM_PREGNANCY


def test_a_rewrite_that_drops_the_followups_term_gives_the_rule_rewrite(
    endpoint: FakeEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    # "B12" is the follow-up's only content word; the reply is about iron again.
    rewriter = rewriter_for(endpoint, "drops-b12", IRON)
    with caplog.at_level(logging.WARNING, logger="answer.llm_rewrite"):
        rewritten = rewriter.rewrite(B12, [IRON])
    assert rewritten.standalone == RULES_B12
    assert rewritten == RuleRewriter().rewrite(B12, [IRON])
    assert rewritten.rule is RewriteRule.SUBSTITUTE_FOCUS and rewritten.topic_shift
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "drops 1 content word" in message
    # Questions are health data: neither the question nor the reply is logged.
    assert "B12" not in message and "iron" not in message.lower()


@pytest.mark.parametrize(
    "reply",
    [
        "Is oral iron safe\nin pregnancy?",  # two lines
        "**Is oral iron safe in pregnancy?**",  # Markdown
        "- Is oral iron safe in pregnancy?",  # a list item
        "Standalone question: Is oral iron safe in pregnancy?",  # a label
        "Oral iron is safe in pregnancy.",  # an answer, not a question
        "Is oral iron safe in pregnancy? Is it safe for the baby?",  # two questions
        "",  # nothing
        "Is oral iron safe in pregnancy, " + "and " * 60 + "why?",  # > 3 x the input
    ],
    ids=["lines", "markdown", "list", "label", "statement", "two", "empty", "long"],
)
def test_a_malformed_reply_gives_the_rule_rewrite(endpoint: FakeEndpoint, reply: str) -> None:
    rewriter = rewriter_for(endpoint, f"malformed-{len(endpoint.replies)}", reply)
    assert rewriter.rewrite(PREGNANCY, [IRON]).standalone == RULES_PREGNANCY


def test_a_slow_endpoint_times_out_to_the_rule_rewrite(endpoint: FakeEndpoint) -> None:
    rewriter = rewriter_for(endpoint, "slow", LLM_PREGNANCY, delay=2.0, timeout_s=0.3)
    assert rewriter.rewrite(PREGNANCY, [IRON]).standalone == RULES_PREGNANCY
    # Each attempt timed out, and the client tried again as often as it is allowed to.
    assert len(requests_for(endpoint, "slow")) == 1 + DEFAULT_MAX_RETRIES


def test_a_server_error_gives_the_rule_rewrite(endpoint: FakeEndpoint) -> None:
    rewriter = rewriter_for(endpoint, "error", "boom", status=500)
    assert rewriter.rewrite(PREGNANCY, [IRON]).standalone == RULES_PREGNANCY


def test_an_unreachable_endpoint_gives_the_rule_rewrite() -> None:
    # Port 9 (discard) is closed on the test machine: the connection is refused.
    client = ChatClient("http://127.0.0.1:9/v1", model="m", timeout_s=2)
    rewriter = LLMRewriter(client, RuleRewriter())
    assert rewriter.rewrite(B12, [IRON]).standalone == RULES_B12


def test_a_first_question_is_not_sent(endpoint: FakeEndpoint) -> None:
    rewriter = rewriter_for(endpoint, "first", "How is cobalamin deficiency treated?")
    assert rewriter.rewrite(IRON, []).standalone == IRON
    assert requests_for(endpoint, "first") == []


# ------------------------------------------------------------------------- the retriever


def test_the_retriever_searches_and_shows_the_llm_standalone(
    endpoint: FakeEndpoint,
    retriever_index: PassageIndex,  # noqa: F811
    retriever_embedder: Any,  # noqa: F811
) -> None:
    endpoint.replies["retriever"] = (200, LLM_PREGNANCY, 0.0)
    client = ChatClient(endpoint.url, model="retriever", timeout_s=5)
    vocabulary = index_vocabulary(retriever_index)
    assert vocabulary is not None  # the fixture index has BM25 term statistics
    rewriter = LLMRewriter(client, RuleRewriter(vocabulary), vocabulary=vocabulary)
    retriever = HybridRetriever(retriever_index, retriever_embedder, rewriter=rewriter)
    conversation = Conversation((Turn(IRON),))

    evidence = retriever.evidence(PREGNANCY, conversation)

    assert evidence.question == PREGNANCY
    assert evidence.standalone_query == LLM_PREGNANCY
    assert evidence.analysis is not None and evidence.analysis.question == LLM_PREGNANCY
    assert evidence.fused  # the fixture's "Iron" page matches
    # Without the LLM rewriter the same retriever shows the rules' standalone question.
    plain = HybridRetriever(retriever_index, retriever_embedder)
    assert plain.evidence(PREGNANCY, conversation).standalone_query == RULES_PREGNANCY


# ------------------------------------------------------------------------- validation (pure)


def test_content_words_leave_out_pronouns_question_words_and_ellipsis() -> None:
    assert content_words(B12) == ["b12"]
    assert content_words("What about its side effects during pregnancy?") == [
        "side",
        "effects",
        "during",
        "pregnancy",
    ]


def test_kept_words_are_compared_by_stem_and_synonym() -> None:
    # "effects" ~ "effect" and "pregnancy" ~ "pregnancies" by stem; "B-12" ~ "cobalamin" by the
    # synonym table.
    standalone = "What is the side effect of iron in pregnancies?"
    assert dropped_words("What side effects in pregnancy?", standalone) == []
    assert dropped_words("And for B-12?", "How is cobalamin deficiency treated?") == []
    assert dropped_words("Is it safe in pregnancy?", "Is iron safe?") == ["pregnancy"]


def test_validate_rewrite_names_the_reason_without_the_question() -> None:
    with pytest.raises(InvalidRewriteError, match=r"too long \(\d+ > 300 characters\)"):
        validate_rewrite("Why " + "x" * 400 + "?", "Why " + "y" * 200 + "?", [IRON])
    with pytest.raises(InvalidRewriteError, match="not one question"):
        validate_rewrite("Iron deficiency", "And iron?", [IRON])
    # A question without its "?" is tidied, not rejected.
    assert validate_rewrite("how is B12 deficiency treated", B12, [IRON]) == (
        "How is B12 deficiency treated?"
    )


def test_the_rewriter_setting_is_a_closed_choice() -> None:
    assert AnswerSettings.model_validate({}).rewriter == "rules"
    assert AnswerSettings.model_validate({"rewriter": "llm"}).rewriter == "llm"
    with pytest.raises(ValidationError, match="rewriter"):
        AnswerSettings.model_validate({"rewriter": "gpt"})
