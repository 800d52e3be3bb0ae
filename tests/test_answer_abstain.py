"""The support judgement and its thresholds."""

from __future__ import annotations

import pytest

from answer.abstain import ABSTAIN_THRESHOLD, WEAK_THRESHOLD, Support, judge_support
from answer.settings import Settings


def test_boundaries() -> None:
    assert judge_support(None) is Support.NONE
    assert judge_support(ABSTAIN_THRESHOLD - 1e-6) is Support.NONE
    assert judge_support(ABSTAIN_THRESHOLD) is Support.WEAK
    assert judge_support(WEAK_THRESHOLD - 1e-6) is Support.WEAK
    assert judge_support(WEAK_THRESHOLD) is Support.STRONG
    assert judge_support(0.5, abstain_below=0.6, weak_below=0.7) is Support.NONE


def test_thresholds_are_ordered_everywhere() -> None:
    assert 0 < ABSTAIN_THRESHOLD <= WEAK_THRESHOLD < 1
    with pytest.raises(ValueError):
        judge_support(0.5, abstain_below=0.6, weak_below=0.5)
    with pytest.raises(ValueError, match="weak_threshold"):
        Settings(answer={"abstain_threshold": 0.6, "weak_threshold": 0.5})
    settings = Settings()
    assert settings.answer.abstain_threshold == ABSTAIN_THRESHOLD
    assert settings.answer.weak_threshold == WEAK_THRESHOLD
