"""When to abstain, when to warn, and the fixed wording of every notice.

The evidence supports an answer only if some retrieved sentence is relevant enough to quote.
The feature is the *best sentence score*: the highest :func:`answer.compose.relevance` (0.75 x
cosine of sentence and query embeddings + 0.25 x share of the query's content terms in the
sentence) among the candidate sentences of the retrieved passages. It is exactly the score the
composer ranks sentences by, so the threshold and the run-time score share one scale.

Thresholds were calibrated on the MTRAG-UN generation tasks (../shared/data/mtrag), which mark
each conversation's last question ANSWERABLE, PARTIAL, UNANSWERABLE or UNDERSPECIFIED (the
last left out). The pool is all gold contexts of all tasks, indexed with the index package; the
real engine retrieves evidence for the last user turn in its conversation, and the feature is
the best sentence score of that evidence, exactly as at run time. It separated UNANSWERABLE
best of the features tried (AUC 0.851; without the conversation 0.845; over the top 8 passages
by dense cosine: best sentence score 0.847, best sentence cosine 0.831, best passage cosine
0.823). :data:`ABSTAIN_THRESHOLD` is the F0.5-best cut for abstaining on UNANSWERABLE
(precision counts twice: a wrong abstention withholds evidence the index has, while a wrong
answer still quotes real cited sentences under the weak-evidence notice): precision 0.62,
recall 0.69, F1 0.65 on MTRAG; 12% of ANSWERABLE tasks abstain. :data:`WEAK_THRESHOLD` is the
F1-best cut, at or above it, for flagging anything short of ANSWERABLE (UNANSWERABLE or
PARTIAL). The extractive composer also applies it to the bottom line itself: when the guideline
preference puts a guideline sentence in the lead that scores below it, the answer carries the
weak-evidence notice even if a research sentence scored higher (on MTRAG, with one kind of
passage, the two rules coincide). Re-derive both with::

    nice python benchmarks/abstention_mtrag.py  # prints a table, writes var/results/abstention.json

MTRAG is not medical; tests/test_answer_engine.py checks that the same cut abstains on
off-topic questions and answers on-topic ones on a real index of demo-corpus records.

Example:
    >>> judge_support(0.62)
    <Support.STRONG: 'strong'>
    >>> judge_support(None)
    <Support.NONE: 'none'>
"""

from __future__ import annotations

import enum

# Derived by `nice python benchmarks/abstention_mtrag.py` (see var/results/abstention.json):
# calibrated 0.419 and 0.502 on MTRAG-UN, rounded to two decimals.
ABSTAIN_THRESHOLD = 0.42
WEAK_THRESHOLD = 0.50

ABSTAIN_NOTICE = (
    "The indexed guideline and research evidence does not address this question, so no answer "
    "is given. Please ask a clinician, or rephrase the question."
)
WEAK_NOTICE = (
    "The indexed evidence only partly matches this question: the sentences below are the "
    "closest it contains. Check the cited sources before relying on them."
)
NO_GUIDELINE_NOTICE = "No indexed guideline passage addresses this question directly."
NO_RESEARCH_NOTICE = "No indexed research passage addresses this question directly."


class Support(str, enum.Enum):  # noqa: UP042 - str mixin like the other enums here
    """How well the retrieved evidence supports an answer."""

    NONE = "none"  # abstain
    WEAK = "weak"  # answer, with WEAK_NOTICE
    STRONG = "strong"  # answer


def judge_support(
    best_score: float | None,
    *,
    abstain_below: float = ABSTAIN_THRESHOLD,
    weak_below: float = WEAK_THRESHOLD,
) -> Support:
    """Classify the best sentence score of an answer's evidence.

    Args:
        best_score: the best candidate sentence's relevance, or ``None`` when no retrieved
            passage yielded a quotable sentence.
        abstain_below: scores below this abstain.
        weak_below: scores below this (and not below ``abstain_below``) answer with a warning.

    Raises:
        ValueError: ``weak_below`` is below ``abstain_below``.
    """
    if weak_below < abstain_below:
        raise ValueError(
            f"weak_below ({weak_below}) must not be below abstain_below ({abstain_below})"
        )
    if best_score is None or best_score < abstain_below:
        return Support.NONE
    if best_score < weak_below:
        return Support.WEAK
    return Support.STRONG
