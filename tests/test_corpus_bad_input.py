"""Every kind of bad corpus input gets one clear error naming the file, the line and the problem.

The bad files are real sample records with one thing broken, written to a temporary folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus.formats.jsonl import document_to_json, load_jsonl
from corpus.formats.medquad import load_medquad
from corpus.formats.records import MAX_RECORD_BYTES
from corpus.loaders import CorpusError, load_corpus

DATA = Path(__file__).parent / "data" / "corpus"


def _records(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (DATA / name).open(encoding="utf-8")]


def _generic() -> list[dict[str, object]]:
    return _records("generic_sample.jsonl")


def _write(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _error(path: Path, fmt: str | None = None, **kwargs: object) -> str:
    with pytest.raises(CorpusError) as raised:
        load_corpus(path, fmt, **kwargs)  # type: ignore[arg-type]
    return str(raised.value)


# --- the file as a whole -----------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.jsonl"
    assert _error(path) == f"{path}: no such file or directory"
    assert _error(path, "jsonl") == f"{path}: no such file or directory"


@pytest.mark.parametrize("content", [b"", b"\n\n   \n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    assert _error(path, "jsonl") == f"{path}: file is empty (no records)"
    assert _error(path) == f"{path}: file is empty (no records)"


def test_empty_pubmedqa_and_markdown(tmp_path: Path) -> None:
    json_path = tmp_path / "ori_pqal.json"
    json_path.write_text("{}")
    assert _error(json_path) == f"{json_path}: file is empty (no records)"
    md_path = tmp_path / "blank.md"
    md_path.write_text("\n")
    assert _error(md_path) == f"{md_path}: file is empty (no records)"


def test_folder_given_for_a_file_format(tmp_path: Path) -> None:
    assert _error(tmp_path, "jsonl") == f"{tmp_path}: a jsonl corpus is a file, not a folder"
    assert _error(tmp_path) == (
        f"{tmp_path}: cannot tell the format of this folder (no corpus.jsonl, no .md files)"
    )


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Iron is a mineral.\n")
    assert _error(path).startswith(
        f"{path}: cannot tell the format from the name; pass one of: beir, medquad, pubmedqa"
    )


# --- one bad line ------------------------------------------------------------------------------


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    records = _generic()
    path = tmp_path / "mine.jsonl"
    path.write_text(
        json.dumps(records[0]) + "\n" + json.dumps(records[1])[:-1] + ",}\n", encoding="utf-8"
    )
    message = _error(path, "jsonl")
    assert message.startswith(f"{path}:2: invalid JSON: ")
    assert "(column " in message


def test_a_record_that_is_not_an_object(tmp_path: Path) -> None:
    path = _write(tmp_path / "mine.jsonl", [_generic()[0], ["id", "text"]])
    assert _error(path, "jsonl") == f"{path}:2: expected a JSON object, got an array"


def test_missing_required_field(tmp_path: Path) -> None:
    records = _generic()
    del records[2]["text"]
    path = _write(tmp_path / "mine.jsonl", records)
    assert _error(path) == f"{path}:3: missing required field 'text'"


def test_wrong_field_type(tmp_path: Path) -> None:
    records = _generic()
    records[1]["title"] = 42
    path = _write(tmp_path / "mine.jsonl", records)
    assert _error(path) == f"{path}:2: field 'title' must be a string, got a number"


def test_empty_text(tmp_path: Path) -> None:
    records = _generic()
    records[0]["text"] = "   "
    path = _write(tmp_path / "mine.jsonl", records)
    assert _error(path) == f"{path}:1: field 'text' is empty"


def test_unknown_tier(tmp_path: Path) -> None:
    records = _generic()
    records[1]["tier"] = "meta-analysis"
    path = _write(tmp_path / "mine.jsonl", records)
    assert _error(path) == (
        f"{path}:2: unknown evidence tier 'meta-analysis'; expected one of: guideline, "
        "systematic_review, rct, observational, case_report, preclinical, other "
        "(or 'research' to classify the design)"
    )


def test_unknown_field_catches_a_typo(tmp_path: Path) -> None:
    records = _generic()
    records[0]["license"] = records[0].pop("licence")
    path = _write(tmp_path / "mine.jsonl", records)
    assert _error(path).startswith(f"{path}:1: unknown field(s) 'license'; allowed: dataset, id,")


def test_bad_year_and_mesh(tmp_path: Path) -> None:
    records = _generic()
    records[0]["year"] = "last spring"
    path = _write(tmp_path / "year.jsonl", records)
    assert _error(path) == f"{path}:1: field 'year' must be a four-digit year, got 'last spring'"
    records = _generic()
    records[0]["mesh"] = "Humans"
    path = _write(tmp_path / "mesh.jsonl", records)
    assert _error(path) == f"{path}:1: field 'mesh' must be a list of strings"


def test_section_offsets_outside_the_text(tmp_path: Path) -> None:
    records = _generic()
    text_length = len(str(records[0]["text"]))
    records[0]["sections"] = [{"heading": "RESULTS", "start": 0, "end": text_length + 5}]
    path = _write(tmp_path / "mine.jsonl", records)
    assert _error(path) == (
        f"{path}:1: sections[0] spans [0, {text_length + 5}), which is not inside the text "
        f"(length {text_length}) after the previous section (ending at 0)"
    )


def test_duplicate_ids(tmp_path: Path) -> None:
    records = _generic()
    path = _write(tmp_path / "mine.jsonl", [records[0], records[1], records[0]])
    assert _error(path) == f"{path}:3: duplicate document id 'pubmedqa:25304452' (first on line 1)"


def test_non_utf8_bytes(tmp_path: Path) -> None:
    lines = (DATA / "generic_sample.jsonl").read_bytes().splitlines(keepends=True)
    broken = lines[1].replace(b"Hepcidin", b"Hepc\xefdin", 1)  # Latin-1 i-diaeresis
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(lines[0] + broken + lines[2])
    column = broken.index(b"\xef") + 1
    assert _error(path) == f"{path}:2: not valid UTF-8 (byte 0xef at column {column})"


def test_non_utf8_markdown_and_pubmedqa(tmp_path: Path) -> None:
    md = tmp_path / "iron.md"
    md.write_bytes(
        (DATA / "guidelines" / "iron.md").read_bytes().replace(b"mineral", b"min\xe9ral")
    )
    assert _error(md) == f"{md}:9: not valid UTF-8 (byte 0xe9)"  # the "Summary" line
    pq = tmp_path / "ori_pqal.json"
    pq.write_bytes((DATA / "pubmedqa_sample.json").read_bytes().replace(b"gluten", b"gl\xfcten", 1))
    message = _error(pq)
    assert message.startswith(f"{pq}:3: not valid UTF-8")


@pytest.mark.parametrize(
    ("field", "value"), [("text", "iron \ud800 deficiency"), ("mesh", ["\udfff"])]
)
def test_a_lone_surrogate_names_the_record(tmp_path: Path, field: str, value: object) -> None:
    """JSON can spell half of a UTF-16 pair ("\\ud800"); no UTF-8 text can hold one, so the
    index could not write it."""
    records = _generic()
    records[1][field] = value
    path = _write(tmp_path / "mine.jsonl", records)
    where = "U+D800 at character 5" if field == "text" else "U+DFFF at character 0"
    assert _error(path) == (
        f"{path}:2: document {records[1]['id']!r}: field {field!r} is not valid Unicode "
        f"(a lone surrogate {where})"
    )


def test_a_lone_surrogate_in_pubmedqa_names_the_entry(tmp_path: Path) -> None:
    data = json.loads((DATA / "pubmedqa_sample.json").read_text())
    pmid = "21276532"
    data[pmid]["QUESTION"] = "Is \ud800 iron low?"
    path = tmp_path / "ori_pqal.json"
    path.write_text(json.dumps(data, indent=4))
    line = path.read_text().splitlines().index(f'    "{pmid}": {{') + 1
    assert _error(path) == (
        f"{path}:{line}: entry {pmid!r}: document 'pubmedqa:{pmid}': field 'title' is not valid "
        "Unicode (a lone surrogate U+D800 at character 3)"
    )


def test_a_huge_line_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    records = _generic()
    huge = dict(records[1], text="iron " * (MAX_RECORD_BYTES // 5 + 10))
    path = _write(tmp_path / "mine.jsonl", [records[0], huge, records[2]])
    assert _error(path) == f"{path}:2: line is longer than the limit of 1,000,000 bytes"
    result = load_corpus(path, skip_bad=True)
    assert [d.id for d in result.documents] == [records[0]["id"], records[2]["id"]]
    # The limit is a parameter.
    with pytest.raises(CorpusError, match=r":1: line is longer than the limit of 100 bytes"):
        load_jsonl(DATA / "generic_sample.jsonl", max_record_bytes=100)


# --- all-or-nothing and skip_bad ---------------------------------------------------------------


def test_loading_is_all_or_nothing(tmp_path: Path) -> None:
    records = _generic()
    del records[2]["source"]
    path = _write(tmp_path / "mine.jsonl", records)
    with pytest.raises(CorpusError) as raised:
        load_corpus(path)
    assert (raised.value.file, raised.value.line) == (path, 3)
    assert raised.value.message == "missing required field 'source'"


def test_skip_bad_skips_and_counts(tmp_path: Path) -> None:
    records = _generic()
    del records[2]["source"]
    path = _write(tmp_path / "mine.jsonl", [*records, ["not", "a", "record"]])
    result = load_corpus(path, skip_bad=True)
    assert [d.id for d in result.documents] == [records[0]["id"], records[1]["id"]]
    assert [str(error) for error in result.skipped] == [
        f"{path}:3: missing required field 'source'",
        f"{path}:4: expected a JSON object, got an array",
    ]


def test_skip_bad_with_nothing_left(tmp_path: Path) -> None:
    path = _write(tmp_path / "mine.jsonl", [[1], [2]])
    assert _error(path, "jsonl", skip_bad=True) == (
        f"{path}: no valid records (2 skipped as malformed; the first: "
        f"{path}:1: expected a JSON object, got an array)"
    )


# --- format-specific problems ------------------------------------------------------------------


def test_medquad_bad_records(tmp_path: Path) -> None:
    records = _records("medquad_sample.jsonl")
    records[1]["answer"] = ["not", "text"]
    del records[3]["uid"]
    path = _write(tmp_path / "medquad_qa.jsonl", records)
    assert _error(path, "medquad") == f"{path}:2: field 'answer' must be a string, got an array"
    result = load_medquad(path, skip_bad=True)
    assert len(result.documents) == 2
    assert [str(e) for e in result.skipped] == [
        f"{path}:2: field 'answer' must be a string, got an array",
        f"{path}:4: missing required field 'uid'",
    ]


def test_beir_bad_records(tmp_path: Path) -> None:
    records = _records("scifact/corpus.jsonl")
    records[0]["text"] = ""
    folder = tmp_path / "scifact"
    folder.mkdir()
    path = _write(folder / "corpus.jsonl", records)
    assert _error(folder) == f"{path}:1: field 'text' is empty"
    del records[0]["_id"]
    _write(path, records)
    assert _error(folder) == f"{path}:1: missing required field '_id'"


def test_pubmedqa_bad_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ori_pqal.json"
    text = (DATA / "pubmedqa_sample.json").read_text()
    path.write_text(text.replace('"YEAR": "2015",', '"YEAR": "2015"', 1))
    message = _error(path)
    line = text.splitlines().index(' "25304452": {') + 1
    assert message.startswith(f"{path}:")
    assert "invalid JSON: Expecting ',' delimiter" in message
    assert int(message.split(":")[1]) > line


def test_pubmedqa_bad_entries_name_the_entry_line(tmp_path: Path) -> None:
    data = json.loads((DATA / "pubmedqa_sample.json").read_text())
    data["21276532"]["LABELS"] = data["21276532"]["LABELS"][:-1]
    del data["18616781"]["CONTEXTS"]
    path = tmp_path / "ori_pqal.json"
    path.write_text(json.dumps(data, indent=4))
    lines = path.read_text().splitlines()
    second = lines.index('    "21276532": {') + 1
    third = lines.index('    "18616781": {') + 1
    contexts = len(data["21276532"]["CONTEXTS"])
    assert _error(path) == (
        f"{path}:{second}: entry '21276532': 'LABELS' has {contexts - 1} items but 'CONTEXTS' "
        f"has {contexts}"
    )
    result = load_corpus(path, skip_bad=True)
    assert [d.id for d in result.documents] == ["pubmedqa:25304452"]
    assert str(result.skipped[1]) == (
        f"{path}:{third}: entry '18616781': field 'CONTEXTS' must be a non-empty list of strings"
    )


def test_pubmedqa_top_level_must_be_an_object(tmp_path: Path) -> None:
    path = tmp_path / "ori_pqal.json"
    path.write_text(json.dumps([{"QUESTION": "Is it?"}]))
    assert _error(path) == f"{path}:1: expected a JSON object of PMID -> entry, got an array"


def _markdown(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "leaflet.md"
    path.write_text(text, encoding="utf-8")
    return path


BODY = "# Iron\n\nIron is a mineral that our bodies need for many functions.\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BODY, "1: missing YAML front matter: the file must start with a '---' line"),
        ("---\ntier: guideline\n" + BODY, "1: front matter is not closed by a '---' line"),
        (
            "---\ntier: guideline\nsource: [NHLBI\n---\n" + BODY,
            "3: invalid YAML front matter: expected ',' or ']', but got '<stream end>'",
        ),
        ("---\n- guideline\n---\n" + BODY, "2: front matter must be a mapping, got an array"),
        (
            "---\nsource: NHLBI\nlicence: CC BY 4.0\n---\n" + BODY,
            "1: missing required field 'tier'",
        ),
        (
            "---\ntier: leaflet\nsource: NHLBI\nlicence: CC BY 4.0\n---\n" + BODY,
            "1: unknown evidence tier 'leaflet'; expected one of: guideline, systematic_review, "
            "rct, observational, case_report, preclinical, other (or 'research' to classify the "
            "design)",
        ),
        (
            "---\ntier: guideline\nsource: NHLBI\nlicence: CC BY 4.0\n---\nIron is a mineral.\n",
            "1: no title: add 'title:' to the front matter or a '# Title' line",
        ),
        (
            "---\ntier: guideline\nsource: NHLBI\nlicence: CC BY 4.0\n---\n# Iron\n\n",
            "1: the document has no text after the front matter",
        ),
        (
            "---\ntier: guideline\nsource: NHLBI\nlicense: CC BY 4.0\n---\n" + BODY,
            "1: unknown front matter field(s) 'license'; allowed: dataset, id, licence, mesh, "
            "source, tier, title, url, year",
        ),
        (
            "---\ntier: guideline\nsource: NHLBI\nlicence: CC BY 4.0\nyear: 2015-06-01\n---\n"
            + BODY,
            "1: field 'year' must be a four-digit year, got datetime.date(2015, 6, 1)",
        ),
        (
            '---\ntier: guideline\nsource: "NHLBI \\ud800"\nlicence: CC BY 4.0\n---\n' + BODY,
            "1: document 'md:leaflet': field 'source' is not valid Unicode (a lone surrogate "
            "U+D800 at character 6)",
        ),
    ],
)
def test_markdown_bad_files(tmp_path: Path, text: str, message: str) -> None:
    path = _markdown(tmp_path, text)
    assert _error(path) == f"{path}:{message}"


def test_markdown_folder_skips_bad_files(tmp_path: Path) -> None:
    folder = tmp_path / "leaflets"
    folder.mkdir()
    (folder / "iron.md").write_bytes((DATA / "guidelines" / "iron.md").read_bytes())
    (folder / "broken.md").write_text(BODY)
    with pytest.raises(CorpusError, match="broken.md:1: missing YAML front matter"):
        load_corpus(folder)
    result = load_corpus(folder, skip_bad=True)
    assert [d.id for d in result.documents] == ["md:iron"]
    assert [e.file.name for e in result.skipped] == ["broken.md"]


def test_generic_record_from_a_document_is_valid(tmp_path: Path) -> None:
    # The error tests above start from records the loader accepts as they are.
    documents = load_corpus(DATA / "generic_sample.jsonl").documents
    path = _write(tmp_path / "copy.jsonl", [document_to_json(d) for d in documents])
    assert load_corpus(path).documents == documents
