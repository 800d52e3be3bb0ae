/*
 * <followup-chat>: the followup chat UI as one web component, in one file, with no build step.
 *
 * The chat page at / uses this same element, so there is one UI implementation. Any site can
 * embed it (see docs/widget.md):
 *
 *   <script src="https://answers.example.org/static/followup-widget.js" defer></script>
 *   <followup-chat api-base="https://answers.example.org" audience="patient"></followup-chat>
 *
 * Attributes:
 *   api-base  Where the followup API lives. Default: the site this script was loaded from.
 *   api-key   Optional key, sent as "Authorization: Bearer <key>". Anyone who can see the page
 *             can read it: use a restricted key.
 *   audience  "clinician" (default) or "patient"; the user can switch it in the widget.
 *   heading   The widget's heading. Default: "Ask a medical question".
 *   persist   Where the open conversation's id is kept, so that a reload restores it:
 *             "local" (default: this browser's local storage, per API), "url" (the page's
 *             ?conversation= parameter; the chat page at / uses it) or "none". Except with
 *             "none", recent conversations are listed in local storage too.
 *
 * Events (bubbling, composed): "followup-answer" {answer, conversationId} when an answer is
 * complete, "followup-error" {status, detail} when a request fails, "followup-restored"
 * {conversationId, turns} when a stored conversation has been shown again.
 *
 * Safety: every string that comes from the service (answers, passages, titles) is inserted as a
 * text node; this file never parses markup from data, and links are made only from http(s) URLs.
 *
 * Streaming: the API answers POSTs with Server-Sent Events. EventSource can only GET, so the
 * stream is read with fetch() and a ReadableStream, and parsed here (see parseEventStream).
 */
(() => {
  "use strict";

  const TAG = "followup-chat";
  if (customElements.get(TAG)) return; // the script was included twice

  // The API root defaults to where this script came from: .../static/followup-widget.js -> ...
  // document.currentScript is only set while a classic (non-module) script first runs.
  const SCRIPT_SRC = document.currentScript ? document.currentScript.src : "";
  const DEFAULT_API_BASE = SCRIPT_SRC
    ? SCRIPT_SRC.replace(/[?#].*$/, "").replace(/\/static\/[^/]*$/, "")
    : "";

  const AUDIENCES = ["clinician", "patient"];
  const PERSIST_MODES = ["local", "url", "none"];
  const URL_PARAM = "conversation";
  const RECENT_LIMIT = 8;
  // While the index loads the API answers 503; /readyz is polled this often until it is ready.
  const READY_POLL_MS = 1000;
  const LOADING_TEXT = "Loading the evidence index…";
  const NOT_RECORDED = "journal not recorded";
  const AUDIENCE_LABEL = { clinician: "Clinicians", patient: "Patients" };
  const AUDIENCE_NOTE = { clinician: "Written for clinicians", patient: "Written for patients" };

  // Evidence tiers and study designs (corpus/types.py EvidenceTier), as readers know them.
  const DESIGN_LABEL = {
    guideline: "Guideline",
    systematic_review: "Systematic review",
    rct: "Randomised trial",
    observational: "Observational study",
    case_report: "Case report",
    preclinical: "Preclinical study",
    other: "Other research",
  };
  const GROUPS = [
    { tier: "guideline", title: "Guideline" },
    { tier: "research", title: "Research" },
  ];
  const DEFAULT_SECTION_TITLE = {
    bottom_line: "Bottom line",
    guidelines: "From the Guidelines",
    research: "From the Research",
    notice: "Please note",
  };

  // Boilerplate that PDF extraction leaves in a title: a leading citation of the journal
  // ("British Journal of Nutrition (2003), 89, 295–301"), a copyright line (the "q" is a
  // mis-extracted ©), a DOI, "All rights reserved", and footnote marks at the end.
  // journal (year), volume(issue), first–last page
  const TITLE_CITATION = new RegExp(
    String.raw`^\s*([A-Z][A-Za-z&.,' -]{2,80}?)\s+\((\d{4})\)\s*[,;]?\s*` +
      String.raw`\d+(?:\s*\(\d+\))?\s*[,:]\s*\d+(?:\s*[–-]\s*\d+)?\s*`,
  );
  const TITLE_BOILERPLATE = [
    /(?:^|\s)(?:©|\(c\)|q)\s*(?:the\s+)?authors?\s+(?:\d{4}\b)?/gi,
    /(?:^|\s)(?:copyright\s*)?(?:©|\(c\))\s*\d{4}\b[^.]*\./gi,
    /(?:^|\s)copyright\s+\d{4}\b[^.]*\./gi,
    /(?:^|\s)all rights reserved\.?/gi,
    /(?:^|\s)doi\s*:?\s*10\.\d{4,9}\/\S+/gi,
  ];

  /**
   * A reference title without extraction boilerplate: {title, journal, year}, where journal and
   * year are read from a leading citation when there is one (else null).
   */
  function cleanTitle(raw) {
    let title = typeof raw === "string" ? raw : "";
    let journal = null;
    let year = null;
    const citation = title.match(TITLE_CITATION);
    if (citation) {
      journal = citation[1].trim().replace(/[,.]$/, "");
      year = Number(citation[2]);
      title = title.slice(citation[0].length);
    }
    for (const pattern of TITLE_BOILERPLATE) title = title.replace(pattern, " ");
    title = title.replace(/[\s*†‡]+$/, "").replace(/\s+/g, " ").trim();
    if (!title) return { title: String(raw || "").trim(), journal: null, year: null };
    return { title, journal, year };
  }

  const squash = (text) => String(text || "").toLowerCase().replace(/[^a-z0-9]/g, "");

  /**
   * "Journal, year" for a reference. A research record whose source is only the data set it
   * came from (document ids are "<data set>:<id>", e.g. "scifact:4442799") has no journal:
   * that is said, never the data set's name.
   */
  function sourceLine(ref) {
    const source = String(ref.source || "").trim();
    const fromTitle = cleanTitle(ref.title);
    const year = ref.year ?? fromTitle.year;
    if ((ref.tier || "research") === "guideline") return [source, year].filter(Boolean).join(", ");
    const id = String(ref.document_id || "");
    const dataset = id.includes(":") ? id.slice(0, id.indexOf(":")) : "";
    const isDataset = !source || (dataset && squash(source) === squash(dataset));
    const journal = isDataset ? fromTitle.journal : source;
    return [journal || NOT_RECORDED, year].filter(Boolean).join(", ");
  }

  function sentenceMarkdown(sentence) {
    const text = String(sentence.text || "").split(/\s+/).join(" ");
    if ((sentence.kind || "quote") !== "quote") return `*Note: ${text}*`;
    const markers = (sentence.citations || []).map((n) => `[${n}]`).join("");
    const sample = sentence.sample_size && `n = ${sentence.sample_size}`;
    const study = [designLabel(sentence.design), sentence.year, sample].filter(Boolean).join(", ");
    let line = `${text} ${markers}`.trim();
    if (sentence.label) line = `*${sentence.label}:* ${line}`;
    if (sentence.design) line += ` *(${study})*`;
    return line;
  }

  /**
   * The answer as Markdown with its references, laid out like answer.render.to_markdown, but
   * with cleaned titles and "journal, year" as the page shows them.
   */
  function answerMarkdown(question, answer) {
    const blocks = [`# ${question}`];
    for (const section of answer.sections || []) {
      const sentences = section.sentences || [];
      if (section.kind === "notice") {
        blocks.push(sentences.map((s) => `> **Note:** ${s.text}`).join("\n"));
      } else if (section.kind === "bottom_line") {
        blocks.push(`## ${section.title}\n\n${sentences.map(sentenceMarkdown).join("\n\n")}`);
      } else {
        const items = sentences.map((s) => `- ${sentenceMarkdown(s)}`);
        blocks.push(`## ${section.title}\n\n${items.join("\n")}`);
      }
    }
    const references = answer.references || [];
    if (references.length) {
      const lines = ["## References"];
      for (const group of GROUPS) {
        const members = references.filter((ref) => (ref.tier || "research") === group.tier);
        if (!members.length) continue;
        lines.push("", `### ${group.title}`, "");
        for (const ref of members) {
          const title = cleanTitle(ref.title || ref.document_id).title;
          const parts = [`[${ref.n}] ${/[.?!]$/.test(title) ? title : `${title}.`}`];
          const where = sourceLine(ref);
          if (where) parts.push(`${where}.`);
          if (ref.url) parts.push(ref.url);
          parts.push(`(${designLabel(ref.design || ref.tier)})`);
          lines.push(`- ${parts.join(" ")}`);
        }
      }
      blocks.push(lines.join("\n"));
    }
    if (answer.disclaimer) blocks.push(`---\n\n*${answer.disclaimer}*`);
    return `${blocks.join("\n\n")}\n`;
  }

  /** Resolves after ms, or rejects with an AbortError as soon as signal aborts. */
  function delay(ms, signal) {
    return new Promise((resolve, reject) => {
      const aborted = () => {
        clearTimeout(timer);
        reject(new DOMException("The wait was stopped.", "AbortError"));
      };
      const timer = setTimeout(() => {
        if (signal) signal.removeEventListener("abort", aborted);
        resolve();
      }, ms);
      if (signal) {
        if (signal.aborted) aborted();
        else signal.addEventListener("abort", aborted, { once: true });
      }
    });
  }

  /** localStorage, when the page may use it (sandboxed frames and some privacy modes may not). */
  function readStored(key, fallback) {
    try {
      const value = localStorage.getItem(key);
      return value === null ? fallback : JSON.parse(value);
    } catch {
      return fallback;
    }
  }

  function writeStored(key, value) {
    try {
      if (value === null) localStorage.removeItem(key);
      else localStorage.setItem(key, JSON.stringify(value));
    } catch {
      // no storage: nothing persists, the chat still works
    }
  }

  const STYLES = `
:host {
  display: block;
  color-scheme: light;
  --fu-accent: #0b57b0;
  --fu-accent-strong: #08417f;
  --fu-text: #1d2733;
  --fu-muted: #4f5b67;
  --fu-bg: #ffffff;
  --fu-surface: #f4f6f9;
  --fu-border: #d5dce4;
  --fu-focus: #1a56db;
  --fu-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-family: var(--followup-font, var(--fu-font));
  font-size: 1rem;
  line-height: 1.55;
  color: var(--fu-text);
}
:host([hidden]) {
  display: none;
}
* {
  box-sizing: border-box;
}
.root {
  display: flex;
  flex-direction: column;
  height: 100%;
  background: var(--fu-bg);
  border: 1px solid var(--fu-border);
  border-radius: 12px;
  /* clip, not hidden: hidden would make this a scroll container and stop the question box
     from sticking to the bottom of the page's viewport */
  overflow: clip;
}
.head {
  display: flex;
  flex-wrap: wrap;
  gap: 0.75rem 1.5rem;
  align-items: center;
  justify-content: space-between;
  padding: 0.9rem 1.25rem;
  border-bottom: 1px solid var(--fu-border);
  background: var(--fu-surface);
}
.title {
  margin: 0;
  font-size: 1.15rem;
  font-weight: 650;
}
fieldset.audience {
  display: flex;
  align-items: center;
  gap: 0.25rem;
  margin: 0;
  padding: 0;
  border: 0;
}
fieldset.audience legend {
  float: left;
  margin-right: 0.5rem;
  white-space: nowrap;
  font-size: 0.9rem;
  color: var(--fu-muted);
}
.audience label {
  display: inline-flex;
  align-items: center;
  min-height: 32px;
  gap: 0.35rem;
  cursor: pointer;
  padding: 0.3rem 0.75rem;
  border: 1px solid var(--fu-border);
  border-radius: 999px;
  background: var(--fu-bg);
  font-size: 0.9rem;
}
.audience label:has(input:checked) {
  border-color: var(--fu-accent);
  background: #e7effa;
  color: var(--fu-accent-strong);
  font-weight: 600;
}
.audience input {
  accent-color: var(--fu-accent);
  margin: 0;
}
.log {
  flex: 1 1 auto;
  min-height: 0;
  overflow-y: auto;
  padding: 0 1.25rem;
}
.log:empty {
  display: none;
}
.turn {
  padding: 1.25rem 0 1.5rem;
  border-bottom: 1px solid var(--fu-border);
}
.turn:last-child {
  border-bottom: 0;
}
.question {
  margin: 0 0 0.35rem;
  font-size: 1.25rem;
  font-weight: 650;
  line-height: 1.35;
  color: var(--fu-text);
  overflow-wrap: anywhere;
  white-space: pre-wrap;
}
.meta {
  display: flex;
  flex-wrap: wrap;
  gap: 0.35rem 0.9rem;
  margin: 0 0 0.75rem;
  font-size: 0.85rem;
  color: var(--fu-muted);
}
.meta .searched q {
  font-style: italic;
}
.shift {
  margin: 0 0 0.9rem;
  padding: 0.5rem 0.75rem;
  border-radius: 8px;
  font-size: 0.9rem;
  background: #eef2f7;
  color: #2c3947;
  border-left: 4px solid #5a6b7d;
}
.pending {
  margin: 0.5rem 0;
  color: var(--fu-muted);
  font-size: 0.95rem;
}
.pending::before {
  content: "";
  display: inline-block;
  width: 0.7em;
  height: 0.7em;
  margin-right: 0.5em;
  border: 2px solid currentColor;
  border-right-color: transparent;
  border-radius: 50%;
  vertical-align: -0.05em;
  animation: spin 0.8s linear infinite;
}
@keyframes spin {
  to {
    transform: rotate(360deg);
  }
}
@media (prefers-reduced-motion: reduce) {
  .pending::before {
    animation: none;
  }
}
.section {
  margin: 0 0 1.1rem;
}
.section h4 {
  margin: 0 0 0.4rem;
  font-size: 0.8rem;
  font-weight: 700;
  letter-spacing: 0.06em;
  text-transform: uppercase;
  color: var(--fu-accent-strong);
}
.section p {
  margin: 0;
}
.section.bottom_line {
  padding: 0.85rem 1rem;
  border-radius: 10px;
  background: #eef4fc;
  border: 1px solid #c9daf1;
}
.section.bottom_line p {
  font-size: 1.05rem;
}
.section ul.sentences {
  margin: 0;
  padding-left: 1.15rem;
}
.section ul.sentences li {
  margin: 0 0 0.4rem;
}
.section.notice {
  padding: 0.7rem 1rem;
  border-radius: 8px;
  background: #fff6e5;
  border: 1px solid #f0d39b;
  border-left: 5px solid #a85c00;
  color: #4a2a00;
}
.section.notice h4 {
  color: #7a3e00;
}
/* The engine's own words about the evidence (an evidence gap): a note, never a quote. */
.sentence.note {
  list-style: none;
  margin-left: -1.15rem;
  padding: 0.35rem 0.7rem;
  border-left: 4px solid #8a6a2f;
  border-radius: 0 6px 6px 0;
  background: #faf5ea;
  color: #3d2c0c;
  font-style: italic;
}
p.sentence.note {
  margin: 0.4rem 0 0;
}
.sentence.note .note-label {
  font-style: normal;
  font-weight: 700;
  margin-right: 0.3rem;
}
.label {
  font-style: italic;
  color: #444;
}
/* A quote keeps the lines of a list it quotes ("Other symptoms may include / - Low fever"). */
.quote-text {
  white-space: pre-line;
}
.design {
  display: inline-block;
  margin-right: 0.4rem;
  padding: 0 0.45rem;
  border-radius: 4px;
  font-size: 0.72rem;
  font-weight: 650;
  line-height: 1.45rem;
  vertical-align: 0.08em;
  background: #e9eef8;
  color: #1e3a72;
  white-space: nowrap;
}
.cites {
  margin-left: 0.1em;
  white-space: nowrap;
}
/* 24 x 24 px at least: the WCAG 2.2 minimum target size, phones included. */
button.cite {
  display: inline-flex;
  align-items: center;
  justify-content: center;
  min-width: 24px;
  min-height: 24px;
  vertical-align: 0.1em;
  font: inherit;
  font-size: 0.72rem;
  font-weight: 700;
  line-height: 1;
  cursor: pointer;
  padding: 0 0.3em;
  margin: 0 0.08em;
  border: 1px solid #b7c8e3;
  border-radius: 4px;
  background: #f1f5fc;
  color: var(--fu-accent-strong);
}
button.cite:hover {
  background: var(--fu-accent);
  border-color: var(--fu-accent);
  color: #fff;
}
.refs {
  margin-top: 1.25rem;
  padding-top: 0.6rem;
  border-top: 1px solid var(--fu-border);
}
.refs > summary {
  display: flex;
  align-items: center;
  gap: 0.4rem;
  min-height: 32px;
  cursor: pointer;
  font-size: 0.8rem;
  font-weight: 700;
  letter-spacing: 0.06em;
  text-transform: uppercase;
  color: var(--fu-muted);
  list-style: none;
}
.refs > summary::-webkit-details-marker {
  display: none;
}
.refs > summary::before {
  content: "▸";
  font-size: 0.9rem;
  transition: transform 0.15s;
}
.refs[open] > summary::before {
  transform: rotate(90deg);
}
.followups > h4 {
  margin: 0 0 0.5rem;
  font-size: 0.8rem;
  font-weight: 700;
  letter-spacing: 0.06em;
  text-transform: uppercase;
  color: var(--fu-muted);
}
.refs h5 {
  margin: 0.6rem 0 0.3rem;
  font-size: 0.9rem;
  font-weight: 650;
}
.refs ol {
  margin: 0;
  padding: 0;
  list-style: none;
}
.refs li {
  display: grid;
  grid-template-columns: 2.2rem 1fr;
  gap: 0.1rem 0.25rem;
  margin: 0 0 0.55rem;
  font-size: 0.92rem;
}
.refs .num {
  color: var(--fu-muted);
  font-variant-numeric: tabular-nums;
  font-weight: 600;
}
.refs .ref-title {
  min-height: 24px;
  font: inherit;
  font-weight: 600;
  text-align: left;
  cursor: pointer;
  padding: 0;
  border: 0;
  background: none;
  color: var(--fu-accent);
  text-decoration: underline;
  text-underline-offset: 2px;
}
.refs .ref-title:hover {
  color: var(--fu-accent-strong);
}
.refs .ref-section {
  grid-column: 2;
  color: var(--fu-text);
  font-size: 0.88rem;
}
.refs .ref-meta a {
  display: inline-flex;
  align-items: center;
  min-height: 24px;
}
.refs .ref-meta {
  grid-column: 2;
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.2rem 0.6rem;
  color: var(--fu-muted);
  font-size: 0.85rem;
}
.badge {
  display: inline-block;
  padding: 0 0.5rem;
  border-radius: 999px;
  font-size: 0.74rem;
  font-weight: 700;
  line-height: 1.45rem;
  white-space: nowrap;
}
.badge.guideline {
  background: #e1f3e7;
  color: #14532d;
}
.badge.research {
  background: #e9eef8;
  color: #1e3a72;
}
a {
  color: var(--fu-accent);
  text-underline-offset: 2px;
}
a:hover {
  color: var(--fu-accent-strong);
}
.followups {
  margin-top: 1rem;
}
.followups ul {
  display: flex;
  flex-wrap: wrap;
  gap: 0.5rem;
  margin: 0;
  padding: 0;
  list-style: none;
}
.followups button {
  font: inherit;
  font-size: 0.9rem;
  cursor: pointer;
  text-align: left;
  padding: 0.4rem 0.8rem;
  border-radius: 999px;
  border: 1px solid #9fb5d6;
  background: var(--fu-bg);
  color: var(--fu-accent-strong);
}
.followups button:hover {
  background: #e7effa;
}
.disclaimer {
  margin: 1rem 0 0;
  font-size: 0.82rem;
  color: var(--fu-muted);
}
.error {
  margin: 0.75rem 0;
  padding: 0.7rem 1rem;
  border-radius: 8px;
  background: #fdecec;
  border: 1px solid #f3b5b5;
  border-left: 5px solid #b42318;
  color: #7a1010;
}
.error strong {
  display: block;
}
.error code {
  font-size: 0.9em;
  padding: 0 0.25em;
  border-radius: 4px;
  background: #fff;
}
.actions {
  display: flex;
  flex-wrap: wrap;
  gap: 0.5rem;
  margin: 0.75rem 0 0;
}
.actions:empty {
  display: none;
}
button.small {
  min-height: 32px;
  padding: 0.25rem 0.8rem;
  font: inherit;
  font-size: 0.88rem;
  font-weight: 600;
  cursor: pointer;
  border-radius: 8px;
  border: 1px solid #8c99a6;
  background: var(--fu-bg);
  color: var(--fu-text);
}
button.small:hover {
  background: #e9edf2;
}
button.small.retry {
  border-color: var(--fu-accent);
  color: var(--fu-accent-strong);
}
.convs {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.5rem 0.75rem;
  width: 100%;
}
.convs:has(> .recent[hidden]):has(> button[hidden]) {
  display: none;
}
.recent {
  font-size: 0.9rem;
}
.recent > summary {
  display: inline-flex;
  align-items: center;
  min-height: 32px;
  cursor: pointer;
  color: var(--fu-accent-strong);
  font-weight: 600;
}
.recent ol {
  margin: 0.25rem 0 0;
  padding: 0;
  list-style: none;
}
.recent li button {
  display: block;
  width: 100%;
  min-height: 32px;
  padding: 0.25rem 0.5rem;
  font: inherit;
  text-align: left;
  cursor: pointer;
  border: 0;
  border-radius: 6px;
  background: none;
  color: var(--fu-accent);
  text-decoration: underline;
  text-underline-offset: 2px;
  overflow-wrap: anywhere;
}
.recent li button:hover {
  background: #e7effa;
}
/* Sticky, as in chat applications: the question box stays in view at the bottom of the page
   (or of the widget, when the host gives it a height and the log scrolls instead). */
form.ask {
  position: sticky;
  bottom: 0;
  z-index: 1;
  padding: 1rem 1.25rem 1.1rem;
  border-top: 1px solid var(--fu-border);
  background: var(--fu-surface);
  box-shadow: 0 -4px 12px rgba(15, 30, 50, 0.06);
}
.log:empty + form.ask {
  border-top: 0;
}
form.ask label {
  display: block;
  margin-bottom: 0.35rem;
  font-weight: 650;
}
.row {
  display: flex;
  gap: 0.6rem;
  align-items: flex-end;
}
textarea {
  flex: 1;
  min-height: 2.9rem;
  max-height: 12rem;
  resize: vertical;
  padding: 0.6rem 0.75rem;
  font: inherit;
  color: var(--fu-text);
  background: var(--fu-bg);
  border: 1px solid #8c99a6;
  border-radius: 8px;
}
textarea::placeholder {
  color: #66717d;
}
.buttons {
  display: flex;
  gap: 0.5rem;
}
button.primary,
button.secondary {
  font: inherit;
  font-weight: 650;
  cursor: pointer;
  padding: 0.65rem 1.1rem;
  border-radius: 8px;
  white-space: nowrap;
}
button.primary {
  background: var(--fu-accent);
  color: #fff;
  border: 1px solid var(--fu-accent);
}
button.primary:hover {
  background: var(--fu-accent-strong);
}
button.primary:disabled {
  background: #7d8b99;
  border-color: #7d8b99;
  cursor: not-allowed;
}
button.secondary {
  background: var(--fu-bg);
  color: var(--fu-text);
  border: 1px solid #8c99a6;
}
button.secondary:hover {
  background: #e9edf2;
}
.hint {
  display: flex;
  flex-wrap: wrap;
  justify-content: space-between;
  gap: 0.5rem;
  margin: 0.4rem 0 0;
  font-size: 0.82rem;
  color: var(--fu-muted);
}
.linklike {
  min-height: 24px;
  font: inherit;
  cursor: pointer;
  padding: 0;
  border: 0;
  background: none;
  color: var(--fu-accent);
  text-decoration: underline;
  text-underline-offset: 2px;
}
.status {
  min-height: 1.2em;
}
[hidden] {
  display: none !important;
}
.sr-only {
  position: absolute;
  width: 1px;
  height: 1px;
  padding: 0;
  margin: -1px;
  overflow: hidden;
  clip: rect(0 0 0 0);
  white-space: nowrap;
  border: 0;
}
:focus-visible {
  outline: 3px solid var(--fu-focus);
  outline-offset: 2px;
  border-radius: 4px;
}
textarea:focus-visible {
  outline-offset: 1px;
  border-radius: 8px;
}
.audience label:has(input:focus-visible) {
  outline: 3px solid var(--fu-focus);
  outline-offset: 2px;
}
.audience input:focus-visible {
  outline: none;
}
dialog {
  width: min(42rem, calc(100vw - 2rem));
  max-height: calc(100vh - 2rem);
  padding: 0;
  border: 1px solid var(--fu-border);
  border-radius: 12px;
  color: var(--fu-text);
  background: var(--fu-bg);
  box-shadow: 0 20px 50px rgba(15, 30, 50, 0.3);
  font-family: var(--followup-font, var(--fu-font));
  line-height: 1.55;
}
dialog::backdrop {
  background: rgba(20, 30, 45, 0.55);
}
.dlg {
  display: flex;
  flex-direction: column;
  max-height: calc(100vh - 2rem);
}
.dlg-head {
  display: flex;
  gap: 1rem;
  align-items: flex-start;
  padding: 1rem 1.25rem 0.75rem;
  border-bottom: 1px solid var(--fu-border);
}
.dlg-head > div {
  flex: 1;
}
.dlg-kicker {
  margin: 0 0 0.15rem;
  font-size: 0.8rem;
  font-weight: 700;
  letter-spacing: 0.06em;
  text-transform: uppercase;
  color: var(--fu-muted);
}
.dlg-title {
  margin: 0;
  font-size: 1.15rem;
  line-height: 1.35;
}
button.close {
  font: inherit;
  font-size: 1.4rem;
  line-height: 1;
  cursor: pointer;
  width: 2.2rem;
  height: 2.2rem;
  border: 1px solid var(--fu-border);
  border-radius: 8px;
  background: var(--fu-bg);
  color: var(--fu-text);
}
button.close:hover {
  background: #e9edf2;
}
.dlg-body {
  overflow-y: auto;
  padding: 0.9rem 1.25rem 1.25rem;
}
.dlg-meta {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.3rem 0.7rem;
  margin: 0 0 0.75rem;
  font-size: 0.9rem;
  color: var(--fu-muted);
}
.dlg-section {
  margin: 0 0 0.35rem;
  font-size: 0.85rem;
  font-weight: 650;
  color: var(--fu-muted);
}
.passage-text {
  margin: 0 0 1rem;
  padding: 0.8rem 1rem;
  border-left: 4px solid #9fb5d6;
  background: var(--fu-surface);
  border-radius: 0 8px 8px 0;
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}
mark {
  background: #fff1a8;
  color: inherit;
  padding: 0 0.1em;
  border-radius: 2px;
}
.dlg-foot {
  margin: 0;
  font-size: 0.85rem;
  color: var(--fu-muted);
}
.dlg-foot {
  display: flex;
  flex-wrap: wrap;
  gap: 0.3rem 1.2rem;
}
.dlg-foot a {
  font-weight: 600;
}
@media (max-width: 36rem) {
  .head,
  form.ask {
    padding-left: 0.9rem;
    padding-right: 0.9rem;
  }
  .log {
    padding: 0 0.9rem;
  }
  /* The sticky box must not take a third of a phone's screen: the label is read to screen
     readers only (the placeholder shows what to type), the keyboard hint is left out (phones
     have no Shift+Enter), and the buttons sit beside the box. */
  form.ask {
    padding-top: 0.6rem;
    padding-bottom: 0.5rem;
  }
  form.ask label {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip: rect(0 0 0 0);
    white-space: nowrap;
  }
  .row {
    gap: 0.4rem;
  }
  .buttons {
    flex-direction: column;
    gap: 0.3rem;
  }
  button.primary,
  button.secondary {
    padding: 0.5rem 0.75rem;
  }
  .hint > span:first-child {
    display: none;
  }
  fieldset.audience {
    flex-wrap: wrap;
  }
  /* Too narrow for the legend and both choices on one line: the legend goes above them. */
  fieldset.audience legend {
    float: none;
    margin: 0 0 0.3rem;
    padding: 0;
  }
  .wide {
    display: none;
  }
}
`;

  /** Build an element. Children that are strings become text nodes: data never becomes markup. */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "hidden" || key === "disabled" || key === "checked")
        node[key] = Boolean(value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** The URL as a string if it is http(s), else null (no javascript:, data:, PMIDs...). */
  function safeHttpUrl(value) {
    if (typeof value !== "string" || !value) return null;
    try {
      const url = new URL(value);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  /** A link that opens an http(s) URL in a new tab without giving it this page. */
  function externalLink(url, label) {
    return h(
      "a",
      { href: url, target: "_blank", rel: "noopener noreferrer", class: "source-link" },
      label,
      h("span", { "aria-hidden": "true" }, " ↗"),
      h("span", { class: "sr-only" }, " (opens in a new tab)"),
    );
  }

  /** A non-URL source identifier worth showing as text (a PMID, DOI or PMCID), else null. */
  function identifier(value) {
    if (typeof value !== "string") return null;
    const text = value.trim();
    return /^(pmid|pmcid|doi)\s*:?\s*\S+$|^\d{4,9}$|^10\.\d{4,}\/\S+$/i.test(text)
      ? h("span", { class: "identifier" }, /^\d+$/.test(text) ? `PMID ${text}` : text)
      : null;
  }

  function designLabel(design) {
    if (!design) return "";
    return DESIGN_LABEL[design] || String(design).replace(/_/g, " ");
  }

  /** A readable message from a FastAPI error body: {"detail": "..."} or a list of problems. */
  function describeDetail(body, fallback) {
    const detail = body && typeof body === "object" && "detail" in body ? body.detail : body;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((item) => {
          if (!item || typeof item !== "object") return String(item);
          const where = Array.isArray(item.loc)
            ? item.loc.filter((p) => p !== "body").join(".")
            : "";
          return where ? `${where}: ${item.msg}` : String(item.msg);
        })
        .join("; ");
    }
    if (detail && typeof detail === "object") return JSON.stringify(detail);
    return fallback;
  }

  /** An error detail (text, or text and nodes) as plain text. */
  function detailText(detail) {
    if (!Array.isArray(detail)) return String(detail);
    return detail.map((part) => (part instanceof Node ? part.textContent : String(part))).join("");
  }

  class ApiError extends Error {
    /** heading: what the reader is told first, when the status alone would not say it. */
    constructor(status, detail, heading = null) {
      super(detailText(detail));
      this.status = status;
      this.detail = detail;
      this.heading = heading;
    }
  }

  /**
   * Parse a text/event-stream body into {event, data} objects (the WHATWG SSE rules that matter
   * here: blank line ends an event, "data:" lines join with "\n", ":" lines are comments).
   */
  async function* parseEventStream(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = "message";
    let data = [];
    // The last chunk ended in "\r": a "\n" opening the next one is the same line break.
    let pendingCR = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        if (pendingCR && buffer.startsWith("\n")) buffer = buffer.slice(1);
        pendingCR = buffer.endsWith("\r");
        const lines = buffer.split(/\r\n|\r|\n/);
        buffer = lines.pop(); // the last piece may be an incomplete line
        for (const line of lines) {
          if (line === "") {
            if (data.length) yield { event, data: data.join("\n") };
            event = "message";
            data = [];
          } else if (line.startsWith(":")) {
            continue; // comment / keep-alive
          } else {
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            let val = colon < 0 ? "" : line.slice(colon + 1);
            if (val.startsWith(" ")) val = val.slice(1);
            if (field === "event") event = val;
            else if (field === "data") data.push(val);
          }
        }
      }
    } finally {
      reader.releaseLock();
    }
    // A stream that ends without a final blank line still delivers its last event.
    if (buffer.startsWith("data:")) data.push(buffer.slice(5).replace(/^ /, ""));
    if (data.length) yield { event, data: data.join("\n") };
  }

  let instances = 0;

  class FollowupChat extends HTMLElement {
    static get observedAttributes() {
      return ["audience", "heading"];
    }

    constructor() {
      super();
      this._id = `fu${++instances}`;
      this._conversationId = null;
      this._controller = null;
      this._passages = new Map(); // passage id -> Promise of passage JSON
      this._turns = 0;
      this._turnList = []; // the turn records on screen, oldest first
      this._opening = 0; // which open() call is current, so a slower earlier one gives way
      this._dialogOpener = null;
      this._built = false;
    }

    connectedCallback() {
      if (this._built) return;
      this._build();
      const saved = this._savedConversationId();
      if (saved) this.open(saved);
      this._announceLoading();
    }

    attributeChangedCallback(name) {
      if (!this._built) return;
      if (name === "audience") this._syncAudience();
      if (name === "heading") this._title.textContent = this._heading();
    }

    // ---- public API -------------------------------------------------------------------------

    /** The API root (no trailing slash). */
    get apiBase() {
      const attr = this.getAttribute("api-base");
      return (attr !== null ? attr : DEFAULT_API_BASE).replace(/\/+$/, "");
    }

    get audience() {
      const value = (this.getAttribute("audience") || "").toLowerCase();
      return AUDIENCES.includes(value) ? value : "clinician";
    }

    set audience(value) {
      this.setAttribute("audience", value);
    }

    /** The server-side conversation this widget continues, once the first answer is done. */
    get conversationId() {
      return this._conversationId;
    }

    /** Ask a question (a follow-up once a conversation exists). Resolves when the answer ends. */
    ask(question) {
      return this._ask(String(question || "").trim());
    }

    get persist() {
      const value = (this.getAttribute("persist") || "").toLowerCase();
      return PERSIST_MODES.includes(value) ? value : "local";
    }

    /** Forget the conversation and clear the transcript (it stays in the recent list). */
    reset() {
      this._clear();
      this._saveCurrent(null);
      this._renderRecent();
      this._setStatus("");
      this._syncComposer();
      this._input.focus();
    }

    /**
     * Show a stored conversation (GET /v1/conversations/{id}) and continue it. Resolves when it
     * is on screen; a conversation the service no longer has is dropped from the recent list.
     */
    async open(id) {
      const ticket = ++this._opening;
      this._clear();
      this._setStatus("Loading the conversation…");
      let stored;
      try {
        const response = await this._fetchJson(`/v1/conversations/${encodeURIComponent(id)}`, {});
        stored = await response.json();
      } catch (error) {
        if (ticket !== this._opening) return;
        if (error instanceof ApiError && error.status === 404) {
          this._forget(id);
          this._setStatus("That conversation is no longer stored. Ask a new question.");
        } else {
          const detail = error instanceof ApiError ? error.detail : String(error);
          this._setStatus(`Could not load the conversation: ${detail}`);
        }
        this._syncComposer();
        return;
      }
      if (ticket !== this._opening) return;
      this._conversationId = String(stored.id);
      for (const storedTurn of stored.turns || []) {
        const turn = this._startTurn(storedTurn.question, storedTurn.audience);
        this._finish(turn, { answer: storedTurn.answer, conversation_id: stored.id });
        this._addActions(turn);
      }
      const turns = stored.turns || [];
      // The reader's last choice of wording comes back with the conversation.
      const last = turns[turns.length - 1];
      if (last && AUDIENCES.includes(last.audience)) this.setAttribute("audience", last.audience);
      this._remember(turns.length ? turns[0].question : "");
      this._setStatus("");
      this._syncComposer();
      this._emit("followup-restored", { conversationId: this._conversationId, turns: turns.length });
    }

    _clear() {
      if (this._controller) this._controller.abort();
      this._controller = null;
      this._conversationId = null;
      this._log.replaceChildren();
      this._turns = 0;
      this._turnList = [];
    }

    // ---- keeping conversations across reloads -----------------------------------------------

    /**
     * Keys per API; the open conversation also per element id, so that two widgets on one page
     * do not open each other's conversation (the recent list is shared).
     */
    _storageKey(name) {
      const base = `followup:${this.apiBase || location.origin}`;
      return name === "current" && this.id ? `${base}:${this.id}:current` : `${base}:${name}`;
    }

    _savedConversationId() {
      if (this.persist === "url") return new URLSearchParams(location.search).get(URL_PARAM);
      if (this.persist === "local") return readStored(this._storageKey("current"), null);
      return null;
    }

    /** Keep (or with null, drop) the open conversation's id where a reload will find it. */
    _saveCurrent(id) {
      if (this.persist === "url") {
        const url = new URL(location.href);
        if (id) url.searchParams.set(URL_PARAM, id);
        else url.searchParams.delete(URL_PARAM);
        if (url.href !== location.href) history.replaceState(history.state, "", url.href);
      } else if (this.persist === "local") {
        writeStored(this._storageKey("current"), id);
      }
    }

    _recent() {
      if (this.persist === "none") return [];
      const list = readStored(this._storageKey("recent"), []);
      return Array.isArray(list) ? list.filter((item) => item && typeof item.id === "string") : [];
    }

    /** The open conversation becomes the current one and the first of the recent list. */
    _remember(question) {
      const id = this._conversationId;
      if (!id) return;
      this._saveCurrent(id);
      if (this.persist !== "none") {
        const recent = this._recent();
        const known = recent.find((item) => item.id === id);
        const entry = { id, question: (known && known.question) || question, at: Date.now() };
        const others = recent.filter((item) => item.id !== id);
        writeStored(this._storageKey("recent"), [entry, ...others].slice(0, RECENT_LIMIT));
      }
      this._renderRecent();
    }

    /** A conversation the service no longer has leaves the recent list and the address. */
    _forget(id) {
      if (this.persist !== "none") {
        const others = this._recent().filter((item) => item.id !== id);
        writeStored(this._storageKey("recent"), others);
      }
      if (this._savedConversationId() === id) this._saveCurrent(null);
      this._renderRecent();
    }

    _renderRecent() {
      const others = this._recent().filter((item) => item.id !== this._conversationId);
      this._recentList.replaceChildren(
        ...others.map((item) =>
          h(
            "li",
            {},
            h(
              "button",
              { type: "button", onclick: () => this._openRecent(item.id) },
              item.question || "Untitled conversation",
            ),
          ),
        ),
      );
      this._recentBox.hidden = !others.length;
      this._recentSummary.textContent = `Recent conversations (${others.length})`;
    }

    async _openRecent(id) {
      this._recentBox.open = false;
      await this.open(id);
      this._input.focus();
    }

    // ---- building the shadow DOM -------------------------------------------------------------

    _heading() {
      return this.getAttribute("heading") || "Ask a medical question";
    }

    _build() {
      this._built = true;
      const root = this.attachShadow({ mode: "open" });
      root.append(h("style", {}, STYLES));
      const id = this._id;

      this._title = h("h2", { class: "title", id: `${id}-title` }, this._heading());
      this._radios = AUDIENCES.map((value) =>
        h("input", {
          type: "radio",
          name: `${id}-audience`,
          value,
          onchange: () => this._onAudienceChosen(value),
        }),
      );
      const audience = h(
        "fieldset",
        { class: "audience" },
        h("legend", {}, "Answers for"),
        this._radios.map((radio) => h("label", {}, radio, AUDIENCE_LABEL[radio.value])),
      );

      this._log = h("div", { class: "log", role: "region", "aria-label": "Conversation" });
      this._newButton = h(
        "button",
        { type: "button", class: "small", hidden: true, onclick: () => this.reset() },
        "New conversation",
      );
      this._recentSummary = h("summary", {}, "Recent conversations");
      this._recentList = h("ol", {});
      this._recentBox = h(
        "details",
        { class: "recent", hidden: true },
        this._recentSummary,
        this._recentList,
      );

      this._label = h("label", { for: `${id}-q` }, "Your question");
      this._input = h("textarea", {
        id: `${id}-q`,
        name: "question",
        rows: 2,
        maxlength: 2000,
        autocomplete: "off",
        placeholder: "e.g. Should ferritin be checked before starting iron tablets?",
        "aria-describedby": `${id}-hint`,
        onkeydown: (event) => this._onKeyDown(event),
      });
      this._send = h("button", { type: "submit", class: "primary" }, "Ask");
      this._stop = h(
        "button",
        {
          type: "button",
          class: "secondary",
          hidden: true,
          onclick: () => this._controller?.abort(),
        },
        "Stop",
      );
      this._status = h("span", { class: "status", role: "status" });
      const form = h(
        "form",
        { class: "ask", onsubmit: (event) => this._onSubmit(event) },
        this._label,
        h(
          "div",
          { class: "row" },
          this._input,
          h("div", { class: "buttons" }, this._send, this._stop),
        ),
        h(
          "p",
          { class: "hint" },
          h("span", { id: `${id}-hint` }, "Press Enter to send, Shift+Enter for a new line."),
          this._status,
        ),
      );

      this._dialog = this._buildDialog();
      root.append(
        h(
          "div",
          { class: "root", part: "root", role: "group", "aria-labelledby": `${id}-title` },
          h(
            "header",
            { class: "head" },
            this._title,
            audience,
            h("div", { class: "convs" }, this._newButton, this._recentBox),
          ),
          this._log,
          form,
        ),
        this._dialog,
      );
      this._syncAudience();
      this._renderRecent();
    }

    _buildDialog() {
      const id = this._id;
      this._dlgKicker = h("p", { class: "dlg-kicker" });
      this._dlgTitle = h("h2", { class: "dlg-title", id: `${id}-dlg-title` });
      this._dlgBody = h("div", { class: "dlg-body", id: `${id}-dlg-body` });
      const close = h(
        "button",
        {
          type: "button",
          class: "close",
          "aria-label": "Close passage",
          onclick: () => this._dialog.close(),
        },
        "×",
      );
      const dialog = h(
        "dialog",
        {
          class: "passage",
          "aria-labelledby": `${id}-dlg-title`,
          "aria-describedby": `${id}-dlg-body`,
          onclose: () => {
            // Escape and the close button both end here: give focus back to what opened it.
            const opener = this._dialogOpener;
            this._dialogOpener = null;
            if (opener && opener.isConnected) opener.focus();
          },
          onclick: (event) => {
            if (event.target === dialog) dialog.close(); // a click on the backdrop
          },
        },
        h(
          "div",
          { class: "dlg" },
          h("div", { class: "dlg-head" }, h("div", {}, this._dlgKicker, this._dlgTitle), close),
          this._dlgBody,
        ),
      );
      return dialog;
    }

    // ---- input ------------------------------------------------------------------------------

    _onKeyDown(event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this._input.form.requestSubmit();
      }
    }

    _onSubmit(event) {
      event.preventDefault();
      const question = this._input.value.trim();
      if (!question) {
        this._setStatus("Type a question first.");
        return;
      }
      if (this._controller) {
        this._setStatus("Wait for the current answer, or stop it.");
        return;
      }
      this._input.value = "";
      this._ask(question);
    }

    /**
     * The reader chose the other audience: the latest answer is written again for it, in place
     * on screen and in the stored conversation (POST .../regenerate), and later questions are
     * answered for it too.
     */
    _onAudienceChosen(value) {
      if (value === this.audience) return;
      this.setAttribute("audience", value);
      const latest = this._turnList[this._turnList.length - 1];
      if (latest && latest.done && this._conversationId && !this._controller) {
        this._ask(latest.question, { replace: latest, regenerate: true });
      } else if (this._turns) {
        this._setStatus(`Next answers: ${AUDIENCE_NOTE[value].toLowerCase()}.`);
      }
    }

    _syncAudience() {
      for (const radio of this._radios) radio.checked = radio.value === this.audience;
    }

    _syncComposer() {
      const followup = Boolean(this._conversationId);
      this._label.textContent = followup ? "Ask a follow-up question" : "Your question";
      this._input.placeholder = followup
        ? "e.g. What about during pregnancy?"
        : "e.g. Should ferritin be checked before starting iron tablets?";
      // "follow-up" is left out at phone width, where the box needs the room.
      this._send.replaceChildren("Ask", followup ? h("span", { class: "wide" }, " follow-up") : "");
      this._newButton.hidden = !this._turns;
      const busy = Boolean(this._controller);
      this._send.disabled = busy;
      this._stop.hidden = !busy;
    }

    _setStatus(text) {
      this._status.textContent = text;
    }

    // ---- talking to the API -----------------------------------------------------------------

    _headers(extra) {
      const headers = { Accept: "application/json", ...extra };
      const key = this.getAttribute("api-key");
      if (key) headers.Authorization = `Bearer ${key}`;
      return headers;
    }

    async _fetchJson(path, init) {
      let response;
      try {
        response = await fetch(`${this.apiBase}${path}`, {
          ...init,
          headers: this._headers(init && init.headers),
        });
      } catch (error) {
        if (error.name === "AbortError") throw error;
        throw await this._unreachable();
      }
      if (!response.ok) throw await this._errorFrom(response);
      return response;
    }

    /**
     * Why fetch() failed. A browser hides a CORS refusal behind the same TypeError as a dead
     * server; a "no-cors" request, whose answer the page cannot read but which succeeds when
     * the server answers at all, tells the two apart.
     */
    async _unreachable() {
      const where = this.apiBase || location.origin;
      let crossOrigin = false;
      try {
        crossOrigin = new URL(where, location.href).origin !== location.origin;
      } catch {
        crossOrigin = false;
      }
      if (crossOrigin) {
        try {
          await fetch(`${this.apiBase}/healthz`, { mode: "no-cors", cache: "no-store" });
          return new ApiError(
            0,
            [
              `The answer service at ${where} is running, but it does not accept requests from `,
              `this page's origin, ${location.origin}. Whoever runs the service can allow it: `,
              h("code", {}, `followup serve --cors-origin ${location.origin}`),
              " (or settings.api.cors_origins).",
            ],
            "This site is not allowed to use the answer service",
          );
        } catch {
          // the server does not answer at all
        }
      }
      return new ApiError(0, `Could not reach the answer service at ${where}.`);
    }

    /** A service still loading its index says so before the first question, until ready. */
    async _announceLoading() {
      try {
        if ((await this._readiness()).status !== "loading") return;
        this._setStatus(LOADING_TEXT);
        await this._untilReady();
      } catch {
        return; // not reachable or not allowed: the first question will say why
      }
      if (this._status.textContent === LOADING_TEXT) this._setStatus("Ready for questions.");
    }

    /** GET /readyz: {status: "ready" | "loading" | "failed", detail}. */
    async _readiness(signal) {
      const response = await fetch(`${this.apiBase}/readyz`, { cache: "no-store", signal });
      const body = await response.json().catch(() => ({}));
      return response.ok ? { ...body, status: "ready" } : body;
    }

    /** Resolves once /readyz says the engine is ready; rejects if it failed to load. */
    async _untilReady(signal) {
      for (;;) {
        const { status, detail } = await this._readiness(signal);
        if (status === "ready") return;
        if (status !== "loading") {
          throw new ApiError(503, detail || "the answer engine failed to load");
        }
        await delay(READY_POLL_MS, signal);
      }
    }

    /**
     * POST, and while the index is still loading (503, and /readyz says "loading") say so and
     * send again once it is ready: the reader never sees a raw 503 for a service that is
     * starting. Any other 503 is shown as it is.
     */
    async _post(turn, path, body, signal) {
      for (;;) {
        try {
          return await this._fetchJson(path, {
            method: "POST",
            body: JSON.stringify(body),
            headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
            signal,
          });
        } catch (error) {
          if (!(error instanceof ApiError) || error.status !== 503) throw error;
          const loading = await this._readiness(signal).then(
            (ready) => ready.status === "loading",
            (failure) => {
              if (failure.name === "AbortError") throw failure;
              return false;
            },
          );
          if (!loading) throw error;
          turn.pending.textContent = LOADING_TEXT;
          turn.node.dataset.loading = "true";
          this._setStatus(LOADING_TEXT);
          try {
            await this._untilReady(signal);
          } catch (failure) {
            throw failure.name === "AbortError" || failure instanceof ApiError ? failure : error;
          } finally {
            delete turn.node.dataset.loading;
          }
          turn.pending.textContent = "Searching the evidence…";
          this._setStatus("Searching the evidence…");
        }
      }
    }

    async _errorFrom(response) {
      let body = null;
      try {
        body = await response.json();
      } catch {
        body = null;
      }
      const reason = response.statusText || "request failed";
      return new ApiError(response.status, describeDetail(body, reason));
    }

    /**
     * Ask, and render the answer as it streams in.
     *
     * options.replace: a turn on screen to answer again in its place (retry, regenerate).
     * options.regenerate: that turn is the conversation's last; answer it again for the current
     * audience and store the new answer in its place (POST .../regenerate).
     */
    async _ask(question, { replace = null, regenerate = false } = {}) {
      if (!question || this._controller) return;
      const controller = new AbortController();
      this._controller = controller;
      const turn = this._startTurn(question, this.audience, replace);
      turn.regenerate = regenerate;
      this._syncComposer();
      this._setStatus(
        regenerate
          ? `Writing the answer again, ${AUDIENCE_NOTE[turn.audience].toLowerCase()}…`
          : "Searching the evidence…",
      );
      const conversation = this._conversationId
        ? `/v1/conversations/${encodeURIComponent(this._conversationId)}`
        : null;
      const path = !conversation
        ? "/v1/conversations"
        : `${conversation}/${regenerate ? "regenerate" : "followups"}`;
      const body = regenerate
        ? { audience: turn.audience, stream: true }
        : { question, audience: turn.audience, stream: true };
      try {
        const response = await this._post(turn, path, body, controller.signal);
        const type = response.headers.get("content-type") || "";
        if (type.includes("text/event-stream")) {
          await this._consume(turn, parseEventStream(response.body));
        } else {
          // A service that answered with plain JSON instead of a stream: render it whole.
          this._finish(turn, await response.json());
        }
        if (!turn.done)
          throw new ApiError(0, "The answer stream ended before the answer was complete.");
        this._remember(this._turnList[0].question);
        this._setStatus("Answer complete.");
        this._emit("followup-answer", {
          answer: turn.answer,
          conversationId: this._conversationId,
        });
      } catch (error) {
        if (error.name === "AbortError") {
          turn.pending.remove();
          turn.answerBox.append(h("p", { class: "pending-stopped meta" }, "Stopped."));
          turn.stopped = true;
          // (A turn no longer on screen was stopped by opening another conversation.)
          if (turn.node.isConnected) this._setStatus("Stopped.");
        } else {
          this._showError(turn, error);
        }
      } finally {
        if (this._controller === controller) this._controller = null;
        turn.pending.remove();
        if (turn.node.isConnected) this._addActions(turn);
        this._syncComposer();
      }
    }

    /** Copy (a finished answer) and Retry (the latest turn, after a stop or an error). */
    _addActions(turn) {
      const buttons = [];
      if (turn.done && turn.answer && Array.isArray(turn.answer.sections)) {
        const copy = h(
          "button",
          {
            type: "button",
            class: "small copy",
            "aria-label": "Copy this answer as Markdown, with its references",
            onclick: () => this._copy(turn, copy),
          },
          "Copy",
        );
        buttons.push(copy);
      }
      const latest = turn === this._turnList[this._turnList.length - 1];
      if (latest && (turn.stopped || turn.failed)) {
        buttons.push(
          h(
            "button",
            {
              type: "button",
              class: "small retry",
              onclick: () =>
                this._ask(turn.question, { replace: turn, regenerate: turn.regenerate }),
            },
            "Retry",
          ),
        );
      }
      turn.actions.replaceChildren(...buttons);
    }

    async _copy(turn, button) {
      const markdown = answerMarkdown(turn.question, turn.answer);
      try {
        await navigator.clipboard.writeText(markdown);
      } catch {
        button.textContent = "Copy failed";
        this._setStatus("The browser did not allow copying to the clipboard.");
        return;
      }
      button.textContent = "Copied";
      this._setStatus("Answer copied as Markdown.");
      setTimeout(() => {
        if (button.isConnected) button.textContent = "Copy";
      }, 2000);
    }

    async _consume(turn, events) {
      for await (const { event, data } of events) {
        let payload;
        try {
          payload = JSON.parse(data);
        } catch {
          continue; // not ours
        }
        const handler = this._handlers[event];
        if (handler) handler.call(this, turn, payload);
        if (turn.done || turn.failed) break;
      }
    }

    _emit(name, detail) {
      this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
    }

    // ---- rendering a turn -------------------------------------------------------------------

    _startTurn(question, audience, replace = null) {
      const n = replace ? replace.n : ++this._turns;
      const qid = `${this._id}-turn${n}`;
      const turn = {
        n,
        question,
        audience,
        sections: new Map(),
        references: null,
        refsReady: null,
        resolveRefs: null,
        sentenceCount: 0,
        done: false,
        failed: false,
        stopped: false,
        regenerate: false,
        answer: null,
      };
      turn.refsReady = new Promise((resolve) => {
        turn.resolveRefs = resolve;
      });
      turn.meta = h("p", { class: "meta" }, h("span", { class: "for" }, AUDIENCE_NOTE[audience]));
      turn.shift = h("p", { class: "shift", role: "note", hidden: true });
      turn.pending = h("p", { class: "pending" }, "Searching the evidence…");
      // Streamed sentences land here; screen readers read them as they arrive.
      turn.answerBox = h("div", { class: "answer", "aria-live": "polite" }, turn.pending);
      turn.extras = h("div", { class: "extras" });
      turn.actions = h("div", { class: "actions" });
      turn.node = h(
        "article",
        { class: "turn", "aria-labelledby": qid, "data-turn": n },
        h("h3", { class: "question", id: qid }, question),
        turn.meta,
        turn.shift,
        turn.answerBox,
        turn.actions,
        turn.extras,
      );
      if (replace && replace.node.isConnected) {
        replace.node.replaceWith(turn.node);
        this._turnList[this._turnList.indexOf(replace)] = turn;
      } else {
        // Only the latest turn keeps its sources open, and only it can be retried.
        for (const earlier of this._turnList) {
          const sources = earlier.extras.querySelector("details.refs");
          if (sources) sources.open = false;
          const retry = earlier.actions.querySelector(".retry");
          if (retry) retry.remove();
        }
        this._log.append(turn.node);
        this._turnList.push(turn);
      }
      turn.node.scrollIntoView({ block: "nearest" });
      return turn;
    }

    _section(turn, kind, title) {
      let section = turn.sections.get(kind);
      if (!section) {
        // Sections list their quotes one by one, as the Markdown does; the bottom line and
        // notices hold one paragraph per sentence.
        const listed = kind === "research" || kind === "guidelines";
        const body = listed ? h("ul", { class: "sentences" }) : h("div", {});
        section = {
          body,
          node: h(
            "section",
            { class: `section ${kind}`, "data-kind": kind },
            h("h4", {}, title || DEFAULT_SECTION_TITLE[kind] || kind),
            body,
          ),
        };
        turn.sections.set(kind, section);
        turn.pending.remove();
        turn.answerBox.append(section.node);
      }
      return section;
    }

    _sentence(turn, kind, sentence) {
      const section = this._section(turn, kind);
      const parts = [];
      if (kind === "notice") {
        // A notice section is one callout already: its sentences are its paragraphs.
        const attrs = { class: "sentence", "data-kind": sentence.kind || "notice" };
        section.body.append(h("p", attrs, h("em", {}, sentence.text)));
        turn.sentenceCount += 1;
        return;
      }
      if (sentence.kind && sentence.kind !== "quote") {
        // The engine's own words about the evidence (an evidence gap): a note, never a quote.
        const note = [h("span", { class: "note-label" }, "Note:"), sentence.text];
        const attrs = { class: "sentence note", role: "note", "data-kind": sentence.kind };
        section.body.append(h(section.body.tagName === "UL" ? "li" : "p", attrs, note));
        turn.sentenceCount += 1;
        return;
      }
      if (kind === "research" && sentence.design) {
        const study = [designLabel(sentence.design)];
        if (sentence.year) study.push(String(sentence.year));
        if (sentence.sample_size) study.push(`n = ${sentence.sample_size}`);
        parts.push(h("span", { class: "design" }, study.join(", ")));
      }
      if (sentence.label) parts.push(h("span", { class: "label" }, `${sentence.label}: `));
      parts.push(h("span", { class: "quote-text" }, sentence.text));
      const citations = Array.isArray(sentence.citations) ? sentence.citations : [];
      if (citations.length) {
        parts.push(
          h(
            "span",
            { class: "cites" },
            citations.map((n) =>
              h(
                "button",
                {
                  type: "button",
                  class: "cite",
                  "data-ref": n,
                  "aria-label": `Show reference ${n}`,
                  onclick: (event) =>
                    this._openCitation(turn, n, sentence.text, event.currentTarget),
                },
                `[${n}]`,
              ),
            ),
          ),
        );
      }
      if (section.body.tagName === "UL") {
        section.body.append(h("li", { class: "sentence" }, parts));
      } else {
        // One paragraph per quote: quotes from different sources never run together.
        section.body.append(h("p", { class: "sentence" }, parts));
      }
      turn.sentenceCount += 1;
    }

    _retrieval(turn, data) {
      const query = typeof data.standalone_query === "string" ? data.standalone_query.trim() : "";
      if (query && query.toLowerCase() !== turn.question.toLowerCase()) {
        turn.meta.append(h("span", { class: "searched" }, "Searched for: ", h("q", {}, query)));
      }
      if (data.topic_shift) {
        turn.shift.textContent =
          "This looks like a new topic, so the earlier questions were not used to search.";
        turn.shift.hidden = false;
      }
      if (typeof data.passages === "number") {
        const found = `${data.passages} passage${data.passages === 1 ? "" : "s"}`;
        turn.pending.textContent = `Found ${found}; writing the answer…`;
        this._setStatus("Writing the answer…");
      }
    }

    _references(turn, data) {
      const references = Array.isArray(data.references) ? data.references : [];
      turn.references = new Map(references.map((ref) => [ref.n, ref]));
      turn.resolveRefs(turn.references);
      for (const button of turn.answerBox.querySelectorAll("button.cite")) {
        const ref = turn.references.get(Number(button.dataset.ref));
        if (ref) {
          const title = cleanTitle(ref.title || ref.document_id).title;
          button.setAttribute("aria-label", `Show reference ${ref.n}: ${title}`);
        }
      }
      turn.extras.replaceChildren();
      if (references.length) {
        turn.extras.append(this._referenceList(turn, references));
        this._addSectionHeadings(turn, references);
      }
      const followups = Array.isArray(data.suggested_followups) ? data.suggested_followups : [];
      if (followups.length) {
        turn.extras.append(
          h(
            "div",
            { class: "followups" },
            h("h4", {}, "Suggested follow-ups"),
            h(
              "ul",
              {},
              followups.map((text) =>
                h(
                  "li",
                  {},
                  h("button", { type: "button", onclick: () => this._askSuggested(text) }, text),
                ),
              ),
            ),
          ),
        );
      }
      if (data.disclaimer) turn.extras.append(h("p", { class: "disclaimer" }, data.disclaimer));
    }

    _referenceList(turn, references) {
      // Open on the latest turn only (_startTurn closes it when the next question is asked).
      const box = h(
        "details",
        { class: "refs", open: true },
        h("summary", {}, `Sources (${references.length})`),
      );
      for (const group of GROUPS) {
        const refs = references.filter((ref) => (ref.tier || "research") === group.tier);
        if (!refs.length) continue;
        box.append(
          h("h5", {}, group.title),
          h(
            "ol",
            { "data-tier": group.tier },
            refs.map((ref) => {
              const url = safeHttpUrl(ref.url);
              return h(
                "li",
                { value: ref.n, "data-ref": ref.n },
                h("span", { class: "num", "aria-hidden": "true" }, `[${ref.n}]`),
                h(
                  "button",
                  {
                    type: "button",
                    class: "ref-title",
                    onclick: (event) => this._openCitation(turn, ref.n, null, event.currentTarget),
                  },
                  h("span", { class: "sr-only" }, `Reference ${ref.n}: `),
                  cleanTitle(ref.title || ref.document_id).title,
                ),
                h("span", { class: "ref-section", hidden: true }),
                h(
                  "span",
                  { class: "ref-meta" },
                  h("span", { class: `badge ${group.tier}` }, designLabel(ref.design || ref.tier)),
                  h("span", { class: "ref-source" }, sourceLine(ref)),
                  url ? externalLink(url, "Source") : identifier(ref.url),
                ),
              );
            }),
          ),
        );
      }
      return box;
    }

    /**
     * Several passages may come from one page ("Iron-Deficiency Anemia" twice): fetch each
     * passage (cached, so its dialog then opens at once) and show the heading it sits under.
     */
    _addSectionHeadings(turn, references) {
      for (const ref of references) {
        this._passage(ref.passage_id).then(
          (passage) => {
            const heading = typeof passage.section === "string" ? passage.section.trim() : "";
            const slot = turn.extras.querySelector(
              `.refs li[data-ref="${Number(ref.n)}"] .ref-section`,
            );
            const title = cleanTitle(ref.title).title;
            if (!slot || !heading || heading === title || heading === (ref.title || "").trim())
              return;
            slot.textContent = heading;
            slot.hidden = false;
          },
          () => this._passages.delete(ref.passage_id), // shown if the reader opens it
        );
      }
    }

    _finish(turn, data) {
      const answer = data && data.answer ? data.answer : data;
      if (data && data.conversation_id) this._conversationId = String(data.conversation_id);
      turn.answer = answer;
      turn.done = true;
      turn.node.dataset.done = "true"; // the stream's last event has been handled
      if (!answer || !Array.isArray(answer.sections)) return;
      // The streamed sentences are the answer; redraw from the full JSON only if events were
      // lost (or the service sent JSON instead of a stream).
      const total = answer.sections.reduce((sum, s) => sum + (s.sentences || []).length, 0);
      if (total !== turn.sentenceCount || turn.sections.size !== answer.sections.length) {
        turn.sections.clear();
        turn.sentenceCount = 0;
        turn.answerBox.replaceChildren();
        for (const section of answer.sections) {
          this._section(turn, section.kind, section.title);
          for (const sentence of section.sentences || [])
            this._sentence(turn, section.kind, sentence);
        }
      }
      if (!turn.references) {
        this._references(turn, {
          references: answer.references,
          suggested_followups: answer.suggested_followups,
          disclaimer: answer.disclaimer,
        });
      }
      if (answer.audience && answer.audience !== turn.audience && AUDIENCE_NOTE[answer.audience]) {
        turn.meta.querySelector(".for").textContent = AUDIENCE_NOTE[answer.audience];
      }
    }

    _showError(turn, error) {
      turn.failed = true;
      turn.pending.remove();
      const status = error instanceof ApiError ? error.status : 0;
      const detail = error instanceof ApiError ? error.detail : String(error && error.message);
      const answered = `The service answered ${status}${this._statusHint(status)}`;
      const fallback = status ? answered : "Something went wrong";
      const heading = (error instanceof ApiError && error.heading) || fallback;
      turn.answerBox.append(
        h("div", { class: "error", role: "alert" }, h("strong", {}, heading), detail),
      );
      this._setStatus("");
      turn.resolveRefs(turn.references || new Map());
      this._emit("followup-error", { status, detail: detailText(detail) });
    }

    _statusHint(status) {
      const hints = {
        401: " (an API key is needed)",
        403: " (this key is not allowed)",
        404: " (not found)",
        413: " (the request is too large)",
        422: " (the question was not accepted)",
        429: " (too many requests; try again shortly)",
      };
      return hints[status] || (status >= 500 ? " (a server error)" : "");
    }

    _askSuggested(text) {
      if (this._controller) {
        this._setStatus("Wait for the current answer, or stop it.");
        return;
      }
      this._input.focus();
      this._ask(text);
    }

    // ---- the passage dialog -----------------------------------------------------------------

    async _openCitation(turn, n, sentenceText, opener) {
      this._dialogOpener = opener;
      this._dlgKicker.textContent = `Reference [${n}]`;
      this._dlgTitle.textContent = "Loading…";
      this._dlgBody.replaceChildren(h("p", { class: "pending" }, "Loading the passage…"));
      if (!this._dialog.open) this._dialog.showModal();
      const references = turn.references || (await turn.refsReady);
      const ref = references.get(n);
      if (!ref) {
        this._dlgTitle.textContent = "Reference not found";
        this._dlgBody.replaceChildren(h("p", {}, `This answer has no reference [${n}].`));
        return;
      }
      this._dlgTitle.textContent = cleanTitle(ref.title || ref.document_id).title;
      let passage;
      try {
        passage = await this._passage(ref.passage_id);
      } catch (error) {
        this._passages.delete(ref.passage_id);
        const detail =
          error instanceof ApiError
            ? `${error.status ? `${error.status}: ` : ""}${detailText(error.detail)}`
            : String(error);
        this._dlgBody.replaceChildren(
          h(
            "div",
            { class: "error", role: "alert" },
            h("strong", {}, "Could not load the passage"),
            detail,
          ),
        );
        return;
      }
      if (this._dialogOpener !== opener) return; // another citation was opened meanwhile
      this._renderPassage(ref, passage, sentenceText);
    }

    _passage(id) {
      if (!this._passages.has(id)) {
        this._passages.set(
          id,
          this._fetchJson(`/v1/passages/${encodeURIComponent(id)}`, {}).then((r) => r.json()),
        );
      }
      return this._passages.get(id);
    }

    _renderPassage(ref, passage, sentenceText) {
      const title = cleanTitle(passage.title || ref.title || ref.document_id).title;
      this._dlgTitle.textContent = title;
      // GET /v1/passages: tier is the group ("guideline" | "research"), design the exact tier.
      const tier = GROUPS.some((g) => g.tier === passage.tier) ? passage.tier : ref.tier;
      const design = passage.design || ref.design || tier;
      const url = safeHttpUrl(passage.url) || safeHttpUrl(ref.url);
      const source = passage.source || ref.source;
      const year = passage.year ?? ref.year;
      const section = passage.section && passage.section !== title ? passage.section : "";
      const text = typeof passage.text === "string" ? passage.text : "";
      const licence = passage.licence || passage.license;

      // append() (not replaceChildren) so that the absent parts (null) are skipped.
      this._dlgBody.replaceChildren();
      append(this._dlgBody, [
        h(
          "p",
          { class: "dlg-meta" },
          h(
            "span",
            { class: `badge ${tier === "guideline" ? "guideline" : "research"}` },
            designLabel(design),
          ),
          h(
            "span",
            { class: "source" },
            sourceLine({ ...ref, source, year, title: passage.title || ref.title, tier }),
          ),
        ),
        section ? h("p", { class: "dlg-section" }, section) : null,
        h("blockquote", { class: "passage-text" }, this._highlight(text, sentenceText)),
        h(
          "p",
          { class: "dlg-foot" },
          url ? externalLink(url, "Read the source") : identifier(passage.url || ref.url),
          licence ? h("span", { class: "licence" }, `Licence: ${licence}`) : null,
        ),
      ]);
    }

    /** The passage text as nodes, with the cited sentence marked when it occurs verbatim. */
    _highlight(text, sentenceText) {
      const needle = (sentenceText || "").trim();
      const at = needle ? text.indexOf(needle) : -1;
      if (at < 0) return [text];
      return [text.slice(0, at), h("mark", {}, needle), text.slice(at + needle.length)];
    }
  }

  FollowupChat.prototype._handlers = {
    retrieval(turn, data) {
      this._retrieval(turn, data);
    },
    section(turn, data) {
      this._section(turn, data.kind, data.title);
    },
    sentence(turn, data) {
      this._sentence(turn, data.section, data);
    },
    references(turn, data) {
      this._references(turn, data);
    },
    done(turn, data) {
      this._finish(turn, data);
    },
    error(turn, data) {
      this._showError(
        turn,
        new ApiError(Number(data.status) || 0, describeDetail(data, "The answer failed.")),
      );
    },
  };

  // Exposed for tests and for pages that want the same SSE reader.
  FollowupChat.parseEventStream = parseEventStream;
  FollowupChat.safeHttpUrl = safeHttpUrl;
  FollowupChat.cleanTitle = cleanTitle;
  FollowupChat.sourceLine = sourceLine;
  FollowupChat.answerMarkdown = answerMarkdown;

  customElements.define(TAG, FollowupChat);
})();
