"""The widget's pure helpers, run in Chromium: the event-stream parser and the URL filter.

The widget reads Server-Sent Events from fetch() (EventSource cannot POST), so it parses the
stream itself. Network chunks split lines, CRLFs and UTF-8 characters anywhere: every split of a
realistic stream must give the same events.
"""

from __future__ import annotations

import json

import pytest

from tests.fixtures_ui import WIDGET_JS, browser, page  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.browser

EVENTS = [
    (
        "retrieval",
        {
            "standalone_query": "ferritin ≥ 30 µg/L before iron?",
            "topic_shift": False,
            "passages": 8,
        },
    ),
    ("section", {"kind": "bottom_line", "title": "Bottom line"}),
    (
        "sentence",
        {
            "section": "bottom_line",
            "text": "Café-au-lait « spots » — rarely [sic].",
            "citations": [1, 2],
            "design": None,
        },
    ),
    ("done", {"answer": {"question": "q"}, "conversation_id": "c1"}),
]

# Reads every event of a byte stream, once per way of cutting it into network chunks.
PARSE = """
async ([bytes, splits]) => {
  const parse = customElements.get("followup-chat").parseEventStream;
  const data = new Uint8Array(bytes);
  const results = [];
  for (const cuts of splits) {
    const bounds = [0, ...cuts, data.length];
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i + 1 < bounds.length; i++) {
          controller.enqueue(data.slice(bounds[i], bounds[i + 1]));
        }
        controller.close();
      },
    });
    const out = [];
    for await (const item of parse(stream)) out.push(item);
    results.push(out);
  }
  return results;
}
"""


def _wire(events: list[tuple[str, dict]], newline: str = "\n") -> bytes:
    text = "".join(
        f"event: {name}{newline}data: {json.dumps(data, ensure_ascii=False)}{newline}{newline}"
        for name, data in events
    )
    return text.encode("utf-8")


@pytest.fixture
def widget_page(page):  # noqa: F811
    page.set_content("<!doctype html><title>parser</title>")
    page.add_script_tag(path=str(WIDGET_JS))
    return page


def _parse_all(pg, raw: bytes, splits: list[list[int]]) -> list[list[tuple[str, dict]]]:
    results = pg.evaluate(PARSE, [list(raw), splits])
    return [[(item["event"], json.loads(item["data"])) for item in items] for items in results]


def _parse(pg, raw: bytes, cuts: list[int]) -> list[tuple[str, dict]]:
    return _parse_all(pg, raw, [cuts])[0]


def test_whole_stream(widget_page) -> None:
    assert _parse(widget_page, _wire(EVENTS), []) == EVENTS


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_single_split_point(widget_page, newline: str) -> None:
    raw = _wire(EVENTS, newline)
    # One chunk boundary at each byte, including inside "≥", "µ", "«" and inside "\r\n".
    splits = [[cut] for cut in range(1, len(raw))]
    results = _parse_all(widget_page, raw, splits)
    assert [split for split, got in zip(splits, results, strict=True) if got != EVENTS] == []


def test_byte_by_byte(widget_page) -> None:
    raw = _wire(EVENTS, "\r\n")
    assert _parse(widget_page, raw, list(range(1, len(raw)))) == EVENTS


def test_comments_multiline_data_and_unterminated_last_event(widget_page) -> None:
    raw = (
        b": keep-alive\n\n"
        b'event: error\ndata: {"status": 503,\ndata:  "detail": "busy"}\n\n'
        b"retry: 1000\nid: 7\n\n"  # fields the widget ignores; no data, so no event
        b'data: {"a": 1}\n\n'  # no event name: the SSE default, "message"
        b'event: done\ndata: {"b": 2}'  # the server closed without the final blank line
    )
    assert _parse(widget_page, raw, [5, 17, 40]) == [
        ("error", {"status": 503, "detail": "busy"}),
        ("message", {"a": 1}),
        ("done", {"b": 2}),
    ]


URL_CASES = {
    "https://www.nhlbi.nih.gov/health/anemia": "https://www.nhlbi.nih.gov/health/anemia",
    "http://example.org/a b": "http://example.org/a%20b",
    "javascript:alert(1)": None,
    "  JavaScript:alert(1)": None,
    "data:text/html,<script>alert(1)</script>": None,
    "vbscript:msgbox(1)": None,
    "//evil.example/x": None,
    "/relative/path": None,
    "PMID:12345": None,
    "": None,
}


def test_only_http_urls_become_links(widget_page) -> None:
    got = widget_page.evaluate(
        "(urls) => urls.map((u) => customElements.get('followup-chat').safeHttpUrl(u))",
        list(URL_CASES),
    )
    assert dict(zip(URL_CASES, got, strict=True)) == URL_CASES
