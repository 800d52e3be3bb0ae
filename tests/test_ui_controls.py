"""The chat page's conversation controls end to end, in Chromium against the real service.

Reload and recent conversations, copy as Markdown, retry after a stop, an audience switch that
rewrites the answer, the loading state of a starting service, tap targets at phone width, the
message when the service refuses the page's origin, and evidence-gap notes. Screenshots go to
var/screenshots/ for people to look at. Nothing here waits a fixed time: every wait is for a
condition on the page.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from answer.schema import (
    Answer,
    AnswerSection,
    Audience,
    Reference,
    SectionKind,
    Sentence,
    SentenceKind,
)
from tests.fixtures_ui import (  # noqa: F401  (pytest fixtures)
    API_KEY,
    browser,
    embedding_site,
    keyed_server,
    page,
    screenshot,
    starting_server,
    ui_engine,
    ui_index,
    ui_server,
)
from tests.test_ui_chat import (
    ANSWER_TIMEOUT_MS,
    CONTRAST,
    FOLLOWUP,
    QUESTION,
    ask,
    open_chat,
    requests_to,
    wait_done,
)

pytestmark = pytest.mark.browser

CHAT = "followup-chat"


@pytest.fixture
def starting(starting_server):  # noqa: F811
    """The starting service, ready again after each test whatever the test left it as."""
    try:
        yield starting_server
    finally:
        starting_server.release()


def turn(pg, n: int):
    return pg.locator(f"{CHAT} article.turn[data-turn='{n}']")


def shot(pg, name: str, target=None) -> None:
    """A screenshot of the window (not the full page: the question box sticks to the window's
    bottom, and a full-page capture would paint it over the middle of the page), scrolled so
    that ``target`` is at the top."""
    if target is not None:
        target.evaluate("el => el.scrollIntoView({block: 'start'})")
    screenshot(pg, name, full_page=False)


def url_conversation(pg) -> str | None:
    return parse_qs(urlsplit(pg.url).query).get("conversation", [None])[0]


def answer_texts(pg) -> list[str]:
    return pg.locator(f"{CHAT} article.turn .answer").all_inner_texts()


def sources_open(pg) -> list[bool]:
    return pg.locator(f"{CHAT} article.turn details.refs").evaluate_all(
        "els => els.map(e => e.open)"
    )


# ------------------------------------------------------------------------ 1. persistence


def test_reload_restores_the_conversation(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    ask(page, QUESTION, turn=1)
    conversation_id = page.evaluate(f"document.querySelector('{CHAT}').conversationId")
    assert url_conversation(page) == conversation_id  # the id is in the address
    ask(page, FOLLOWUP, turn=2)
    before = answer_texts(page)
    # Only the latest turn's sources are open.
    assert sources_open(page) == [False, True]
    assert page.locator(f"{CHAT} details.refs summary").first.inner_text().startswith("SOURCES (")

    page.reload()
    wait_done(page, 2)
    shot(page, "reload_restored", turn(page, 2))
    assert turn(page, 1).locator("h3.question").inner_text() == QUESTION
    assert turn(page, 2).locator("h3.question").inner_text() == FOLLOWUP
    assert answer_texts(page) == before
    assert sources_open(page) == [False, True]
    assert page.evaluate(f"document.querySelector('{CHAT}').conversationId") == conversation_id
    # The box continues the restored conversation.
    assert page.get_by_label("Ask a follow-up question", exact=True).is_visible()

    # "New conversation" empties the page and the address; the recent list brings it back.
    page.get_by_role("button", name="New conversation", exact=True).click()
    assert page.locator(f"{CHAT} article.turn").count() == 0
    assert url_conversation(page) is None
    recent = page.locator(f"{CHAT} details.recent")
    recent.locator("summary").click()
    screenshot(page, "recent_conversations", full_page=False)
    recent.get_by_role("button", name=QUESTION).click()
    wait_done(page, 2)
    assert url_conversation(page) == conversation_id
    assert answer_texts(page) == before


def test_embedded_widget_keeps_its_conversation_in_local_storage(
    page,  # noqa: F811
    keyed_server,  # noqa: F811
    embedding_site,  # noqa: F811
) -> None:
    # Two widgets on one page: each keeps its own conversation (the element id is in the key).
    embedding_site.pages["/remember.html"] = f"""<!doctype html><html lang="en">
<head><title>Clinic</title>
<script src="{keyed_server.url}/static/followup-widget.js" defer></script></head>
<body>
<followup-chat id="a" api-base="{keyed_server.url}" api-key="{API_KEY}"></followup-chat>
<followup-chat id="b" api-base="{keyed_server.url}" api-key="{API_KEY}"></followup-chat>
</body></html>"""
    page.goto(f"{embedding_site.origin}/remember.html")
    first = page.locator("#a")
    first.locator("textarea").fill(QUESTION)
    first.locator("textarea").press("Enter")
    first.locator("article.turn[data-turn='1'][data-done]").wait_for(timeout=ANSWER_TIMEOUT_MS)
    conversation_id = page.evaluate("document.getElementById('a').conversationId")
    before = first.locator("article.turn .answer").all_inner_texts()

    page.reload()
    first.locator("article.turn[data-turn='1'][data-done]").wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert page.evaluate("document.getElementById('a').conversationId") == conversation_id
    assert first.locator("article.turn .answer").all_inner_texts() == before
    assert "conversation=" not in page.url  # the host page's address is left alone
    # The other widget opened nothing, and lists the conversation under its recent ones.
    second = page.locator("#b")
    assert page.evaluate("document.getElementById('b').conversationId") is None
    assert second.locator("article.turn").count() == 0
    assert second.locator("details.recent summary").inner_text() == "Recent conversations (1)"


def test_a_conversation_the_service_no_longer_has(page, ui_server) -> None:  # noqa: F811
    page.goto(f"{ui_server.url}/?conversation=c-no-such-conversation")
    status = page.locator(f"{CHAT} [role='status']")
    status.filter(has_text="no longer stored").wait_for()
    assert url_conversation(page) is None
    assert page.get_by_label("Your question", exact=True).is_visible()


# -------------------------------------------------------------------------- 2. controls


def test_copy_an_answer_as_markdown(page, ui_server) -> None:  # noqa: F811
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui_server.url)
    open_chat(page, ui_server)
    ask(page, QUESTION, turn=1)
    copy = turn(page, 1).get_by_role("button", name="Copy this answer as Markdown")
    copy.click()
    turn(page, 1).locator("button.copy", has_text="Copied").wait_for()
    screenshot(page, "copied", full_page=False)
    markdown = page.evaluate("navigator.clipboard.readText()")

    answer = page.evaluate("window.__answers[0]")
    assert markdown.startswith(f"# {QUESTION}\n\n## ")
    for section in answer["sections"]:
        if section["kind"] != "notice":
            assert f"## {section['title']}\n" in markdown
    assert "\n## References\n" in markdown
    for ref in answer["references"]:
        item = turn(page, 1).locator(f".refs li[data-ref='{ref['n']}']")
        title = item.locator(".ref-title").evaluate("b => b.lastChild.textContent")  # no sr-only
        source = item.locator(".ref-source").inner_text()
        assert f"- [{ref['n']}] {title}" in markdown
        assert source in markdown
    assert "SciFact" not in markdown and "PubMedQA" not in markdown
    assert markdown.rstrip().endswith(f"*{answer['disclaimer']}*")


def test_retry_after_a_stop(page, starting) -> None:  # noqa: F811
    # A starting service keeps the request waiting, so Stop lands before any answer can.
    starting.hold()
    open_chat(page, starting)
    box = page.locator(f"{CHAT} textarea")
    box.fill(QUESTION)
    box.press("Enter")
    turn(page, 1).locator(".pending", has_text="Loading the evidence index").wait_for()
    page.get_by_role("button", name="Stop", exact=True).click()
    turn(page, 1).locator(".pending-stopped", has_text="Stopped.").wait_for()
    retry = turn(page, 1).get_by_role("button", name="Retry", exact=True)
    screenshot(page, "stopped_with_retry")

    starting.release()
    retry.click()
    article = wait_done(page, 1)
    shot(page, "retried", turn(page, 1))
    assert page.locator(f"{CHAT} article.turn").count() == 1
    assert article.locator("section.section").count() >= 1
    assert article.locator(".error, .pending-stopped").count() == 0
    assert article.get_by_role("button", name="Retry").count() == 0
    assert article.locator("h3.question").inner_text() == QUESTION


def test_stop_in_the_middle_of_an_answer_then_retry(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    # A slow line (DevTools network throttling, 300 bytes/s): the answer's events arrive over
    # many seconds, so Stop lands between its first section and its end.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    slow = {"offline": False, "latency": 0, "uploadThroughput": -1}
    cdp.send("Network.emulateNetworkConditions", {**slow, "downloadThroughput": 300})
    box = page.locator(f"{CHAT} textarea")
    box.fill(QUESTION)
    box.press("Enter")
    first = turn(page, 1)
    first.locator("section.section").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.get_by_role("button", name="Stop", exact=True).click()
    first.locator(".pending-stopped", has_text="Stopped.").wait_for()
    shot(page, "stopped_mid_answer", first)
    assert first.get_attribute("data-done") is None  # the answer never completed
    assert first.locator("section.section").count() >= 1  # what had arrived stays

    cdp.send("Network.emulateNetworkConditions", {**slow, "downloadThroughput": -1})
    first.get_by_role("button", name="Retry", exact=True).click()
    article = wait_done(page, 1)
    assert page.locator(f"{CHAT} article.turn").count() == 1
    assert article.locator(".pending-stopped, .error").count() == 0
    assert article.locator("details.refs").count() == 1


def test_retry_after_an_error(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    chat = page.locator(CHAT)
    chat.evaluate("el => el.setAttribute('api-base', 'http://127.0.0.1:9')")  # nothing listens
    chat.evaluate(f"el => el.ask({QUESTION!r})")
    turn(page, 1).locator(".error").wait_for()
    chat.evaluate(f"el => el.setAttribute('api-base', {ui_server.url!r})")
    turn(page, 1).get_by_role("button", name="Retry", exact=True).click()
    article = wait_done(page, 1)
    assert article.locator(".error").count() == 0
    assert article.locator("section.section").count() >= 1


def test_switching_audience_rewrites_the_answer(page, ui_server) -> None:  # noqa: F811
    open_chat(page, ui_server)
    sent = requests_to(page, "/v1/")
    ask(page, QUESTION, turn=1)
    conversation_id = page.evaluate(f"document.querySelector('{CHAT}').conversationId")
    conversation = f"{ui_server.url}/v1/conversations/{conversation_id}"
    assert turn(page, 1).locator(".meta .for").inner_text() == "Written for clinicians"

    page.get_by_label("Patients").check()
    turn(page, 1).locator(".meta .for", has_text="Written for patients").wait_for(
        timeout=ANSWER_TIMEOUT_MS
    )
    wait_done(page, 1)
    shot(page, "audience_rewritten", turn(page, 1))
    assert page.locator(f"{CHAT} article.turn").count() == 1  # the same turn, rewritten
    assert page.evaluate("window.__answers.map(a => a.audience)") == ["clinician", "patient"]
    assert sent[-1] == {
        "url": f"{conversation}/regenerate",
        "body": {"audience": "patient", "stream": True},
    }
    # The stored conversation holds the rewritten answer: a reload shows what was on screen.
    stored = httpx.get(conversation).json()["turns"]
    assert [(t["question"], t["audience"]) for t in stored] == [(QUESTION, "patient")]
    assert stored[0]["answer"] == page.evaluate("window.__answers[1]")
    rewritten = answer_texts(page)
    page.reload()
    wait_done(page, 1)
    assert turn(page, 1).locator(".meta .for").inner_text() == "Written for patients"
    assert answer_texts(page) == rewritten
    assert page.get_by_label("Patients").is_checked()  # the choice came back with it

    # A follow-up is rewritten in its place; the turn before it stays as it is.
    ask(page, FOLLOWUP, turn=2)
    assert sent[-1]["url"] == f"{conversation}/followups"
    assert sent[-1]["body"]["audience"] == "patient"
    page.get_by_label("Clinicians").check()
    turn(page, 2).locator(".meta .for", has_text="Written for clinicians").wait_for(
        timeout=ANSWER_TIMEOUT_MS
    )
    wait_done(page, 2)
    assert sent[-1]["url"] == f"{conversation}/regenerate"
    stored = httpx.get(conversation).json()["turns"]
    assert [t["audience"] for t in stored] == ["patient", "clinician"]
    assert turn(page, 1).locator(".meta .for").inner_text() == "Written for patients"


# ------------------------------------------------------------------------ 3. readiness


def test_loading_index_then_the_answer_without_a_user_action(page, starting) -> None:  # noqa: F811
    starting.hold()
    assert httpx.get(f"{starting.url}/readyz").json()["status"] == "loading"
    open_chat(page, starting)
    # Said before any question, too.
    page.locator(f"{CHAT} [role='status']", has_text="Loading the evidence index…").wait_for()
    box = page.locator(f"{CHAT} textarea")
    box.fill(QUESTION)
    box.press("Enter")
    first = turn(page, 1)
    first.locator(".pending", has_text="Loading the evidence index…").wait_for()
    # The page polls /readyz until ready; wait for a poll to be seen, so the release is not
    # racing the first POST.
    with page.expect_response(lambda r: r.url.endswith("/readyz")):
        pass
    screenshot(page, "loading_index")
    assert page.locator(f"{CHAT} .error").count() == 0
    assert "503" not in page.locator(CHAT).inner_text()

    starting.release()  # the background load finishes; nobody touches the page
    article = wait_done(page, 1)
    shot(page, "loading_then_answer", turn(page, 1))
    assert article.locator(".error").count() == 0
    assert article.locator("section.section").count() >= 1
    assert "Loading the evidence index" not in article.inner_text()


def test_an_engine_that_failed_to_load_is_an_error_not_a_wait(page, starting) -> None:  # noqa: F811
    starting.fail("failed to load the engine: IndexLoadError: made up for this test")
    open_chat(page, starting)
    page.locator(f"{CHAT} textarea").fill(QUESTION)
    page.locator(f"{CHAT} textarea").press("Enter")
    error = turn(page, 1).locator(".error")
    error.wait_for()
    assert "failed to load" in error.inner_text()
    assert "Loading the evidence index" not in page.locator(CHAT).inner_text()


# ---------------------------------------------------------------------------- 4. layout

# Visible controls smaller than 24 x 24 CSS px (WCAG 2.2 target size), or cut off at the
# screen's edges, as "TAG.class WxH at left..right".
SMALL_TARGETS = """
() => {
  const root = document.querySelector("followup-chat").shadowRoot;
  const controls = root.querySelectorAll("button, a, summary, textarea, .audience label");
  return [...controls]
    .filter((el) => el.getClientRects().length && !el.closest("dialog:not([open])"))
    .map((el) => [el, el.getBoundingClientRect()])
    .filter(([, r]) => r.width < 24 || r.height < 24 || r.left < 0 || r.right > innerWidth)
    .map(([el, r]) => `${el.tagName}.${el.className} ${r.width.toFixed(0)}x${r.height.toFixed(0)}`
      + ` at ${r.left.toFixed(0)}..${r.right.toFixed(0)}`);
}
"""


def test_tap_targets_and_sticky_box_at_phone_width(page, ui_server) -> None:  # noqa: F811
    page.set_viewport_size({"width": 375, "height": 740})
    open_chat(page, ui_server)
    ask(page, QUESTION, turn=1)
    assert page.evaluate(SMALL_TARGETS) == []
    cites = page.locator(f"{CHAT} button.cite")
    assert cites.count() >= 1
    box = cites.first.bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24

    # Scrolled to the first citation, mid-answer: the question box is still in view.
    cites.first.evaluate("b => b.scrollIntoView({block: 'center'})")
    textarea = page.locator(f"{CHAT} textarea").bounding_box()
    assert textarea["y"] >= 0 and textarea["y"] + textarea["height"] <= 740
    # ... and takes at most a quarter of the phone's screen.
    form = page.locator(f"{CHAT} form.ask").bounding_box()
    assert form["height"] <= 740 / 4
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "phone_tap_targets", full_page=False)


# ------------------------------------------------------------------ 5. references, notes

BJN_TITLE = (
    "British Journal of Nutrition (2003), 89, 295–301 q The Authors 2003 DOI: 10.1079/BJN2002776 "
    "Plasma homocysteine concentration is decreased by dietary intervention*"
)


def _stored_answer() -> Answer:
    """An answer with an evidence-gap note and research references from two data sets."""
    return Answer(
        question="Does diet lower homocysteine?",
        standalone_query="Does diet lower homocysteine?",
        audience=Audience.CLINICIAN,
        sections=[
            AnswerSection(
                kind=SectionKind.NOTICE,
                title="Please note",
                sentences=[
                    Sentence(text="The evidence here is thin.", kind=SentenceKind.NOTICE),
                ],
            ),
            AnswerSection(
                kind=SectionKind.RESEARCH,
                title="From the Research",
                sentences=[
                    Sentence(text="Homocysteine fell with the diet.", citations=[1], design="rct"),
                    Sentence(
                        text="No study here compared diets with supplements.",
                        kind=SentenceKind.EVIDENCE_GAP,
                    ),
                    Sentence(text="Folate intake was higher.", citations=[2]),
                ],
            ),
        ],
        references=[
            Reference(
                n=1,
                passage_id="p0000000000000001",
                document_id="scifact:1",
                tier="research",
                design="rct",
                title=BJN_TITLE,
                source="SciFact",
            ),
            Reference(
                n=2,
                passage_id="p0000000000000002",
                document_id="pubmedqa:2",
                tier="research",
                design="observational",
                title="Folate intake in adults",
                source="PubMedQA",
                year=2011,
            ),
        ],
    )


def test_references_a_clinician_can_judge(page, starting) -> None:  # noqa: F811
    store = starting.app.state.store
    stored = store.create(
        Audience.CLINICIAN, question="Does diet lower homocysteine?", answer=_stored_answer()
    )
    page.goto(f"{starting.url}/?conversation={stored.id}")
    article = wait_done(page, 1)
    shot(page, "references_and_notes", article)

    refs = article.locator(".refs li")
    assert (
        refs.nth(0)
        .locator(".ref-title")
        .inner_text()
        .endswith("Plasma homocysteine concentration is decreased by dietary intervention")
    )
    assert refs.nth(0).locator(".ref-source").inner_text() == "British Journal of Nutrition, 2003"
    assert refs.nth(1).locator(".ref-source").inner_text() == "journal not recorded, 2011"
    assert "SciFact" not in article.inner_text() and "PubMedQA" not in article.inner_text()

    # The evidence gap is a note: labelled, not a bulleted quote, no citation. (A notice is a
    # callout of its own, whose sentences are not notes inside it again.)
    assert article.locator("section.notice .sentence").inner_text() == "The evidence here is thin."
    note = article.locator(".sentence.note")
    assert note.count() == 1
    assert note.get_attribute("role") == "note"
    assert note.inner_text().startswith("Note:")
    assert note.locator("button.cite").count() == 0
    style = note.evaluate(
        "el => [getComputedStyle(el).listStyleType, getComputedStyle(el).borderLeftWidth,"
        " getComputedStyle(el).fontStyle]"
    )
    assert style == ["none", "4px", "italic"]
    quote_style = article.locator(".sentence:not(.note)").first.evaluate(
        "el => getComputedStyle(el).fontStyle"
    )
    assert quote_style == "normal"
    assert page.evaluate(CONTRAST)["failures"] == []  # the note's colours meet WCAG AA


# --------------------------------------------------------------------------- 6. embedding


def test_a_refused_origin_is_named_with_the_fix(page, ui_server, embedding_site) -> None:  # noqa: F811
    # ui_server allows no other origin (settings.api.cors_origins is empty).
    embedding_site.pages["/refused.html"] = f"""<!doctype html><html lang="en">
<head><title>Another site</title>
<script src="{ui_server.url}/static/followup-widget.js" defer></script></head>
<body><followup-chat api-base="{ui_server.url}"></followup-chat></body></html>"""
    page.goto(f"{embedding_site.origin}/refused.html")
    page.locator(f"{CHAT} textarea").wait_for()
    page.locator(f"{CHAT} textarea").fill(QUESTION)
    page.locator(f"{CHAT} textarea").press("Enter")
    error = page.locator(f"{CHAT} article.turn .error")
    error.wait_for(timeout=ANSWER_TIMEOUT_MS)
    screenshot(page, "cors_refused")
    text = error.inner_text()
    assert "not allowed" in text
    assert embedding_site.origin in text
    assert f"followup serve --cors-origin {embedding_site.origin}" in text
    assert "Could not reach" not in text
