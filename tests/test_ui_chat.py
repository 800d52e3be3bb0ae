"""The chat page end to end: Chromium, the real service (uvicorn), the real engine and index.

Each test opens / (or a page embedding the widget), asks real questions and reads what the
widget rendered inside its shadow root (Playwright's CSS locators pierce open shadow roots).
Screenshots are saved under var/screenshots/ for people to look at.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from answer.schema import DISCLAIMER
from tests.fixtures_ui import (  # noqa: F401  (pytest fixtures)
    API_KEY,
    MARKUP_QUESTION,
    WIDGET_JS,
    browser,
    embedding_site,
    keyed_server,
    page,
    screenshot,
    ui_engine,
    ui_index,
    ui_server,
)

pytestmark = pytest.mark.browser

# Its answer on the UI index has every section: a bottom line, guidelines and research.
QUESTION = "What is iron-deficiency anemia?"
FOLLOWUP = "How is it diagnosed?"
ANSWER_TIMEOUT_MS = 120_000  # the engine shares two cores with the rest of the test run


# Keeps every complete answer the widget reports (its "followup-answer" event) in window.__answers.
TRACK_ANSWERS = """
document.addEventListener("followup-answer", (event) => {
  (window.__answers ||= []).push(event.detail.answer);
});
"""


def open_chat(pg, server) -> None:
    pg.add_init_script(TRACK_ANSWERS)
    pg.goto(f"{server.url}/")
    pg.locator("followup-chat textarea").wait_for()


def ask(pg, question: str, *, turn: int) -> None:
    """Type into the question box, press Enter, and wait until turn ``turn`` has finished."""
    box = pg.locator("followup-chat textarea")
    box.fill(question)
    box.press("Enter")
    wait_done(pg, turn)


def wait_done(pg, turn: int):
    """The turn's article once its stream has ended: the answer handled, or an error shown."""
    selector = f"followup-chat article.turn[data-turn='{turn}']"
    finished = pg.locator(f"{selector}[data-done], {selector} .error")
    finished.first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    return pg.locator(selector)


def requests_to(pg, path_part: str) -> list[dict]:
    """Collects the JSON bodies of the requests the page sends to URLs containing path_part."""
    seen: list[dict] = []
    pg.on(
        "request",
        lambda request: (
            seen.append({"url": request.url, "body": json.loads(request.post_data)})
            if path_part in request.url and request.method == "POST"
            else None
        ),
    )
    return seen


CLEAN_TITLE = "t => customElements.get('followup-chat').cleanTitle(t).title"


def article_ref_source(pg, n: int) -> str:
    return pg.evaluate(
        "n => document.querySelector('followup-chat').shadowRoot"
        ".querySelector(`.refs li[data-ref='${n}'] .ref-source`).textContent",
        n,
    )


def section_titles(article) -> list[str]:
    return article.locator("section.section > h4").all_inner_texts()


def test_ask_a_question_and_see_the_sections(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    sent = requests_to(page, "/v1/")
    # The first question box, found by its label.
    page.get_by_label("Your question", exact=True).fill(QUESTION)
    page.get_by_label("Your question", exact=True).press("Enter")
    article = wait_done(page, 1)
    screenshot(page, "answer_clinician")

    assert article.locator("h3.question").inner_text() == QUESTION
    titles = [t.lower() for t in section_titles(article)]
    assert "bottom line" in titles
    assert "from the guidelines" in titles
    assert "from the research" in titles
    # Sentences carry citation buttons, each naming an existing reference.
    cites = article.locator("section.section button.cite")
    assert cites.count() >= 2
    ref_numbers = {
        int(n) for n in article.locator(".refs li").evaluate_all("els => els.map(e => e.value)")
    }
    cited = {int(n) for n in cites.evaluate_all("els => els.map(e => e.dataset.ref)")}
    assert cited and cited <= ref_numbers
    # The references, grouped, each with a tier badge.
    assert "Guideline" in article.locator(".refs h5").all_inner_texts()
    guideline_refs = article.locator(".refs ol[data-tier='guideline'] li")
    assert guideline_refs.count() >= 1
    assert guideline_refs.first.locator(".badge.guideline").inner_text() == "Guideline"
    assert "Research" in article.locator(".refs h5").all_inner_texts()
    research_badges = article.locator(".refs ol[data-tier='research'] .badge.research")
    assert research_badges.count() >= 1
    # Research badges name the study design, e.g. "Observational study".
    assert all(b not in ("", "Guideline") for b in research_badges.all_inner_texts())
    # Each reference shows the heading its passage sits under (fetched from /v1/passages).
    article.locator(".refs li .ref-section:not([hidden])").first.wait_for()
    assert article.locator(".disclaimer").inner_text() == DISCLAIMER
    # Started a server-side conversation, streamed.
    assert [r["url"].removeprefix(ui_server.url) for r in sent] == ["/v1/conversations"]
    assert sent[0]["body"] == {"question": QUESTION, "audience": "clinician", "stream": True}
    # The box now continues the conversation.
    assert page.get_by_label("Ask a follow-up question", exact=True).is_visible()


def test_notices_are_styled_as_notices(page, ui_server) -> None:  # noqa: F811
    # Only the made-up fixture page matches this question: no research does, which the engine
    # says in a notice.
    open_chat(page, ui_server)
    ask(page, MARKUP_QUESTION, turn=1)
    notices = page.locator("followup-chat section.section.notice")
    assert notices.count() >= 1
    style = notices.first.evaluate(
        "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).borderLeftWidth]"
    )
    assert style[0] != "rgba(0, 0, 0, 0)"
    assert style[1] != "0px"
    assert notices.first.locator("button.cite").count() == 0  # notices never cite
    assert notices.first.locator("h4").inner_text()


def test_citation_opens_its_passage(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    ask(page, QUESTION, turn=1)
    cite = page.locator("followup-chat section.section button.cite").first
    n = int(cite.get_attribute("data-ref"))
    ref = page.evaluate(
        "n => document.querySelector('followup-chat').shadowRoot"
        ".querySelector(`.refs li[data-ref='${n}'] .ref-title`).textContent",
        n,
    )
    cite.click()
    dialog = page.locator("followup-chat dialog.passage")
    dialog.locator(".passage-text").wait_for()
    screenshot(page, "passage_dialog", full_page=False)

    assert dialog.is_visible()
    # The same passage the API returns for the reference's passage id.
    passage_id = page.evaluate(
        "n => window.__answers[0].references.find(r => r.n === n).passage_id", n
    )
    passage = httpx.get(f"{ui_server.url}/v1/passages/{passage_id}").json()
    assert dialog.locator(".passage-text").inner_text() == passage["text"]
    assert dialog.locator(".dlg-title").inner_text() == passage["title"]
    assert page.evaluate(CLEAN_TITLE, passage["title"]) in ref
    meta = dialog.locator(".dlg-meta").inner_text()
    # The dialog names the source as the reference list does (research: journal, year).
    shown = article_ref_source(page, n)
    assert shown and shown in meta
    assert dialog.locator(".badge").inner_text() == "Guideline" or passage["tier"] == "research"
    body = dialog.locator(".dlg-body").inner_text()
    assert "null" not in body and "undefined" not in body  # absent fields are left out
    # The cited sentence is marked inside the passage.
    sentence = cite.evaluate("b => b.closest('.sentence').firstChild.textContent")
    assert dialog.locator("mark").inner_text() == sentence.strip()
    if passage["url"] and passage["url"].startswith(("http://", "https://")):
        link = dialog.locator("a.source-link")
        assert link.get_attribute("href") == passage["url"]
        assert link.get_attribute("rel") == "noopener noreferrer"
        assert link.get_attribute("target") == "_blank"

    # Escape closes it and gives focus back to the citation.
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert cite.evaluate("b => b.getRootNode().activeElement === b")


def test_followup_continues_the_conversation(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    sent = requests_to(page, "/v1/")
    ask(page, QUESTION, turn=1)
    conversation_id = page.evaluate("document.querySelector('followup-chat').conversationId")
    assert conversation_id

    page.get_by_label("Ask a follow-up question", exact=True).fill(FOLLOWUP)
    page.get_by_label("Ask a follow-up question", exact=True).press("Enter")
    second = wait_done(page, 2)
    screenshot(page, "followup")

    assert second.locator("h3.question").inner_text() == FOLLOWUP
    assert second.locator("section.section").count() >= 1
    assert sent[1]["url"] == f"{ui_server.url}/v1/conversations/{conversation_id}/followups"
    assert sent[1]["body"] == {"question": FOLLOWUP, "audience": "clinician", "stream": True}
    # The service stored both turns in that conversation.
    stored = httpx.get(f"{ui_server.url}/v1/conversations/{conversation_id}").json()
    assert [t["question"] for t in stored["turns"]] == [QUESTION, FOLLOWUP]
    # The query actually searched is shown when it differs from what was typed.
    standalone = stored["turns"][1]["answer"]["standalone_query"]
    searched = second.locator(".meta .searched")
    if standalone.strip().lower() != FOLLOWUP.lower():
        assert searched.locator("q").inner_text() == standalone
    else:
        assert searched.count() == 0

    # "New conversation" forgets it: the next question starts another one.
    page.get_by_role("button", name="New conversation", exact=True).click()
    assert page.locator("followup-chat article.turn").count() == 0
    assert page.evaluate("document.querySelector('followup-chat').conversationId") is None
    assert page.get_by_label("Your question", exact=True).evaluate(
        "box => box.getRootNode().activeElement === box"
    )


def test_topic_shift_is_noted(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    ask(page, QUESTION, turn=1)
    page.get_by_label("Ask a follow-up question", exact=True).fill(MARKUP_QUESTION)
    page.get_by_label("Ask a follow-up question", exact=True).press("Enter")
    second = wait_done(page, 2)
    conversation_id = page.evaluate("document.querySelector('followup-chat').conversationId")
    stored = httpx.get(f"{ui_server.url}/v1/conversations/{conversation_id}").json()
    shifted = stored["turns"][1]["answer"]["topic_shift"]
    note = second.locator(".shift")
    assert note.is_visible() is shifted
    if shifted:
        assert "new topic" in note.inner_text()


def test_suggested_followups_are_buttons_that_ask(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    ask(page, QUESTION, turn=1)
    # The index has the page's other questions (symptoms, diagnosis, treatment) to suggest.
    suggested = page.evaluate("window.__answers[0].suggested_followups")
    assert suggested, "the engine suggested no follow-ups"
    buttons = page.locator("followup-chat article.turn[data-turn='1'] .followups button")
    assert buttons.all_inner_texts() == suggested
    suggestion = buttons.first.inner_text()
    buttons.first.click()
    second = wait_done(page, 2)
    assert second.locator("h3.question").inner_text() == suggestion


def test_switch_audience(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    sent = requests_to(page, "/v1/")
    chat = page.locator("followup-chat")
    assert page.get_by_label("Clinicians").is_checked()
    page.get_by_label("Patients").check()
    assert chat.get_attribute("audience") == "patient"
    ask(page, QUESTION, turn=1)
    screenshot(page, "answer_patient")
    assert sent[0]["body"]["audience"] == "patient"
    assert page.evaluate("window.__answers[0].audience") == "patient"
    first = page.locator("followup-chat article.turn[data-turn='1']")
    assert first.locator(".meta .for").inner_text() == "Written for patients"
    # (Switching after an answer rewrites that answer: tests/test_ui_controls.py.)

    # The attribute drives the radios too (for host pages that set it), and asks nothing.
    page.evaluate("document.querySelector('followup-chat').setAttribute('audience', 'clinician')")
    assert page.get_by_label("Clinicians").is_checked()
    ask(page, FOLLOWUP, turn=2)
    assert [r["body"]["audience"] for r in sent] == ["patient", "clinician"]
    second = page.locator("followup-chat article.turn[data-turn='2']")
    assert second.locator(".meta .for").inner_text() == "Written for clinicians"
    assert first.locator(".meta .for").inner_text() == "Written for patients"


def test_markup_in_passages_renders_as_text(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    ask(page, MARKUP_QUESTION, turn=1)
    article = page.locator("followup-chat article.turn[data-turn='1']")
    fixture_ref = article.locator(".refs li", has_text="TEST FIXTURE")
    assert fixture_ref.count() == 1
    fixture_ref.locator(".ref-title").click()
    dialog = page.locator("followup-chat dialog.passage")
    dialog.locator(".passage-text").wait_for()
    screenshot(page, "markup_fixture_passage", full_page=False)

    literal = "<script>window.__xss=1</script>"
    assert literal in dialog.locator(".passage-text").inner_text()
    assert '<img src=x onerror="window.__xss=2">' in dialog.locator(".passage-text").inner_text()
    # The answer quotes the fixture sentence: it is text there too.
    if "window.__xss" in article.locator(".answer").inner_text():
        assert literal in article.locator(".answer").inner_text()
    assert "null" not in dialog.locator(".dlg-body").inner_text()  # the fixture has no section
    assert page.evaluate("typeof window.__xss") == "undefined"
    markup_elements = page.evaluate(
        "document.querySelector('followup-chat').shadowRoot.querySelectorAll('script, img').length"
    )
    assert markup_elements == 0


def test_errors_are_shown(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    # 422: a question longer than the service accepts (settings.api.max_question_chars).
    page.evaluate("document.querySelector('followup-chat').ask('a'.repeat(2001))")
    first = wait_done(page, 1)
    error = first.locator(".error[role='alert']")
    assert "422" in error.inner_text()
    screenshot(page, "error_422")
    # No conversation was created, so the box still asks a first question.
    assert page.get_by_label("Your question", exact=True).is_visible()

    # An unreachable service.
    page.evaluate(
        "document.querySelector('followup-chat').setAttribute('api-base', 'http://127.0.0.1:9')"
    )
    page.evaluate("document.querySelector('followup-chat').ask('What is anemia?')")
    second = wait_done(page, 2)
    assert "Could not reach" in second.locator(".error").inner_text()


def test_api_key_and_cross_origin_embedding(page, keyed_server, embedding_site) -> None:  # noqa: F811
    """The widget on another site's page, calling a service that wants a key (docs/widget.md)."""
    host_page = f"""<!doctype html><html lang="en"><head><title>A clinic's site</title>
<script src="{keyed_server.url}/static/followup-widget.js" defer></script></head>
<body><h1>Our clinic</h1>
<followup-chat id="with-key" api-base="{keyed_server.url}" api-key="{API_KEY}"
  audience="patient" heading="Ask our library"></followup-chat>
<followup-chat id="no-key" api-base="{keyed_server.url}"></followup-chat>
</body></html>"""
    embedding_site.pages["/clinic.html"] = host_page
    page.goto(f"{embedding_site.origin}/clinic.html")
    with_key = page.locator("#with-key")
    with_key.locator("textarea").wait_for()
    assert with_key.locator("h2.title").inner_text() == "Ask our library"
    assert with_key.locator("input[value='patient']").is_checked()

    with_key.locator("textarea").fill(QUESTION)
    with_key.locator("textarea").press("Enter")
    with_key.locator("article.turn .disclaimer").wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert with_key.locator("section.section").count() >= 1
    with_key.locator("button.cite").first.click()
    with_key.locator("dialog .passage-text").wait_for()
    page.keyboard.press("Escape")
    screenshot(page, "embedded_cross_origin")

    no_key = page.locator("#no-key")
    no_key.locator("textarea").fill(QUESTION)
    no_key.locator("textarea").press("Enter")
    error = no_key.locator("article.turn .error")
    error.wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert "401" in error.inner_text()


def test_keyboard_only(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    # Tab from the top of the page: skip link, then the widget's audience choice, then the box.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    focused = "document.querySelector('followup-chat').shadowRoot.activeElement"
    assert page.evaluate(f"{focused}.value") == "clinician"
    assert page.evaluate(f"{focused}.matches(':focus-visible')")
    page.keyboard.press("ArrowRight")  # radio group: arrows choose
    assert page.evaluate("document.querySelector('followup-chat').audience") == "patient"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Tab")
    assert page.evaluate(f"{focused}.tagName") == "TEXTAREA"
    outline = page.evaluate(f"getComputedStyle({focused}).outlineStyle")
    assert outline != "none"  # focus is visible

    # Shift+Enter is a new line, Enter sends.
    page.keyboard.type("What causes")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("iron-deficiency anemia?")
    assert page.evaluate(f"{focused}.value") == "What causes\niron-deficiency anemia?"
    page.keyboard.press("Enter")
    wait_done(page, 1)
    assert page.evaluate(f"{focused}.tagName") == "TEXTAREA"  # focus stays in the box

    # Shift+Tab walks back into the answer: the last suggestion or reference, then citations.
    for _ in range(40):
        page.keyboard.press("Shift+Tab")
        if page.evaluate(f"{focused}?.classList.contains('cite')"):
            break
    else:
        pytest.fail("no citation button is reachable by keyboard")
    assert page.evaluate(f"{focused}.matches(':focus-visible')")
    assert page.evaluate(f"getComputedStyle({focused}).outlineStyle") != "none"
    page.keyboard.press("Enter")
    dialog = page.locator("followup-chat dialog.passage")
    dialog.locator(".passage-text").wait_for()
    # Focus moved into the dialog; Escape closes it and returns focus to the citation.
    assert page.evaluate(f"!!{focused}.closest('dialog')")
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert page.evaluate(f"{focused}.classList.contains('cite')")


# WCAG 2.x contrast of every visible text in the widget (and the page around it) against the
# background it is painted on (translucent layers blended, up through the shadow root).
CONTRAST = """
() => {
  const parse = (s) => {
    const m = s.match(/rgba?\\(([^)]+)\\)/);
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const channel = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const lum = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const parentOf = (el) => {
    const root = el.getRootNode();
    return el.parentElement || (root instanceof ShadowRoot ? root.host : null);
  };
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = parentOf(node)) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c.a > 0) layers.push(c);
      if (c.a >= 1) break;
      if (node.tagName === "DIALOG") break;
    }
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const layer of layers.reverse()) bg = over(layer, bg);
    return bg;
  };
  const failures = [];
  let checked = 0;
  const visit = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) visit(el.shadowRoot);
      const text = [...el.childNodes]
        .filter((n) => n.nodeType === 3)
        .map((n) => n.textContent)
        .join("")
        .trim();
      if (!text || !el.getClientRects().length) continue;
      const style = getComputedStyle(el);
      if (style.visibility === "hidden" || el.closest(".sr-only")) continue;
      if (el.tagName === "TEXTAREA" || el.tagName === "STYLE") continue;
      const bg = background(el);
      const fg = over(parse(style.color), bg);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      const ratio = (hi + 0.05) / (lo + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      checked++;
      if (ratio < (large ? 3 : 4.5)) {
        failures.push(`${ratio.toFixed(2)} ${el.tagName}.${el.className}: ${text.slice(0, 40)}`);
      }
    }
  };
  visit(document);
  return { checked, failures };
}
"""


# Controls without an accessible name (label, text or aria-label), as "TAG.class".
UNNAMED = """
() => {
  const root = document.querySelector("followup-chat").shadowRoot;
  const name = (el) =>
    (el.getAttribute("aria-label") || "").trim() ||
    [...(el.labels || [])].map((l) => l.textContent).join("").trim() ||
    (el.tagName === "BUTTON" || el.tagName === "A" ? el.textContent.trim() : "");
  return [...root.querySelectorAll("button, a, input, textarea, select")]
    .filter((el) => !name(el))
    .map((el) => `${el.tagName}.${el.className}`);
}
"""


def test_accessible_names_and_live_region(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    ask(page, QUESTION, turn=1)
    assert page.evaluate(UNNAMED) == []
    answer = page.locator("followup-chat article.turn[data-turn='1'] .answer")
    assert answer.get_attribute("aria-live") == "polite"
    assert page.locator("followup-chat [role='status']").inner_text() == "Answer complete."
    assert page.get_by_role("group", name="Answers for").is_visible()
    dialog_name = page.locator("followup-chat dialog").evaluate(
        "d => d.getRootNode().getElementById(d.getAttribute('aria-labelledby')).id"
    )
    assert dialog_name


def test_contrast_meets_wcag_aa(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    ask(page, QUESTION, turn=1)
    page.locator("followup-chat textarea").focus()
    result = page.evaluate(CONTRAST)
    assert result["checked"] > 20
    assert result["failures"] == []
    page.locator("followup-chat section.section button.cite").first.click()
    page.locator("followup-chat dialog .passage-text").wait_for()
    result = page.evaluate(CONTRAST)
    assert result["failures"] == []


def test_narrow_screen_has_no_sideways_scrolling(page, ui_server) -> None:  # noqa: F811
    page.set_viewport_size({"width": 375, "height": 740})
    open_chat(page, ui_server)
    ask(page, QUESTION, turn=1)
    screenshot(page, "answer_phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.locator("followup-chat section.section button.cite").first.click()
    page.locator("followup-chat dialog .passage-text").wait_for()
    screenshot(page, "passage_phone", full_page=False)
    box = page.locator("followup-chat dialog").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375


def test_chat_page_serves_the_widget_file(ui_server) -> None:  # noqa: F811
    page_html = httpx.get(f"{ui_server.url}/").text
    assert '<script src="/static/followup-widget.js" defer></script>' in page_html
    served = httpx.get(f"{ui_server.url}/static/followup-widget.js")
    assert served.status_code == 200
    assert "javascript" in served.headers["content-type"]
    assert served.text == WIDGET_JS.read_text(encoding="utf-8")
    assert re.search(r"<followup-chat\b", page_html)
