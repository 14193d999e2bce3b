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

function describeSource(item) {
  const parts = [];
  if (item.source) parts.push(item.source);
  if (item.published_at) parts.push(item.published_at.slice(0, 10));
  parts.push(item.doc_id);
  return parts.join(" · ");
}

function titleNode(item) {
  const url = item.url ? safeUrl(item.url) : null;
  const title = item.title || item.doc_id;
  if (!url) return el("p", { className: "card-title", text: title });
  return el("p", { className: "card-title" },
    el("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: title }));
}

function citationCard(citation) {
  const span = answerInQuote(citation);
  return el("li", { className: "card citation" },
    titleNode(citation),
    el("p", { className: "meta",
      text: `${describeSource(citation)} · characters ${citation.start}–${citation.end}` }),
    el("blockquote", { className: "quote" },
      span ? highlighted(citation.quote, span[0], span[1]) : citation.quote));
}

function passageCard(passage) {
  return el("li", { className: "card passage" },
    titleNode(passage),
    el("p", { className: "meta",
      text: `${describeSource(passage)} · characters ${passage.start}–${passage.end}` }),
    el("blockquote", { className: "passage-text", text: passage.text }));
}

function confidenceNode(label, value) {
  const percent = Math.round((value || 0) * 100);
  const meter = el("meter", { min: "0", max: "1", value: String(value || 0) });
  return el("p", { className: "confidence", id: "confidence" },
    `${label}: ${percent}%`, meter);
}

function renderAnswer(doc) {
  const box = el("article", { className: "card", id: "answer-card" },
    el("h2", { text: "Answer" }),
    el("p", { className: "answer-text", id: "answer", text: doc.answer }));
  if (doc.attribution) {
    box.append(el("p", { className: "meta", id: "attribution", text: `according to ${doc.attribution}` }));
  }
  box.append(confidenceNode("Confidence", doc.confidence));
  if (doc.sentence) {
    const cited = doc.citations.find((c) => c.quote === doc.sentence && answerInQuote(c));
    const span = cited ? answerInQuote(cited) : answerInText(doc.sentence, doc.answer);
    box.append(el("blockquote", { id: "sentence" },
      span ? highlighted(doc.sentence, span[0], span[1]) : doc.sentence));
  }
  const sources = el("section", { className: "sources" }, el("h2", { text: "Sources" }),
    el("ol", { className: "cards", id: "citations" }, ...doc.citations.map(citationCard)));
  return [box, sources];
}

function renderAbstention(doc) {
  const box = el("article", { className: "card abstained", id: "answer-card" },
    el("h2", { text: "No answer" }),
    el("p", { className: "answer-text", id: "abstention", text: doc.message || "The sources do not say." }),
    confidenceNode("Confidence that the sources do not say", doc.confidence));
  const closest = el("section", { className: "sources" },
    el("h2", { text: "Closest passages" }),
    doc.passages.length
      ? el("ol", { className: "cards", id: "passages" }, ...doc.passages.slice(0, 3).map(passageCard))
      : el("p", { className: "meta", text: "No passage matched." }));
  return [box, closest];
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

async function ask(event) {
  event.preventDefault();
  const button = $("ask");
  const result = $("result");
  $("error").hidden = true;
  button.disabled = true;
  $("status").textContent = "Reading the sources…";
  try {
    const response = await fetch("/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(requestBody()),
    });
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
    const read = doc.passages.length === 1 ? "1 passage" : `${doc.passages.length} passages`;
    $("status").textContent = doc.abstained ? `Read ${read}; no answer.` : `Read ${read}.`;
    const url = new URL(window.location.href);
    url.searchParams.set("q", $("question").value);
    window.history.replaceState(null, "", url);
  } catch (err) {
    showError("Could not reach the server; is `rag serve` still running?");
    $("status").textContent = "";
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", ask);
  const q = new URLSearchParams(window.location.search).get("q");
  if (q) {
    $("question").value = q;
    $("ask-form").requestSubmit();
  }
});
