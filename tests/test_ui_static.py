"""The static UI files: one implementation, no HTML built from strings, no build step."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.fixtures_ui import STATIC, WIDGET_JS


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(name: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed((STATIC / name).read_text(encoding="utf-8"))
    return parser.tags


def test_the_chat_page_is_the_widget() -> None:
    tags = _tags("index.html")
    scripts = [attrs for tag, attrs in tags if tag == "script"]
    # One script, the widget, loaded as a classic script: the page has no UI code of its own.
    assert scripts == [{"src": "/static/followup-widget.js", "defer": None}]
    assert [tag for tag, _ in tags].count("followup-chat") == 1
    assert ("link", {"rel": "stylesheet", "href": "/static/app.css"}) in tags


def test_widget_never_builds_html_from_strings() -> None:
    source = WIDGET_JS.read_text(encoding="utf-8")
    sinks = (
        r"innerHTML",
        r"outerHTML",
        r"insertAdjacentHTML",
        r"document\.write",
        r"\beval\(",
        r"\bnew Function\b",
        r"createContextualFragment",
        r"setHTML",
        r"DOMParser",
    )
    for sink in sinks:
        assert not re.search(sink, source), sink
    # Every link the widget makes goes through externalLink, which sets rel=noopener noreferrer.
    anchors = re.findall(r'\bh\(\s*"a"', source)
    assert len(anchors) == 1
    assert 'rel: "noopener noreferrer"' in source


def test_widget_is_one_plain_script_file() -> None:
    source = WIDGET_JS.read_text(encoding="utf-8")
    # No module syntax: the same file works as a classic <script src> on any site.
    assert not re.search(r"^\s*(import|export)\s", source, flags=re.MULTILINE)
    assert "customElements.define(TAG, FollowupChat)" in source
    assert "attachShadow" in source
    assert sorted(path.name for path in STATIC.iterdir()) == [
        "app.css",
        "followup-widget.js",
        "index.html",
    ]
