"""Regenerate corpus/data/demo.jsonl, the demo corpus, from ../shared/data.

The demo corpus is a topic-coherent subset: NIH health-authority pages from MedQuAD and research
abstracts from SciFact and PubMedQA about blood and anaemia, iron and ferritin, vitamin B12 and
folate, and the nutrition around them. Selection is by the keyword rules below plus explicit
exclusion lists, each entry with the reason it is left out, so that anyone can see why a record
is in or out and rebuild the same file. No text is written here: records are the loaders' output
in the generic JSONL format (verbatim text; MedQuAD has its XML indentation removed and the
characters it lost upstream restored where that is certain, see corpus/repair.py).

Usage:
    python scripts/build_demo_corpus.py                 # write corpus/data/demo.jsonl
    python scripts/build_demo_corpus.py --check         # exit 1 if the committed file differs
    python scripts/build_demo_corpus.py --stats         # also chunk it and count passages
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import re
import sys
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus.formats.beir import load_beir  # noqa: E402
from corpus.formats.jsonl import document_to_json  # noqa: E402
from corpus.formats.medquad import load_medquad  # noqa: E402
from corpus.formats.pubmedqa import load_pubmedqa  # noqa: E402
from corpus.types import Document, EvidenceTier  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "corpus" / "data" / "demo.jsonl"

# ---------------------------------------------------------------------------------------------
# Guideline tier: MedQuAD (NIH pages)

# Rule G1: pages whose *focus* (the condition) is an anaemia, iron, ferritin, B12, folate,
# haemochromatosis or thalassaemia topic.
CORE_FOCUS = re.compile(
    r"\b(an(a)?emi(a|as)|iron|ferritin|b12|cobalamin|folate|folic|hemochromatosis|"
    r"thalass(a)?emias?)\b",
    re.IGNORECASE,
)
# Rule G2: every answer of these blood and nutrition pages (by exact focus), which the reader of
# an anaemia answer is likely to follow up with: blood counts and disorders, transfusion,
# bleeding, and the general nutrition and supplement pages.
BLOOD_AND_NUTRITION_FOCI = frozenset(
    {
        ("MPlusHealthTopics", "Blood"),
        ("MPlusHealthTopics", "Blood Count Tests"),
        ("MPlusHealthTopics", "Blood Disorders"),
        ("MPlusHealthTopics", "Blood Transfusion and Donation"),
        ("MPlusHealthTopics", "Bleeding"),
        ("MPlusHealthTopics", "Bleeding Disorders"),
        ("MPlusHealthTopics", "Bone Marrow Diseases"),
        ("MPlusHealthTopics", "Gastrointestinal Bleeding"),
        ("MPlusHealthTopics", "Platelet Disorders"),
        ("MPlusHealthTopics", "Hemophilia"),
        ("MPlusHealthTopics", "Nutrition"),
        ("MPlusHealthTopics", "Nutrition for Seniors"),
        ("MPlusHealthTopics", "Malnutrition"),
        ("MPlusHealthTopics", "Child Nutrition"),
        ("MPlusHealthTopics", "Toddler Nutrition"),
        ("MPlusHealthTopics", "Infant and Newborn Nutrition"),
        ("MPlusHealthTopics", "Vitamins"),
        ("MPlusHealthTopics", "B Vitamins"),
        ("MPlusHealthTopics", "Dietary Supplements"),
        ("MPlusHealthTopics", "Vegetarian Diet"),
        ("MPlusHealthTopics", "Pregnancy and Nutrition"),
        ("MPlusHealthTopics", "Celiac Disease"),
        ("MPlusHealthTopics", "Weight Loss Surgery"),
        ("NHLBI", "Sickle Cell Disease"),
        ("NHLBI", "Rh Incompatibility"),
        ("NHLBI", "Thrombocytopenia"),
        ("NHLBI", "Immune Thrombocytopenia"),
        ("NHLBI", "Polycythemia Vera"),
        ("NHLBI", "Hemophilia"),
        ("NHLBI", "Von Willebrand Disease"),
        ("NHLBI", "Thrombotic Thrombocytopenic Purpura"),
        ("NHLBI", "Thrombocythemia and Thrombocytosis"),
        ("NHLBI", "Disseminated Intravascular Coagulation"),
        ("NIDDK", "Hemolytic Uremic Syndrome in Children"),
        # Digestive causes of iron, B12 and folate deficiency: every answer of these pages.
        ("NIDDK", "Celiac Disease"),
        ("NIDDK", "Gastritis"),
        ("NIDDK", "Short Bowel Syndrome"),
        ("NIDDK", "Crohn's Disease"),  # the ileum absorbs B12; bleeding causes iron deficiency
        ("GARD", "Autoimmune atrophic gastritis"),
        ("CDC", "Parasites - Hookworm"),
    }
)
# Rule G3: pages on a neighbouring topic (digestion, kidney diet, pregnancy, periods) whose
# answer mentions one of these nutrients or deficiencies at least once.
NUTRIENT_TERMS = re.compile(
    r"\b(vitamin b-?12|b12|cobalamin|ferritin|iron[- ]deficien\w*|pernicious|folic acid|folate|"
    r"iron supplements?|iron-rich)\b",
    re.IGNORECASE,
)
NEIGHBOUR_FOCI = frozenset(
    {
        # (source, focus) exactly as in medquad_qa.jsonl
        ("MPlusHealthTopics", "Preconception Care"),
        ("MPlusHealthTopics", "Neural Tube Defects"),
        ("MPlusHealthTopics", "Menstruation"),
        ("NIDDK", "Kidney Failure: Eat Right to Feel Right on Hemodialysis"),
        ("NIDDK", "Nutrition for Advanced Chronic Kidney Disease in Adults"),
        ("NIDDK", "Ulcerative Colitis"),
        ("NIDDK", "What I need to know about Crohn's Disease"),
        ("NHLBI", "Restless Legs Syndrome"),
        ("GARD", "Imerslund-Grasbeck syndrome"),
        ("GHR", "Imerslund-Grsbeck syndrome"),
    }
)
# Foci that rule G1 catches but that are not about iron status, B12 or folate; mostly rare
# inherited disorders whose long genetic pages would crowd out the common questions.
EXCLUDED_FOCI = {
    "myopathy with deficiency of iron-sulfur cluster assembly enzyme": "iron-sulfur cluster "
    "enzyme in muscle, not iron status",
    "Neurodegeneration with Brain Iron Accumulation": "neurological movement disorder",
    "neuroferritinopathy": "neurological movement disorder (ferritin light-chain gene), not a "
    "ferritin blood result",
    "Neuroferritinopathy": "neurological movement disorder, not a ferritin blood result",
    "Fanconi anemia": "inherited bone-marrow failure and cancer predisposition",
    "Fanconi Anemia": "inherited bone-marrow failure and cancer predisposition",
    "Diamond-Blackfan anemia": "inherited ribosomopathy",
    "Diamond-Blackfan anemia 3": "inherited ribosomopathy",
    "congenital dyserythropoietic anemia": "rare inherited anaemia",
    "Congenital dyserythropoietic anemia type 2": "rare inherited anaemia",
    "Congenital dyserythropoietic anemia type 3": "rare inherited anaemia",
    "dyserythropoietic anemia and thrombocytopenia": "rare inherited anaemia",
    "Anemia sideroblastic and spinocerebellar ataxia": "rare neurological syndrome",
    "X-linked sideroblastic anemia and ataxia": "rare neurological syndrome",
    "Anemia due to Adenosine triphosphatase deficiency": "rare inherited enzyme defect",
    "Nonspherocytic hemolytic anemia due to hexokinase deficiency": "rare inherited enzyme defect",
    "Hemolytic anemia lethal congenital nonspherocytic with genital and other abnormalities": (
        "rare lethal syndrome"
    ),
    "Thiamine responsive megaloblastic anemia syndrome": "thiamine (B1), not B12 or folate",
    "thiamine-responsive megaloblastic anemia syndrome": "thiamine (B1), not B12 or folate",
    "Sideroblastic anemia pyridoxine-refractory autosomal recessive": "rare inherited form",
}
# GARD "symptoms" answers that are only a Human Phenotype Ontology table (a list of features
# with frequencies and a boilerplate explanation) answer no question in the demo's scope.
HPO_TABLE = "The Human Phenotype Ontology provides the following list"


def select_medquad(documents: Iterable[Document], raw: dict[str, dict[str, str]]) -> list[Document]:
    selected = []
    for document in documents:
        record = raw[document.id]
        source, focus = record["source"], record["focus"] or ""
        if focus in EXCLUDED_FOCI or HPO_TABLE in document.text:
            continue
        core = bool(CORE_FOCUS.search(focus)) or (source, focus) in BLOOD_AND_NUTRITION_FOCI
        neighbour = (source, focus) in NEIGHBOUR_FOCI and bool(NUTRIENT_TERMS.search(document.text))
        if core or neighbour:
            selected.append(document)
    return selected


# ---------------------------------------------------------------------------------------------
# Research tier: SciFact and PubMedQA abstracts

# Rule R1: title or abstract names one of these. Haemoglobin alone is not enough (it mostly
# means HbA1c in diabetes trials); homocysteine is in, as the blood marker of B12 and folate
# status; transfusion is in, as the treatment of severe anaemia.
RESEARCH_TERMS = re.compile(
    r"\b(ferritin|vitamin b-?12|b12|cobalamins?|pernicious|iron[- ]deficien\w*|iron status|"
    r"iron supplement\w*|iron overload|hepcidin|folate|folic acid|an(a)?emi(a|as|c)|"
    r"thalass(a)?emi\w*|homocyst(e|ei)ine|transfusions?)\b",
    re.IGNORECASE,
)
# Records rule R1 catches that are off topic, by document id, with the reason.
EXCLUDED_RESEARCH = {
    "scifact:463533": "quality of life in many chronic conditions; anaemia is one of them",
    "scifact:3935126": "CAR-T lymphoma trial; anaemia only as an adverse event",
    "scifact:4312169": "glioblastoma genetics; 'thalassaemia' is in the ATRX gene's name",
    "scifact:4993011": "cancer genetics; 'thalassemia' is in the ATRX gene's name",
    "scifact:4464565": "gene-expression array in a colon cancer cell line",
    "scifact:6315132": "erythroid transcriptome of a rare KLF1 mutation",
    "scifact:6415816": "porphyrias: haem synthesis disorders, not iron status",
    "scifact:6812319": "DNA repair biology (Fanconi anaemia pathway)",
    "scifact:8083310": "erythroid differentiation in a myelodysplasia mouse model",
    "scifact:8385277": "Fanconi anaemia leukaemia genomics",
    "scifact:8925851": "review of ribosomopathies (Diamond-Blackfan anaemia)",
    "scifact:9254550": "anaemia as a side outcome of antimalarial treatment",
    "scifact:10128893": "stem-cell transplant survival in thalassaemia major",
    "scifact:10326242": "Fanconi anaemia gene discovery",
    "scifact:10526279": "Fanconi anaemia drug mechanism",
    "scifact:12240507": "Diamond-Blackfan anaemia mouse model",
    "scifact:12903921": "ferritin as an oxidative-stress marker in a rat leukaemia model",
    "scifact:14717500": "genome-wide association methodology",
    "scifact:18174210": "malaria protection by thalassaemia",
    "scifact:18676539": "Fanconi anaemia DNA repair",
    "scifact:19824183": "malaria epidemiology",
    "scifact:20886584": "taxane neurotoxicity genetics",
    "scifact:22482024": "Diamond-Blackfan anaemia gene discovery",
    "scifact:25388309": "chemistry of a HIF prolyl-hydroxylase inhibitor",
    "scifact:25420421": "white cells and platelets in malaria, not anaemia",
    "scifact:25830701": "developmental biology of erythropoietin",
    "scifact:26107000": "physical activity in COPD",
    "scifact:26474812": "mathematical model of malaria infections",
    "scifact:35724562": "blood pressure in children with kidney disease",
    "scifact:35768199": "microbiology of a methanogen (folic acid in the medium)",
    "scifact:36642096": "type 1 diabetes immunotherapy",
    "scifact:37731372": "review of pregnancy on dialysis; anaemia one of many topics",
    "scifact:39506601": "erythroid transcriptome (KLF1) in mice",
    "scifact:42373943": "telling malaria from other fevers",
    "scifact:45218443": "malaria protection by thalassaemia",
    "scifact:2488880": "infection outcomes by sex; transfusion incidental",
    "scifact:2829179": "pre-eclampsia pathways; homocysteine incidental",
    "scifact:13514898": "colloid fluids in cardiac surgery",
    "scifact:23400191": "coarctation of the aorta; homocysteine incidental",
    "scifact:25300664": "atherosclerosis in a mouse kidney-failure model",
    "scifact:36288526": "colloid fluids and bleeding in cardiac surgery",
    "scifact:38735355": "ventilation for acute chest syndrome",
    "pubmedqa:18847643": "anticoagulation after trauma",
    "pubmedqa:20871246": "pelvic fracture classification",
    "pubmedqa:10381996": "acute chest syndrome diagnosis",
    "pubmedqa:11882828": "fibrinolysis pharmacology",
    "pubmedqa:19198736": "retinopathy of prematurity; transfusion incidental",
    "pubmedqa:16147837": "obstetric outcomes of grandmultiparity",
    "pubmedqa:23831910": "enteroscopy technique; anaemia only as an indication",
    "pubmedqa:23337545": "pneumonia immunology; anaemia incidental",
    "pubmedqa:26965932": "coronary stents in bleeding-risk patients",
    "pubmedqa:24614851": "spinal cord disease; B12 measured only to exclude deficiency",
}


# Every research record kept above was read by hand. Where the design that its abstract reports
# differs from corpus.design.classify_design's guess, the demo records the reviewed design.
DESIGN_REVIEW = {
    "scifact:3215494": (EvidenceTier.OTHER, "narrative review ('This article reviews')"),
    "scifact:18557974": (
        EvidenceTier.OBSERVATIONAL,
        "crossover diet study, randomisation not stated",
    ),
    "scifact:24042919": (
        EvidenceTier.CASE_REPORT,
        "one child, with laboratory studies of her cells",
    ),
    "scifact:24049225": (EvidenceTier.OBSERVATIONAL, "physiology measurements in people"),
    "scifact:25439264": (EvidenceTier.PRECLINICAL, "cultured trophoblast cells"),
    "scifact:25937484": (EvidenceTier.OBSERVATIONAL, "lavage cells of smokers and non-smokers"),
    "scifact:27162821": (EvidenceTier.OBSERVATIONAL, "reference curves from population samples"),
    "scifact:41646286": (EvidenceTier.PRECLINICAL, "cultured trophoblast cells"),
    "scifact:42441846": (EvidenceTier.OBSERVATIONAL, "genotype and nutrient levels in patients"),
    "pubmedqa:22519710": (EvidenceTier.OTHER, "simulation of trial power"),
}


def review_design(document: Document) -> Document:
    reviewed = DESIGN_REVIEW.get(document.id)
    return replace(document, tier=reviewed[0]) if reviewed else document


def _research_text(document: Document) -> str:
    return f"{document.title} {document.text}"


def select_research(documents: Iterable[Document]) -> list[Document]:
    return [
        review_design(document)
        for document in documents
        if document.id not in EXCLUDED_RESEARCH and RESEARCH_TERMS.search(_research_text(document))
    ]


# ---------------------------------------------------------------------------------------------
# Duplicates: one page must not be cited twice under two spellings

# Two records are the same page when they share a publisher and a title that folds to the same
# letters (case, accents and punctuation aside: "Imerslund-Gräsbeck" = "Imerslund-Grasbeck") and
# their folded texts are near-identical: at least this share of their word trigrams in common
# (Jaccard). Boilerplate answers that GHR repeats on many pages ("This condition is inherited in
# an autosomal recessive pattern...") have different titles, so they are different pages and
# stay; the answers of one page share its title but not their text.
DUPLICATE_SIMILARITY = 0.9
# Near-duplicates the build drops, by document id: (the id it keeps, the reason). The build
# stops if it finds a near-duplicate pair that is not listed here. Checked after the MedQuAD
# repairs unified spellings: "Imerslund-Grasbeck" (GARD, 7 occurrences in the demo) and
# "Imerslund-Gräsbeck" (GHR, 13, written "Grsbeck" before the repair) are two publishers' pages
# with different text (GARD 0003154 #1 and #3, GHR 0000513 #1, #3 and #5), not one page twice;
# no demo records are near-duplicates, so nothing is dropped.
DUPLICATES: dict[str, tuple[str, str]] = {}


def fold(text: str) -> str:
    """``text`` reduced to lower-case ASCII words, for comparing spellings ("Gräsbeck")."""
    letters = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[a-z0-9]+", letters.casefold()))


def similarity(a: str, b: str) -> float:
    """The Jaccard similarity of the word trigrams of two folded texts (1.0: the same words)."""

    def trigrams(text: str) -> set[tuple[str, ...]]:
        words = fold(text).split()
        return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}

    first, second = trigrams(a), trigrams(b)
    return len(first & second) / len(first | second)


def near_duplicates(
    documents: Sequence[Document], threshold: float = DUPLICATE_SIMILARITY
) -> list[tuple[Document, Document]]:
    """Pairs ``(earlier, later)`` with one publisher, one folded title and near-equal text."""
    groups: dict[tuple[str, str], list[Document]] = collections.defaultdict(list)
    for document in documents:
        groups[(document.source, fold(document.title))].append(document)
    return [
        (earlier, later)
        for group in groups.values()
        for i, earlier in enumerate(group)
        for later in group[i + 1 :]
        if similarity(earlier.text, later.text) >= threshold
    ]


def drop_duplicates(documents: list[Document]) -> list[Document]:
    """``documents`` without the ids listed in :data:`DUPLICATES`.

    Raises:
        SystemExit: a near-duplicate pair of which neither record is listed as the other's
            duplicate.
    """

    def listed(dropped: Document, kept: Document) -> bool:
        return DUPLICATES.get(dropped.id, ("",))[0] == kept.id

    unlisted = [
        (a.id, b.id) for a, b in near_duplicates(documents) if not (listed(b, a) or listed(a, b))
    ]
    if unlisted:
        raise SystemExit(f"near-duplicate records not listed in DUPLICATES: {unlisted}")
    return [document for document in documents if document.id not in DUPLICATES]


# ---------------------------------------------------------------------------------------------


def build() -> list[Document]:
    medquad_path = DATA / "medquad" / "medquad_qa.jsonl"
    raw = {}
    with medquad_path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            raw[f"medquad:{record['uid']}"] = record
    guidance = select_medquad(load_medquad(medquad_path).documents, raw)
    all_scifact = load_beir(DATA / "scifact").documents
    all_pubmedqa = load_pubmedqa(DATA / "pubmedqa" / "ori_pqal.json").documents
    scifact, pubmedqa = select_research(all_scifact), select_research(all_pubmedqa)
    # Keep the lists honest: every id they name must exist (exclusions) or be selected (review).
    unknown = set(EXCLUDED_RESEARCH) - {d.id for d in (*all_scifact, *all_pubmedqa)}
    unknown |= set(DESIGN_REVIEW) - {d.id for d in (*scifact, *pubmedqa)}
    unknown |= set(DUPLICATES) - {d.id for d in (*guidance, *scifact, *pubmedqa)}
    if unknown:
        raise SystemExit(f"exclusion or review list names ids not selected: {sorted(unknown)}")
    # Guidance first, then research; each in its source order, so the file diffs cleanly.
    return drop_duplicates(guidance + scifact + pubmedqa)


def render(documents: list[Document]) -> str:
    return "".join(
        json.dumps(document_to_json(document), ensure_ascii=False, sort_keys=False) + "\n"
        for document in documents
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    parser.add_argument("--stats", action="store_true", help="chunk and count passages")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING)

    documents = build()
    text = render(documents)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date; run scripts/build_demo_corpus.py")
            return 1
        print(f"{args.out} is up to date ({len(documents)} documents)")
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=args.out.parent, delete=False, suffix=".tmp"
        ) as handle:
            handle.write(text)
        os.chmod(handle.name, 0o644)  # NamedTemporaryFile creates 0600
        Path(handle.name).replace(args.out)
        print(f"wrote {args.out}: {len(documents)} documents, {len(text.encode()):,} bytes")

    by_dataset = collections.Counter(d.dataset for d in documents)
    by_source = collections.Counter(d.source for d in documents)
    print("documents by dataset:", dict(by_dataset))
    print("documents by source:", dict(by_source.most_common()))
    if args.stats:
        from corpus.chunking import chunk_documents

        passages = chunk_documents(documents)
        print(f"passages: {len(passages)}")
        for field in ("dataset", "tier", "source"):
            counts = collections.Counter(
                getattr(p, field).value if field == "tier" else getattr(p, field) for p in passages
            )
            print(f"passages by {field}:", dict(counts.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
