"""BM25 with bm25s: hand-computed scores, the rank-bm25 oracle, pickle-free persistence."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index.lexical import (
    BM25_FILES,
    Bm25LexicalStore,
    Bm25Method,
    Bm25Settings,
    Bm25Tokenizer,
    Stemming,
    StopWords,
)
from tests.fixtures_index import sample_documents, sentence_passages

SETTINGS = Bm25Settings(
    k1=0.9,
    b=0.4,
    method=Bm25Method.LUCENE,
    stopwords=StopWords.ENGLISH,
    stemming=Stemming.SNOWBALL_ENGLISH,
)


class LuceneIdfOkapi(BM25Okapi):
    """rank_bm25's BM25Okapi with Lucene's idf, ln(1 + (N - df + 0.5) / (df + 0.5)).

    Everything else (term frequency part, avgdl, the query loop) is rank_bm25's own code.
    """

    def _calc_idf(self, nd: dict[str, int]) -> None:
        for word, freq in nd.items():
            self.idf[word] = math.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5))


def _texts() -> list[str]:
    return [p.embedding_text for p in sentence_passages(sample_documents())]


def test_tokenizer_applies_stop_words_and_stemming() -> None:
    text = ["The ferritin levels were low in iron deficiency"]
    assert Bm25Tokenizer(SETTINGS).tokenize(text) == [
        ["ferritin", "level", "were", "low", "iron", "defici"]
    ]
    raw = Bm25Settings(stopwords=StopWords.NONE, stemming=Stemming.NONE)
    assert Bm25Tokenizer(raw).tokenize(text) == [
        ["the", "ferritin", "levels", "were", "low", "in", "iron", "deficiency"]
    ]


def test_hand_computed_lucene_score() -> None:
    store = Bm25LexicalStore.build(
        ["iron deficiency anemia", "iron overload", "vitamin B12 deficiency"], SETTINGS
    )
    hits = store.search("overload", k=3)
    # Terms: d0 [iron, defici, anemia], d1 [iron, overload], d2 [vitamin, b12, defici].
    # N = 3, avgdl = (3 + 2 + 3) / 3 = 8/3; "overload" has df = 1 and occurs once in d1 (|d1| = 2).
    # idf = ln(1 + (3 - 1 + 0.5) / (1 + 0.5)) = ln(8/3) = 0.980829
    # tf part = 1 / (1 + 0.9 * (1 - 0.4 + 0.4 * 2 / (8/3))) = 1 / (1 + 0.9 * 0.9) = 1 / 1.81
    # score = 0.980829 / 1.81 = 0.541895; d0 and d2 score 0 and are not returned.
    assert hits.rows.tolist() == [1]
    assert hits.scores[0] == pytest.approx(math.log(8 / 3) / 1.81, rel=1e-6)


def test_ties_break_by_row_and_unknown_terms_match_nothing() -> None:
    store = Bm25LexicalStore.build(["iron", "folate", "iron", "iron"], SETTINGS)
    # Three identical one-word passages tie; the lower row comes first.
    assert store.search("iron", k=2).rows.tolist() == [0, 2]
    assert store.search("iron", k=10).rows.tolist() == [0, 2, 3]
    assert len(store.search("zinc", k=5).rows) == 0
    assert len(store.search("the", k=5).rows) == 0  # a stop word only
    with pytest.raises(ValueError, match="k must be at least 1"):
        store.search("iron", k=0)


@pytest.mark.parametrize(
    "tokenisation",
    [
        (StopWords.ENGLISH, Stemming.SNOWBALL_ENGLISH),
        (StopWords.NONE, Stemming.NONE),
    ],
)
@pytest.mark.parametrize("k1_b", [(0.9, 0.4), (1.5, 0.75)])
def test_bm25s_matches_rank_bm25(
    tokenisation: tuple[StopWords, Stemming], k1_b: tuple[float, float]
) -> None:
    """bm25s robertson == BM25Okapi(epsilon=0) / (k1 + 1); lucene == LuceneIdfOkapi / (k1 + 1)."""
    texts = _texts()
    k1, b = k1_b
    stopwords, stemming = tokenisation
    base = Bm25Settings(k1=k1, b=b, stopwords=stopwords, stemming=stemming)
    corpus = Bm25Tokenizer(base).tokenize(texts)
    df = Counter(term for doc in corpus for term in set(doc))
    common = [term for term, n in df.items() if n > len(corpus) / 2]
    # At least one term occurs in more than half of the passages, so its Robertson idf is
    # negative and both libraries must clamp it (bm25s to 0, BM25Okapi to epsilon * mean = 0).
    assert common, "the sample should contain a very common term"
    queries = [
        "treatment of African iron overload",
        "Fanconi anemia mutations in children",
        "hemoglobin concentration differences",
        " ".join(common),
        *(doc.title for doc in sample_documents()),
    ]
    references = {
        Bm25Method.ROBERTSON: BM25Okapi(corpus, k1=k1, b=b, epsilon=0.0),
        Bm25Method.LUCENE: LuceneIdfOkapi(corpus, k1=k1, b=b),
    }
    for method, reference in references.items():
        store = Bm25LexicalStore.build(
            texts, Bm25Settings(k1=k1, b=b, method=method, stopwords=stopwords, stemming=stemming)
        )
        for query in queries:
            expected = reference.get_scores(store.tokenize(query)) / (k1 + 1)
            np.testing.assert_allclose(store.scores(query), expected, rtol=1e-5, atol=1e-6)
            # And the top 10 agree (rank-bm25 has no tie rule; compare scores, not ids).
            hits = store.search(query, k=10)
            top = np.sort(expected[expected > 0])[::-1][:10]
            np.testing.assert_allclose(hits.scores, top, rtol=1e-5, atol=1e-6)


def test_save_and_load_without_pickle(tmp_path: Path) -> None:
    texts = _texts()
    store = Bm25LexicalStore.build(texts, SETTINGS)
    store.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(BM25_FILES)
    for name in BM25_FILES:
        if name.endswith(".npy"):
            array = np.load(tmp_path / name, allow_pickle=False)
            assert array.dtype != object
        assert not (tmp_path / name).read_bytes().startswith(b"\x80")  # pickle protocol 2+
    loaded = Bm25LexicalStore.load(tmp_path, SETTINGS)
    assert loaded.same_index(store)
    for query in ["iron overload", "anemia children", "soy protein homocysteine"]:
        a, b = store.search(query, 5), loaded.search(query, 5)
        assert a.rows.tolist() == b.rows.tolist()
        np.testing.assert_array_equal(a.scores, b.scores)
    with pytest.raises(ValueError, match="built with"):
        Bm25LexicalStore.load(tmp_path, Bm25Settings(k1=1.2, b=0.75))


def test_search_batch_equals_search() -> None:
    store = Bm25LexicalStore.build(_texts(), SETTINGS)
    queries = ["iron overload", "zzz unknown", "Diamond-Blackfan anemia treatment"]
    for query, batch in zip(queries, store.search_batch(queries, 7), strict=True):
        single = store.search(query, 7)
        assert batch.rows.tolist() == single.rows.tolist()
        np.testing.assert_array_equal(batch.scores, single.scores)


def test_identical_corpora_give_identical_files(tmp_path: Path) -> None:
    texts = _texts()
    Bm25LexicalStore.build(texts, SETTINGS).save(tmp_path / "a")
    Bm25LexicalStore.build(texts, SETTINGS).save(tmp_path / "b")
    for name in BM25_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_settings_round_trip_and_errors() -> None:
    assert Bm25Settings.from_dict(SETTINGS.to_dict()) == SETTINGS
    assert SETTINGS.to_dict() == {
        "k1": 0.9,
        "b": 0.4,
        "method": "lucene",
        "stopwords": "english",
        "stemming": "snowball_english",
    }
    with pytest.raises(ValueError, match="expected one of: none, english"):
        Bm25Settings.from_dict({**SETTINGS.to_dict(), "stopwords": "french"})
    with pytest.raises(ValueError, match="b must be within"):
        Bm25Settings(b=1.5)
    with pytest.raises(ValueError, match="no passages"):
        Bm25LexicalStore.build([], SETTINGS)
