// The page to ask from. Every piece of article or question text enters the page as a text
// node (textContent / append(string)); nothing from the server is ever parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// Offsets from the server count Unicode code points (Python); JavaScript strings count UTF-16
// units, so slice by code points to highlight the right characters after an emoji.
function highlighted(text, from, to) {
  const chars = Array.from(text);
  const frag = document.createDocumentFragment();
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > chars.length || from >= to) {
    frag.append(text);
    return frag;
  }
  frag.append(chars.slice(0, from).join(""));
  frag.append(el("mark", { text: chars.slice(from, to).join("") }));
  frag.append(chars.slice(to).join(""));
  return frag;
}

// Where the answer lies in a citation's quote (code points), or null.
function answerInQuote(citation) {
  if (citation.answer_start == null || citation.answer_end == null) return null;
  return [citation.answer_start - citation.start, citation.answer_end - citation.start];
}

function answerInText(text, answer) {
  const at = answer ? text.indexOf(answer) : -1;
  if (at < 0) return null;
  const from = Array.from(text.slice(0, at)).length;
  return [from, from + Array.from(answer).length];
}

function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function titleNode(item) {
  const url = item.url ? safeUrl(item.url) : null;
  const title = item.title || item.doc_id;
  if (!url) return el("p", { className: "card-title", text: title });
  return el("p", { className: "card-title" },
    el("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: title }));
}

const LIKELY = 0.8; // at or above: "likely", the only band shown in colour
const numberFormat = new Intl.NumberFormat("en");

function plural(n, one, many) {
  return `${numberFormat.format(n)} ${n === 1 ? one : many}`;
}

function percent(value) {
  return `${Math.round((value || 0) * 100)}%`;
}

// The source of a quote, for people: title (linked), source, date. Ids stay in the details.
function citeLine(item) {
  const parts = [item.source, item.published_at ? item.published_at.slice(0, 10) : null]
    .filter(Boolean);
  const line = el("p", { className: "cite" }, titleNode(item));
  if (parts.length) line.append(el("span", { className: "meta", text: parts.join(" · ") }));
  return line;
}

function quoteCard(item, quote, span) {
  return el("li", { className: "card" },
    el("blockquote", { className: "quote" }, span ? highlighted(quote, span[0], span[1]) : quote),
    citeLine(item));
}

// "Likely" in colour at LIKELY and above; "Uncertain" below, in plain text.
function confidenceNode(value) {
  const likely = (value || 0) >= LIKELY;
  return el("p", { className: likely ? "confidence likely" : "confidence uncertain", id: "confidence" },
    el("strong", { text: likely ? "Likely" : "Uncertain" }),
    likely ? " — the sentence below states it." : " — read the sentence below before relying on it.");
}

function offsetsLine(label, item, extra) {
  return el("li", {}, el("span", { text: `${label} ` }),
    el("code", { text: item.doc_id }), `, characters ${item.start}–${item.end}${extra || ""}`);
}

// What only developers need: ids, character offsets, the raw confidence.
function detailsNode(doc) {
  const rows = [];
  if (doc.abstained) {
    rows.push(el("li", { text: `Confidence that the sources do not say: ${percent(doc.confidence)}` }));
    doc.passages.forEach((p, i) => rows.push(offsetsLine(`Passage [${i + 1}]`, p)));
  } else {
    rows.push(el("li", { text: `Confidence: ${percent(doc.confidence)} (answer type: ${doc.answer_type})` }));
    doc.citations.forEach((c, i) => {
      const answerAt = c.answer_start != null ? `; answer at ${c.answer_start}–${c.answer_end}` : "";
      rows.push(offsetsLine(`Citation [${i + 1}]`, c, answerAt));
    });
  }
  return el("details", { className: "details", id: "details" },
    el("summary", { text: "Details: ids and character offsets" }),
    el("ul", {}, ...rows));
}

function renderAnswer(doc) {
  const box = el("article", { className: "card", id: "answer-card" },
    el("h2", { text: "Answer" }),
    el("p", { className: "answer-text", id: "answer", text: doc.answer }));
  if (doc.attribution) {
    box.append(el("p", { className: "meta", id: "attribution", text: `according to ${doc.attribution}` }));
  }
  box.append(confidenceNode(doc.confidence));
  // The sentence is shown once: with its source under it, and left out of the other sources.
  const cited = doc.citations.find((c) => c.quote === doc.sentence) || null;
  if (doc.sentence) {
    const span = cited && answerInQuote(cited) ? answerInQuote(cited) : answerInText(doc.sentence, doc.answer);
    box.append(el("blockquote", { id: "sentence" },
      span ? highlighted(doc.sentence, span[0], span[1]) : doc.sentence));
    if (cited) box.append(citeLine(cited));
  }
  if (doc.message) box.append(el("p", { className: "disputed-note", id: "message", text: doc.message }));
  const others = doc.citations.filter((c) => c !== cited);
  const parts = [box];
  const timeline = reportsNode(doc);
  if (timeline) parts.push(timeline);
  if (others.length) {
    parts.push(el("section", { className: "sources" }, el("h2", { text: "Also cited" }),
      el("ol", { className: "cards", id: "citations" },
        ...others.map((c) => quoteCard(c, c.quote, answerInQuote(c))))));
  }
  parts.push(detailsNode(doc));
  return parts;
}

const AGREEMENT = {
  single: "One report",
  consistent: "Sources agree",
  updated: "Figures were updated over time",
  disputed: "Sources disagree",
};

// What several articles say: a short timeline, oldest first; each figure opens its quote.
function reportsNode(doc) {
  const reports = doc.reports || [];
  if (!doc.agreement || reports.length < 2) return null;
  const chosen = new Set(doc.citations.map((c) => `${c.doc_id}:${c.answer_start}`));
  const items = reports.map((r) => {
    const isChosen = r.citations.some((c) => chosen.has(`${c.doc_id}:${c.answer_start}`));
    // when the figure was given (the timeline's order), and the event's day where it differs
    const published = (r.published_at || "").slice(0, 10);
    const when = published && r.event_date && r.event_date !== published
      ? `${published} (event ${r.event_date})` : published || r.event_date || "undated";
    const who = r.attribution || r.source || "unattributed";
    const first = r.citations[0];
    const details = el("details", { className: "report-quote" },
      el("summary", {}, el("strong", { text: r.answer }), ` — ${who}, ${when}`,
        r.change ? el("span", { className: "meta", text: " (update)" }) : null,
        isChosen ? el("span", { className: "meta", text: " (the answer)" }) : null),
      el("ol", { className: "cards" }, ...r.citations.map((c) => quoteCard(c, c.quote, answerInQuote(c)))));
    const cls = ["report", isChosen ? "chosen" : "", doc.agreement === "disputed" ? "disputed" : ""]
      .filter(Boolean).join(" ");
    return first ? el("li", { className: cls }, details) : null;
  });
  const sources = doc.independent_sources;
  const head = `${AGREEMENT[doc.agreement] || doc.agreement}${doc.as_of ? `, as of ${doc.as_of}` : ""}` +
    (sources ? ` (${plural(sources, "independent source", "independent sources")})` : "");
  return el("section", { className: "sources", id: "reports" },
    el("h2", { text: "What the sources report" }),
    el("p", { className: doc.agreement === "disputed" ? "meta disputed-note" : "meta", id: "agreement", text: head }),
    el("ol", { className: "timeline" }, ...items));
}

function renderAbstention(doc) {
  const box = el("article", { className: "card abstained", id: "answer-card" },
    el("h2", { text: "No answer" }),
    el("p", { className: "answer-text", id: "abstention", text: doc.message || "The sources do not say." }));
  const closest = el("section", { className: "sources" },
    el("h2", { text: "Closest passages" }),
    doc.passages.length
      ? el("ol", { className: "cards", id: "passages" },
        ...doc.passages.slice(0, 3).map((p) => quoteCard(p, p.text, null)))
      : el("p", { className: "meta", text: "No passage matched." }));
  return [box, closest, detailsNode(doc)];
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  $("result").hidden = true;
}

function requestBody() {
  const body = { question: $("question").value };
  const topK = $("top-k").value.trim();
  if (topK) body.top_k = Number(topK);
  const filters = {};
  if ($("source").value.trim()) filters.source = $("source").value.trim();
  if ($("published-after").value) filters.published_after = $("published-after").value;
  if ($("published-before").value) filters.published_before = $("published-before").value;
  if (Object.keys(filters).length) body.filters = filters;
  return body;
}

// How many articles the index holds (from /readyz), or null when it does not say.
async function articleCount() {
  try {
    const response = await fetch("/readyz", { headers: { Accept: "application/json" } });
    const ready = response.ok ? await response.json() : null;
    return ready && Number.isInteger(ready.articles) ? ready.articles : null;
  } catch {
    return null;
  }
}

// "Searched 1,377 articles, read 5 passages." (what the answer was drawn from)
function statusLine(doc, articles, filtered) {
  const read = `read ${plural(doc.passages.length, "passage", "passages")}`;
  let line = articles == null
    ? `Read ${plural(doc.passages.length, "passage", "passages")}`
    : `Searched ${plural(articles, "article", "articles")}${filtered ? " (filtered)" : ""}, ${read}`;
  line += doc.abstained ? "; the sources do not say." : ".";
  return line;
}

// Keep the question in the address (/?q=...), so an answer can be shared or bookmarked.
function remember(question) {
  const url = new URL(window.location.href);
  if (url.searchParams.get("q") === question) return;
  url.searchParams.set("q", question);
  window.history.pushState({ q: question }, "", url);
}

async function ask(event) {
  if (event) event.preventDefault();
  const button = $("ask");
  const result = $("result");
  const body = requestBody();
  $("error").hidden = true;
  button.disabled = true;
  result.setAttribute("aria-busy", "true");
  $("status").textContent = "Reading the sources…";
  try {
    const [response, articles] = await Promise.all([
      fetch("/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      }),
      articleCount(),
    ]);
    let doc = null;
    try {
      doc = await response.json();
    } catch {
      doc = null;
    }
    if (!response.ok) {
      const message = doc && doc.error ? doc.error.message : `the server answered ${response.status}`;
      showError(`Could not answer: ${message}`);
      $("status").textContent = "";
      return;
    }
    result.replaceChildren(...(doc.abstained ? renderAbstention(doc) : renderAnswer(doc)));
    result.hidden = false;
    $("status").textContent = statusLine(doc, articles, Boolean(body.filters));
    remember(body.question);
  } catch (err) {
    showError("Could not reach the server; is `rag serve` still running?");
    $("status").textContent = "";
  } finally {
    button.disabled = false;
    result.removeAttribute("aria-busy");
  }
}

function askFromAddress() {
  const q = new URLSearchParams(window.location.search).get("q");
  if (!q) return;
  $("question").value = q;
  ask(null);
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", ask);
  window.addEventListener("popstate", askFromAddress);
  // "/" anywhere but in a field puts the cursor in the question, as on many search pages.
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      $("question").focus();
    }
  });
  askFromAddress();
});
