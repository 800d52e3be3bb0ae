"""eval.runs and eval.trec on the tiny BEIR fixture: real index and retrievers, MaxP, run files."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import pytrec_eval

from corpus.types import EvidenceTier, Passage
from eval.embedcache import CachedEmbedder
from eval.metrics import evaluate, trec_order
from eval.runs import (
    SystemKind,
    SystemSpec,
    beir_id,
    build_retriever,
    ensure_index,
    hybrid_config,
    load_beir,
    load_documents,
    maxp,
    parse_systems,
    run_systems,
)
from eval.trec import read_qrels, read_run, write_run
from index.load import PassageIndex
from retriever.hybrid import RetrievalConfig
from retriever.types import ScoredPassage
from tests.fixtures_eval import TINY_BEIR


def _passage(pid: str, doc: str) -> Passage:
    return Passage(
        id=pid,
        document_id=f"scifact:{doc}",
        text="t",
        start=0,
        end=1,
        section="",
        title="",
        tier=EvidenceTier.OTHER,
        source="s",
        licence="l",
        dataset="scifact",
    )


def test_maxp_by_hand() -> None:
    # d1 has passages scoring 0.9 and 0.4 -> 0.9; d2: 0.7 and 0.8 -> 0.8; d3: 0.1.
    hits = [
        ScoredPassage(_passage("a", "d1"), 0.9),
        ScoredPassage(_passage("b", "d2"), 0.7),
        ScoredPassage(_passage("c", "d2"), 0.8),
        ScoredPassage(_passage("d", "d1"), 0.4),
        ScoredPassage(_passage("e", "d3"), 0.1),
    ]
    assert maxp(hits, beir_id) == {"d1": 0.9, "d2": 0.8, "d3": 0.1}
    assert maxp(hits, beir_id, depth=2) == {"d1": 0.9, "d2": 0.8}
    assert beir_id(_passage("x", "4983")) == "4983"


def test_system_specs() -> None:
    assert SystemSpec.parse("dense") == SystemSpec("dense", SystemKind.DENSE)
    variant = SystemSpec.parse("hyb-w=hybrid:fusion=weighted:lexical_weight=0.3:policy.fused_k=20")
    assert variant.kind is SystemKind.HYBRID
    assert dict(variant.options) == {
        "fusion": "weighted",
        "lexical_weight": 0.3,
        "policy.fused_k": 20,
    }
    served = RetrievalConfig(lexical_depth=50, dense_depth=60)
    config = hybrid_config(variant.options, served)
    assert (config.fusion.value, config.lexical_weight, config.policy.fused_k) == (
        "weighted",
        0.3,
        20,
    )
    # What the variant does not name is served: the legs' depths, the other policy sizes.
    assert (config.lexical_depth, config.dense_depth) == (50, 60)
    assert config.policy.guideline_k == served.policy.guideline_k
    with pytest.raises(ValueError, match="unknown system"):
        SystemSpec.parse("splade")
    with pytest.raises(ValueError, match="repeated"):
        parse_systems("bm25,bm25")
    with pytest.raises(ValueError, match="bad hybrid option"):
        hybrid_config({"no_such_field": 1}, served)


def test_load_beir_split_errors(tmp_path: Path) -> None:
    data = load_beir(TINY_BEIR, "test")
    assert len(data.queries) == 6 and set(data.queries) == set(data.qrels)
    with pytest.raises(FileNotFoundError, match="splits present: \\['test'\\]"):
        load_beir(TINY_BEIR, "train")


def test_index_is_built_once(
    tiny_beir_index: PassageIndex, cached_embedder: CachedEmbedder, indexes_dir: Path
) -> None:
    again = ensure_index(load_documents(TINY_BEIR), indexes_dir, "eval_beir_tiny", cached_embedder)
    assert again.resolve() == tiny_beir_index.directory
    assert again.name.startswith("eval_beir_tiny-")


def test_runs_on_real_index_match_pytrec_eval(
    tiny_beir_index: PassageIndex, cached_embedder: CachedEmbedder, tmp_path: Path
) -> None:
    data = load_beir(TINY_BEIR, "test")
    qrels_before = copy.deepcopy(data.qrels)
    specs = parse_systems("bm25,dense,hybrid")
    retrievers = {s.name: build_retriever(s, tiny_beir_index, cached_embedder) for s in specs}
    results = run_systems(retrievers, data, passage_depth=40, doc_depth=10)
    assert data.qrels == qrels_before
    doc_ids = {
        line.split('"_id": "')[1].split('"')[0] for line in (TINY_BEIR / "corpus.jsonl").open()
    }
    for result in results:
        assert set(result.run) == set(data.queries)
        for docs in result.run.values():
            assert 0 < len(docs) <= 10
            assert set(docs) <= doc_ids  # the loader's "eval_beir_tiny:" prefix is gone
        # The run file round-trips, and pytrec_eval on the file gives our numbers.
        path = tmp_path / f"{result.name}.trec"
        write_run(result.run, path, tag=result.name)
        assert read_run(path) == {
            q: {d: round(s, 6) for d, s in docs.items()} for q, docs in result.run.items()
        }
        direct = pytrec_eval.RelevanceEvaluator(
            read_qrels(TINY_BEIR / "qrels" / "test.tsv"), {"ndcg_cut.10", "recall.10", "map"}
        ).evaluate(read_run(path))
        for qid in data.queries:
            assert result.metrics.per_query["nDCG@10"][qid] == pytest.approx(
                direct[qid]["ndcg_cut_10"], abs=1e-6
            )
            assert result.metrics.per_query["AP"][qid] == pytest.approx(
                direct[qid]["map"], abs=1e-6
            )
        # Every claim's own abstract is in the corpus: all three systems find it in the top 10.
        assert result.metrics.mean("R@10") == 1.0


def test_run_file_ranks_follow_trec_order(tmp_path: Path) -> None:
    run = {"q2": {"b": 1.0, "a": 1.0, "c": 2.0}, "q1": {"x": 0.5}}
    path = tmp_path / "r.trec"
    write_run(run, path, tag="sys")
    lines = path.read_text().splitlines()
    assert lines == [
        "q1 Q0 x 1 0.500000 sys",
        "q2 Q0 c 1 2.000000 sys",
        "q2 Q0 b 2 1.000000 sys",
        "q2 Q0 a 3 1.000000 sys",
    ]
    assert [d for d, _ in trec_order(run["q2"])] == ["c", "b", "a"]
    with pytest.raises(ValueError, match="one word"):
        write_run(run, path, tag="two words")
    # TREC-format qrels (4 columns) read the same as BEIR ones.
    trec_qrels = tmp_path / "qrels.txt"
    trec_qrels.write_text("q1 0 x 1\nq2 0 a 2\n")
    assert read_qrels(trec_qrels) == {"q1": {"x": 1}, "q2": {"a": 2}}
    assert evaluate(read_qrels(trec_qrels), read_run(path), ["RR@10"]).per_query["RR@10"][
        "q2"
    ] == pytest.approx(1 / 3)


def test_bm25_variant_rebuilds_scores_in_memory(
    tiny_beir_index: PassageIndex, cached_embedder: CachedEmbedder
) -> None:
    from eval.runs import retriever_settings

    base = build_retriever(SystemSpec.parse("bm25"), tiny_beir_index, cached_embedder)
    spec = SystemSpec.parse("bm25-classic=bm25:k1=1.5:b=0.75")
    variant = build_retriever(spec, tiny_beir_index, cached_embedder)
    assert retriever_settings(variant)["k1"] == 1.5
    assert tiny_beir_index.manifest.bm25.k1 != 1.5  # the index on disk keeps its own settings
    query = "Sepsis related mortality has risen from 2009 to 2014."
    a, b = base.retrieve(query, 5), variant.retrieve(query, 5)
    assert a[0].passage.id == b[0].passage.id  # the claim's abstract wins either way
    assert a[0].score != pytest.approx(b[0].score)  # but k1 and b change the scores
    with pytest.raises(ValueError, match="bad bm25 option"):
        build_retriever(SystemSpec.parse("x=bm25:k1=-1"), tiny_beir_index, cached_embedder)
    with pytest.raises(ValueError, match="takes no options"):
        build_retriever(SystemSpec.parse("x=dense:k=1"), tiny_beir_index, cached_embedder)


def test_document_granularity_variants(
    tiny_beir_index: PassageIndex, cached_embedder: CachedEmbedder
) -> None:
    from eval.runs import document_passages, retriever_settings

    documents = load_documents(TINY_BEIR)
    whole = document_passages(documents)
    assert [p.text for p in whole] == [d.text for d in documents]
    specs = parse_systems(
        "", ["bm25-doc=bm25:granularity=document", "dense-doc=dense:granularity=document"]
    )
    retrievers = {
        s.name: build_retriever(s, tiny_beir_index, cached_embedder, documents=documents)
        for s in specs
    }
    assert retriever_settings(retrievers["bm25-doc"])["granularity"] == "document"
    results = run_systems(retrievers, load_beir(TINY_BEIR, "test"), passage_depth=40, doc_depth=10)
    for result in results:
        # One unit per document, so the 10 best units are 10 documents (BM25 returns only
        # documents sharing a term with the claim).
        sizes = {len(docs) for docs in result.run.values()}
        assert sizes == {10} if result.name == "dense-doc" else max(sizes) <= 10
        assert result.metrics.mean("R@10") == 1.0
    with pytest.raises(ValueError, match="needs the documents"):
        build_retriever(specs[0], tiny_beir_index, cached_embedder)
    with pytest.raises(ValueError, match="unknown granularity"):
        build_retriever(
            SystemSpec.parse("x=bm25:granularity=sentence"), tiny_beir_index, cached_embedder
        )
