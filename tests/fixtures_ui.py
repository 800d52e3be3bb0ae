"""Browser fixtures for the web UI tests: Debian's Chromium driven by Playwright.

Import the fixtures explicitly in a test module (``from tests.fixtures_ui import browser, page``).
Playwright never downloads a browser here: it launches /usr/bin/chromium (``make browser``
installs it with apt). Screenshots go to var/screenshots/ (gitignored), for people to look at.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from corpus.types import Document, EvidenceTier
from tests.fixtures_api import ThreadServer

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "api" / "static"
WIDGET_JS = STATIC / "followup-widget.js"
SCREENSHOTS = ROOT / "var" / "screenshots"

CHROMIUM = "/usr/bin/chromium"
# Exactly these flags: headless in a container, no sandbox (root in CI), and no background
# traffic, so a test run never touches the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1100, "height": 900}


def _chromium_path() -> str:
    path = shutil.which("chromium") or CHROMIUM
    if not Path(path).exists():
        pytest.fail(
            "Debian's Chromium is missing: run `make browser` "
            "(apt-get install -y chromium); Playwright's own browser download is not used."
        )
    return path


# Module scope, not session: a fixture imported into two test modules is two fixtures to
# pytest, and a second Playwright cannot start while the first one's event loop is running.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh page in its own context; fails the test on uncaught JavaScript errors."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"


# A full-page capture keeps the window's size for layout, so the question box, which sticks to
# the window's bottom, would be painted over the middle of the page: it is let go meanwhile.
_UNSTICK = """(stuck) => {
  for (const chat of document.querySelectorAll("followup-chat")) {
    const form = chat.shadowRoot && chat.shadowRoot.querySelector("form.ask");
    if (form) form.style.position = stuck ? "" : "static";
  }
}"""


def screenshot(page: object, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG under var/screenshots/ and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if full_page:
        page.evaluate(_UNSTICK, False)  # type: ignore[attr-defined]
    try:
        page.screenshot(path=str(path), full_page=full_page)  # type: ignore[attr-defined]
    finally:
        if full_page:
            page.evaluate(_UNSTICK, True)  # type: ignore[attr-defined]
    return path


# ------------------------------------------------------------------------- the real service

# A harmless record made up for these tests only (NOT medical content): its text carries markup
# that the page must show as characters. If the UI ever parsed passage text as HTML, the script
# or the image's onerror would set window.__xss.
MARKUP_FIXTURE = {
    "id": "test-fixture:markup-rendering",
    "title": "TEST FIXTURE (not medical content): markup rendering check page",
    "text": (
        "This record is a test fixture of the followup test suite and is not medical content. "
        "The markup rendering check page shows this exact text to readers: "
        '<script>window.__xss=1</script> <img src=x onerror="window.__xss=2"> and nothing runs. '
        "A markup rendering check passes when the angle brackets appear on the page as typed."
    ),
    "tier": "guideline",
    "source": "followup test suite",
    "licence": "CC0-1.0",
    "dataset": "test-fixture",
    "year": 2025,
    "url": "https://example.org/followup-test-fixture",
}
MARKUP_QUESTION = "What does the markup rendering check page show to readers?"

# The part of the shipped demo corpus the UI tests index (16 documents with the fixture, about
# 45 s to embed here): the NHLBI iron-deficiency anemia page, one document per question it
# answers, and research abstracts on iron status, anaemia and haemoglobin, so that a question
# on iron-deficiency anemia gets both a guideline and a research section.
DEMO_IDS = (
    *(f"medquad:8_NHLBI_QA_XML/0000082#{n}" for n in range(1, 8)),
    "scifact:4442799",
    "scifact:4449524",
    "scifact:11705328",
    "scifact:16252863",
    "scifact:21636085",
    "scifact:23245050",
    "scifact:25069745",
    "scifact:27889071",
)


def ui_documents() -> list[Document]:
    """Part of the shipped demo corpus, plus the markup test fixture."""
    from corpus.demo import load_demo

    by_id = {doc.id: doc for doc in load_demo().documents}
    return [*(by_id[doc_id] for doc_id in DEMO_IDS), _markup_document()]


def _markup_document() -> Document:
    return Document(
        id=MARKUP_FIXTURE["id"],
        title=MARKUP_FIXTURE["title"],
        text=MARKUP_FIXTURE["text"],
        tier=EvidenceTier.GUIDELINE,
        source=MARKUP_FIXTURE["source"],
        licence=MARKUP_FIXTURE["licence"],
        dataset=MARKUP_FIXTURE["dataset"],
        year=MARKUP_FIXTURE["year"],
        url=MARKUP_FIXTURE["url"],
    )


@pytest.fixture(scope="session")
def ui_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real index (real chunker, model, FAISS and BM25) over :func:`ui_documents`."""
    from index.build import build_index
    from index.embedder import SentenceTransformerEmbedder

    out = tmp_path_factory.mktemp("ui-index") / "index"
    build_index(ui_documents(), out, SentenceTransformerEmbedder.load(threads=2, batch_size=32))
    return out


API_KEY = "ui-test-key-restricted"


class EmbeddingSite:
    """Another web site (its own origin) whose pages embed the widget, served on loopback.

    Its origin is ``http://localhost:<port>`` while the service is ``http://127.0.0.1:<port>``:
    different origins, so the browser applies CORS. (Chromium refuses a page from a public
    origin calling loopback at all, "Local Network Access", so the site is on loopback too.)
    """

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                body = pages.get(self.path, "not found").encode()
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="session")
def embedding_site() -> Iterator[EmbeddingSite]:
    site = EmbeddingSite()
    try:
        yield site
    finally:
        site.close()


@pytest.fixture(scope="session")
def ui_engine(ui_index: Path) -> Any:
    """The real engine over the UI index (build_engine: the same path `followup serve` takes)."""
    from answer.engine import build_engine

    return build_engine(_settings(ui_index))


def _settings(index: Path, **api: Any) -> Any:
    from answer.settings import Settings

    return Settings(index={"path": index}, embedder={"threads": 1}, api=api)


@pytest.fixture(scope="session")
def ui_server(
    ui_index: Path, ui_engine: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    """The real service (create_app + uvicorn) on the UI index, open (no key)."""
    from api.app import create_app

    settings = _settings(ui_index, data_dir=tmp_path_factory.mktemp("ui-data"))
    with ThreadServer(create_app(settings, engine=ui_engine)) as server:
        yield server


@pytest.fixture(scope="session")
def keyed_server(
    ui_index: Path,
    ui_engine: Any,
    embedding_site: EmbeddingSite,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ThreadServer]:
    """A second service, on the same engine, that needs :data:`API_KEY` and lets the
    embedding site call it from a browser (its origin is in the CORS allow-list)."""
    from api.app import create_app

    settings = _settings(
        ui_index,
        data_dir=tmp_path_factory.mktemp("ui-keyed-data"),
        api_keys=[API_KEY],
        cors_origins=[embedding_site.origin],
    )
    with ThreadServer(create_app(settings, engine=ui_engine)) as server:
        yield server


class StartingService:
    """The real service whose engine can be held back, as in the first minutes after `make run`.

    While held, the service is exactly what a starting server is: ``/readyz`` says "loading" and
    every ``/v1`` route that needs the engine answers 503 "the index is still loading".
    ``release()`` makes it ready, as the end of the background load does.
    """

    def __init__(self, server: ThreadServer, app: Any) -> None:
        self.url = server.url
        self.app = app
        self._state = app.state.engine_state
        self._resources = self._state.resources

    def hold(self) -> None:
        self._state.resources = None

    def fail(self, reason: str) -> None:
        """As a load that failed: /readyz says "failed" with the reason, /v1 answers 503."""
        self._state.resources = None
        self._state.error = reason

    def release(self) -> None:
        self._state.resources = self._resources
        self._state.error = None


@pytest.fixture(scope="module")
def starting_server(
    ui_index: Path, ui_engine: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartingService]:
    """A service on the UI engine that tests can put back into its loading state."""
    from api.app import create_app

    settings = _settings(ui_index, data_dir=tmp_path_factory.mktemp("ui-starting-data"))
    app = create_app(settings, engine=ui_engine)
    with ThreadServer(app) as server:
        service = StartingService(server, app)
        try:
            yield service
        finally:
            service.release()
