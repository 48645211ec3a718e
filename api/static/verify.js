// CertLedger verification page (GET /verify). Plain ES module, no build step, no framework.
//
// Inputs: camera (getUserMedia + jsQR on frames), an uploaded image (jsQR on a canvas; if that
// finds nothing, the image is POSTed as multipart field "image"), or pasted text (a CLC1:/CLF1:
// QR payload, a URL carrying ?payload=, or a JSON certificate document).
// Output: POST /v1/verify?verifier_region=R and the verdict, shown large with colour, icon and
// word; a network failure or 5xx is the ERROR state ("try again"), never INVALID/REVOKED.
// Every string comes from /static/i18n.js; data is only ever inserted with textContent.

import { DEFAULT_LANG, fieldLabel, has, normalizeLang, segments, t as translate } from "/static/i18n.js";

const JSQR_URL = "/static/vendor/jsQR.js";
const VERIFY_URL = "/v1/verify";
const TYPES_URL = "/v1/types";
const STORE = { lang: "certledger.verify.lang", region: "certledger.verify.region", large: "certledger.verify.large" };
const MAX_UPLOAD_MB = 30; // a picture this large is refused outright
const SERVER_IMAGE_BYTES = 3.5 * 1024 * 1024; // the API takes at most 4 MiB: larger pictures are shrunk first
const SERVER_IMAGE_DIM = 2400;
const DECODE_BUDGET_MS = 1500; // local decoding of one picture; then the server tries
const TIMEOUT_MS = 20000;
const PAYLOAD_RE = /^CL[A-Z][0-9]+:/; // CLC1:, CLF1:, and later versions: the server decides

const VERDICTS = {
  VALID: { tone: "ok", icon: "check" },
  REVOKED: { tone: "bad", icon: "cross" },
  SUSPENDED: { tone: "warn", icon: "pause" },
  EXPIRED: { tone: "warn", icon: "clock" },
  NOT_RECOGNIZED: { tone: "warn", icon: "ban" },
  INVALID: { tone: "bad", icon: "cross" },
  UNKNOWN: { tone: "grey", icon: "question" },
  ERROR: { tone: "error", icon: "bang" },
};

const RING = '<circle cx="24" cy="24" r="20.5" fill="none" stroke="currentColor" stroke-width="4"/>';
const ICONS = {
  check: RING + '<path d="M14 24.5l7 7 13-14" fill="none" stroke="currentColor" stroke-width="5" stroke-linecap="round" stroke-linejoin="round"/>',
  cross: RING + '<path d="M16.5 16.5l15 15M31.5 16.5l-15 15" fill="none" stroke="currentColor" stroke-width="5" stroke-linecap="round"/>',
  pause: RING + '<path d="M19 15.5v17M29 15.5v17" fill="none" stroke="currentColor" stroke-width="5" stroke-linecap="round"/>',
  clock: RING + '<path d="M24 12.5V25l8 5" fill="none" stroke="currentColor" stroke-width="4.5" stroke-linecap="round" stroke-linejoin="round"/>',
  ban: RING + '<path d="M10.5 10.5l27 27" fill="none" stroke="currentColor" stroke-width="4.5" stroke-linecap="round"/>',
  question: RING + '<path d="M18 18.5a6.2 6.2 0 1 1 8.6 5.7c-1.8.8-2.6 2-2.6 3.8v1.5" fill="none" stroke="currentColor" stroke-width="4.5" stroke-linecap="round"/><circle cx="24" cy="35.5" r="2.8" fill="currentColor"/>',
  bang: RING + '<path d="M24 12.5v14" fill="none" stroke="currentColor" stroke-width="5" stroke-linecap="round"/><circle cx="24" cy="34.5" r="3" fill="currentColor"/>',
  dash: RING + '<path d="M15 24h18" fill="none" stroke="currentColor" stroke-width="5" stroke-linecap="round"/>',
};

const $ = (id) => document.getElementById(id);
const el = {};

const state = {
  lang: DEFAULT_LANG,
  large: false,
  view: null, // null | {kind:"busy"} | {kind:"error", ...} | {kind:"result", body, message}
  lastInput: null,
  seq: 0,
  scanStatus: null, // {key, vars, error}
  uploadStatus: null,
  types: null, // type code -> {title:{zh,en}, fields:{name:{zh,en}}, order:[names]}
  typesLoading: false,
};

let cam = null; // {stream, timer, canvas, ctx, frame, lastBad}
let jsqrPromise = null;

// ------------------------------------------------------------------ small helpers

function tr(key, vars) {
  return translate(state.lang, key, vars);
}

function store(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    /* storage may be unavailable (private mode): preferences then last one visit */
  }
}

function recall(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** A query/fragment parameter, form-decoded ("+" is a space, as every standard encoder writes
 * it: Base45 payloads contain spaces, and a real "+" arrives as %2B). Parsed by hand so that
 * the fragment (#payload=..., which never reaches server logs) works the same way. */
function rawParam(query, name) {
  const text = query.replace(/^[?#]/, "");
  if (!text) return null;
  for (const part of text.split("&")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (key !== name) continue;
    const value = eq < 0 ? "" : part.slice(eq + 1).replace(/\+/g, " ");
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return null;
}

function removeParams(names) {
  const keep = (q) =>
    q
      .replace(/^[?#]/, "")
      .split("&")
      .filter((p) => p && !names.includes(p.split("=")[0]))
      .join("&");
  const search = keep(location.search);
  const hash = keep(location.hash);
  const url = location.pathname + (search ? "?" + search : "") + (hash ? "#" + hash : "");
  try {
    history.replaceState(null, "", url);
  } catch {
    /* ignore */
  }
}

function svg(name) {
  return '<svg viewBox="0 0 48 48" aria-hidden="true" focusable="false">' + ICONS[name] + "</svg>";
}

function regionName(code) {
  const c = String(code);
  return has(state.lang, "region." + c) ? tr("region." + c) : null;
}

function regionText(code) {
  if (code === null || code === undefined || code === "" || code === 0) return null;
  const name = regionName(code);
  if (!name) return String(code);
  return state.lang === "en" ? `${name} (${code})` : `${name}（${code}）`;
}

function typeText(type) {
  if (!type) return "";
  if (has(state.lang, "type." + type)) return tr("type." + type);
  const info = state.types && state.types[type];
  const title = info && info.title && (state.lang === "en" ? info.title.en : info.title.zh);
  return title || String(type);
}

function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  try {
    return new Intl.DateTimeFormat(state.lang, {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
      hour12: false, timeZoneName: "short",
    }).format(d);
  } catch {
    return String(iso);
  }
}

function msgText(m) {
  if (m === null || m === undefined) return "";
  if (typeof m === "string") return m;
  return tr(m.key, m.vars);
}

// ------------------------------------------------------------------ input classification

/** What a piece of text (QR content or pasted text) asks to verify:
 * {kind:"payload", payload} | {kind:"document", document} | {error: i18n key}. */
function classify(text, notOursKey) {
  const s = String(text || "").trim();
  if (!s) return { error: "paste.empty" };
  if (PAYLOAD_RE.test(s)) return { kind: "payload", payload: s };
  if (s.startsWith("{")) {
    let doc;
    try {
      doc = JSON.parse(s);
    } catch {
      return { error: "paste.badjson" };
    }
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) return { error: "paste.badjson" };
    // a request body pasted whole: {"payload": "..."} or {"document": {...}}
    const keys = Object.keys(doc);
    if (keys.length === 1 && typeof doc.payload === "string") return classify(doc.payload, notOursKey);
    if (keys.length === 1 && doc.document && typeof doc.document === "object" && !Array.isArray(doc.document)) {
      return { kind: "document", document: doc.document };
    }
    return { kind: "document", document: doc };
  }
  if (/^https?:\/\//i.test(s)) {
    // a QR on paper may point at /verify?payload=... (or #payload=...)
    try {
      const u = new URL(s);
      const p = rawParam(u.search, "payload") ?? rawParam(u.hash, "payload");
      if (p && PAYLOAD_RE.test(p.trim())) return { kind: "payload", payload: p.trim() };
    } catch {
      /* not a URL */
    }
  }
  return { error: notOursKey };
}

// ------------------------------------------------------------------ verification request

function currentRegion() {
  return el.region.value || "";
}

function verifyUrl() {
  const r = currentRegion();
  return r ? `${VERIFY_URL}?verifier_region=${encodeURIComponent(r)}` : VERIFY_URL;
}

async function fetchWithTimeout(url, opts) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
  try {
    return await fetch(url, { ...opts, signal: ctrl.signal });
  } finally {
    clearTimeout(timer);
  }
}

function errorState(message, extra) {
  // the system could not decide: the grey "try again" state, never INVALID/REVOKED
  return { kind: "result", body: { verdict: "ERROR", checks: [] }, message, ...(extra || {}) };
}

/** input: {kind:"payload", payload} | {kind:"document", document} | {kind:"image", file} */
async function runVerify(input, { focusResult = true } = {}) {
  const my = ++state.seq;
  state.lastInput = input;
  setView({ kind: "busy" });
  announce(tr("result.checking"));

  const headers = { Accept: "application/json", "Accept-Language": state.lang === "en" ? "en" : "zh-CN,zh;q=0.9" };
  let opts;
  if (input.kind === "image") {
    const form = new FormData();
    form.append("image", input.file, input.file.name || "qr.png");
    opts = { method: "POST", headers, body: form };
  } else {
    const body = input.kind === "document" ? { document: input.document } : { payload: input.payload };
    opts = { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body) };
  }

  let res;
  try {
    res = await fetchWithTimeout(verifyUrl(), opts);
  } catch (e) {
    if (my !== state.seq) return;
    finish(errorState({ key: e && e.name === "AbortError" ? "error.timeout" : "error.network" }), focusResult);
    return;
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (my !== state.seq) return;

  const err = body && typeof body.error === "object" && body.error ? body.error : null;
  const serverMsg = err && typeof err.message === "string" ? err.message : null;
  const code = err && err.code ? String(err.code) : "";

  let view;
  if (res.status >= 500) {
    view = errorState(serverMsg || { key: "error.server", vars: { status: res.status } }, { code });
  } else if (res.status === 408 || res.status === 429) {
    view = errorState(serverMsg || { key: "error.busy" }, { code });
  } else if (body && typeof body.verdict === "string") {
    view = { kind: "result", body };
  } else if (res.ok) {
    view = errorState({ key: "error.badresponse" });
  } else {
    // a problem with the input: say it in the page's language when the code is known
    const known = code && has(state.lang, "apierr." + code);
    view = {
      kind: "error",
      title: { key: "error.heading" },
      message: known ? { key: "apierr." + code } : serverMsg || { key: "error.client", vars: { status: res.status } },
      detail: known ? serverMsg : null,
      code,
    };
  }
  finish(view, focusResult);
}

function finish(view, focusResult) {
  if (state.uploadStatus && !state.uploadStatus.error) state.uploadStatus = null;
  if (state.scanStatus && !state.scanStatus.error) state.scanStatus = null;
  renderStatuses();
  setView(view);
  if (view.kind === "result") {
    const b = view.body;
    const key = VERDICTS[b.verdict] ? "verdict." + b.verdict : "verdict.OTHER";
    announce(tr("result.announce", { word: tr(key), explain: explainText(b) }));
  } else {
    announce("");
  }
  const target = view.kind === "result" ? el.verdict : el.error;
  if (focusResult) {
    target.focus({ preventScroll: true });
  }
  scrollIntoViewIfNeeded(el.result);
  if (view.kind === "result" && view.body.disclosed_fields) loadTypes();
}

function scrollIntoViewIfNeeded(node) {
  const r = node.getBoundingClientRect();
  if (r.top < 0 || r.top > window.innerHeight - 120) {
    const reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    node.scrollIntoView({ block: "start", behavior: reduce ? "auto" : "smooth" });
  }
}

function announce(text) {
  el.live.textContent = "";
  if (text) setTimeout(() => (el.live.textContent = text), 60);
}

function showLocalError(key, vars) {
  state.seq++; // a pending request's answer no longer applies
  setView({ kind: "error", title: { key: "error.heading" }, message: { key, vars }, code: "" });
  scrollIntoViewIfNeeded(el.result);
}

// ------------------------------------------------------------------ rendering

function setView(view) {
  state.view = view;
  render();
}

function render() {
  const v = state.view;
  el.empty.hidden = !!v;
  el.busy.hidden = !(v && v.kind === "busy");
  el.error.hidden = !(v && v.kind === "error");
  const isResult = !!(v && v.kind === "result");
  el.verdict.hidden = !isResult;
  el.explain.hidden = !isResult;
  el.details.hidden = true;
  el.message.hidden = true;
  el.retryRow.hidden = true;
  el.verifyButton.disabled = !!(v && v.kind === "busy");
  el.result.setAttribute("aria-busy", v && v.kind === "busy" ? "true" : "false");
  if (!isResult) {
    el.verdict.dataset.verdict = "";
    el.verdict.removeAttribute("data-tone");
  }
  if (v && v.kind === "error") {
    el.errorTitle.textContent = msgText(v.title);
    el.errorMessage.textContent = msgText(v.message);
    const extra = [];
    if (v.detail) extra.push(tr("error.detail", { message: v.detail }));
    if (v.code) extra.push(tr("error.code", { code: v.code }));
    el.errorCode.textContent = extra.join(" · ");
  }
  if (isResult) renderResult(v);
}

function explainText(b) {
  const verdict = VERDICTS[b.verdict] ? b.verdict : "OTHER";
  const region = regionText(b.verifier_region);
  if (verdict === "VALID" && region) return tr("explain.VALID.region", { region });
  if (verdict === "NOT_RECOGNIZED") return region ? tr("explain.NOT_RECOGNIZED", { region }) : tr("explain.NOT_RECOGNIZED.noregion");
  return tr("explain." + verdict);
}

function renderResult(v) {
  const b = v.body;
  const known = VERDICTS[b.verdict];
  const verdict = known ? b.verdict : "OTHER";
  const tone = known ? known.tone : "grey";
  el.verdict.dataset.verdict = String(b.verdict);
  el.verdict.dataset.tone = tone;
  el.verdictIcon.innerHTML = svg(known ? known.icon : "question");
  // the word, with <wbr> where it may break on a narrow screen (CSS keeps Chinese words whole)
  el.verdictWord.replaceChildren();
  segments(state.lang, "verdict." + verdict).forEach((part, i) => {
    if (i) el.verdictWord.append(document.createElement("wbr"));
    el.verdictWord.append(part);
  });
  el.verdictCode.textContent = String(b.verdict);
  el.verdictCode.lang = "en";
  el.explain.textContent = explainText(b);

  let message = msgText(v.message);
  if (!message && b.verdict === "ERROR" && b.source && b.source.error) message = String(b.source.error);
  el.message.textContent = message;
  el.message.hidden = !message;
  el.retryRow.hidden = b.verdict !== "ERROR" || !state.lastInput;

  // checks
  el.checks.replaceChildren();
  const checks = Array.isArray(b.checks) ? b.checks : [];
  for (const c of checks) {
    if (!c || typeof c !== "object") continue;
    const ok = c.ok === true ? "true" : c.ok === false ? "false" : "null";
    const li = document.createElement("li");
    li.className = "check";
    li.dataset.check = String(c.name || "");
    li.dataset.ok = ok;
    const icon = document.createElement("span");
    icon.className = "check-icon";
    icon.innerHTML = svg(ok === "true" ? "check" : ok === "false" ? "cross" : "dash");
    const head = document.createElement("span");
    const name = document.createElement("span");
    name.className = "check-name";
    name.textContent = has(state.lang, "check." + c.name) ? tr("check." + c.name) : String(c.name || "");
    const sep = document.createTextNode(state.lang === "en" ? ": " : "：");
    const st = document.createElement("span");
    st.className = "check-state";
    st.textContent = tr(ok === "true" ? "check.ok" : ok === "false" ? "check.fail" : "check.skip");
    head.append(name, sep, st);
    li.append(icon, head);
    const { main, technical } = checkTexts(c, b);
    if (main) {
      const d = document.createElement("span");
      d.className = "check-detail";
      d.textContent = main;
      li.append(d);
    }
    if (technical) {
      const d = document.createElement("span");
      d.className = "check-tech";
      const label = document.createElement("span");
      label.textContent = tr("check.technical");
      const text = document.createElement("span");
      text.lang = "en";
      text.textContent = technical;
      d.append(label, text);
      li.append(d);
    }
    el.checks.append(li);
  }
  el.checksHeading.hidden = checks.length === 0;
  el.checks.hidden = checks.length === 0;

  // facts
  el.facts.replaceChildren();
  const cert = b.certificate && typeof b.certificate === "object" ? b.certificate : null;
  if (cert) {
    fact("facts.type", typeText(cert.type));
    fact("facts.issuer_region", regionText(cert.issuer_region));
    fact("facts.agency", cert.agency);
    if (cert.valid_from) {
      fact("facts.valid", cert.valid_until
        ? tr("facts.valid.range", { from: cert.valid_from, until: cert.valid_until })
        : tr("facts.valid.open", { from: cert.valid_from }));
    }
    const a = cert.anchored_at && typeof cert.anchored_at === "object" ? cert.anchored_at : null;
    if (a) {
      if (a.block !== undefined && a.block !== null) fact("facts.anchored_block", tr("facts.block", { block: a.block }));
      if (a.time) fact("facts.anchored_time", fmtTime(a.time));
    }
  }
  if (b.verdict !== "ERROR" || b.verifier_region) {
    fact("facts.verifier_region", regionText(b.verifier_region) || tr("facts.verifier_region.none"));
  }
  if (b.as_of) fact("facts.as_of", fmtTime(b.as_of));
  const src = b.source && typeof b.source === "object" ? b.source : null;
  if (src && src.kind) {
    let s = tr(src.kind === "chain" ? "source.chain" : "source.mirror", { block: src.block ?? "—" });
    if (Number(src.lag_blocks) > 0) s += tr("source.lag", { n: src.lag_blocks });
    fact("facts.source", s);
  }
  if (cert) {
    fact("facts.hash", cert.hash, true);
    fact("facts.batch_root", cert.batch_root, true);
    if (cert.anchored_at && cert.anchored_at.tx) fact("facts.tx", cert.anchored_at.tx, true);
  }
  el.factsBlock.hidden = el.facts.childElementCount === 0;

  // disclosed and hidden fields
  el.fields.replaceChildren();
  const disclosed = b.disclosed_fields && typeof b.disclosed_fields === "object" ? b.disclosed_fields : {};
  let hidden = [];
  if (Array.isArray(b.hidden_fields)) hidden = b.hidden_fields.map(String);
  else if (b.hidden_fields && typeof b.hidden_fields === "object") hidden = Object.keys(b.hidden_fields);
  const type = cert ? cert.type : null;
  // after INVALID/UNKNOWN/ERROR the fields are only what the document claims: say so
  const untrusted = !["VALID", "REVOKED", "SUSPENDED", "EXPIRED", "NOT_RECOGNIZED"].includes(b.verdict);
  el.fieldsBlock.classList.toggle("untrusted", untrusted);
  el.fieldsHeading.textContent = tr(untrusted ? "fields.heading.untrusted" : "fields.heading");
  if (untrusted && Object.keys(disclosed).length) {
    const warn = document.createElement("p");
    warn.className = "untrusted-note";
    warn.textContent = tr("fields.untrusted.note");
    el.fields.append(warn);
  }
  for (const name of orderFields(type, Object.keys(disclosed))) {
    const value = disclosed[name];
    addPair(el.fields, labelFor(type, name), valueText(name, value));
  }
  if (hidden.length && !untrusted) {
    const note = document.createElement("p");
    note.className = "hidden-note";
    note.textContent = tr("fields.hidden.note");
    el.fields.append(note);
    for (const name of orderFields(type, hidden)) {
      const dd = addPair(el.fields, labelFor(type, name), tr("fields.hidden"));
      dd.classList.add("hidden-value");
      dd.dataset.hidden = "true";
    }
  }
  el.fieldsBlock.hidden = el.fields.childElementCount === 0;
  el.details.hidden = checks.length === 0 && el.factsBlock.hidden && el.fieldsBlock.hidden;
}

/** What to say about one check: a sentence in the page's language (from the check's code) and
 * the API's own detail (English, with the facts: blocks, keys, dates) as a technical note. */
function checkTexts(c, body) {
  const name = String(c.name || "");
  const api = localized(c.detail);
  if (c.detail && typeof c.detail === "object") return { main: api, technical: "" }; // already localised
  let known = null;
  if (c.code === "SKIPPED") {
    if (name === "integrity") known = tr("skip.integrity");
    else if (name === "validity_period") known = tr("skip.validity_period");
    else if (name === "recognition" && !body.verifier_region) known = tr("skip.recognition.noregion");
    else known = tr("skip.other");
  } else if (c.ok === true && (!c.code || c.code === "OK")) {
    known = has(state.lang, "ok." + name) ? tr("ok." + name) : null;
  } else if (c.code && has(state.lang, "code." + c.code)) {
    known = tr("code." + c.code);
  }
  if (state.lang === "en") return { main: api || known || "", technical: "" };
  return known ? { main: known, technical: api } : { main: api, technical: "" };
}

/** Text the API may give as a string or as {"zh-CN"|"zh": ..., "en": ...}. */
function localized(value) {
  if (value === null || value === undefined || value === "") return "";
  if (typeof value !== "object") return String(value);
  const v = state.lang === "en" ? value.en : value["zh-CN"] ?? value.zh;
  return String(v ?? value.en ?? value["zh-CN"] ?? value.zh ?? Object.values(value)[0] ?? "");
}

function valueText(name, value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  const key = `value.${name}.${value}`;
  return has(state.lang, key) ? tr(key) : String(value);
}

function fact(key, value, mono) {
  if (value === null || value === undefined || value === "") return;
  const dd = addPair(el.facts, tr(key), String(value));
  dd.dataset.fact = key.replace("facts.", "");
  if (mono) {
    dd.classList.add("mono");
    dd.lang = "en";
  }
}

function addPair(dl, label, value) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  dl.append(dt, dd);
  return dd;
}

function labelFor(type, name) {
  const info = state.types && type && state.types[type];
  const label = info && info.fields[name];
  const text = label && (state.lang === "en" ? label.en : label.zh);
  return text || fieldLabel(state.lang, name) || name;
}

function orderFields(type, names) {
  const info = state.types && type && state.types[type];
  if (!info || !info.order.length) return names;
  const pos = (n) => {
    const i = info.order.indexOf(n);
    return i < 0 ? info.order.length : i;
  };
  return [...names].sort((x, y) => pos(x) - pos(y));
}

/** Field labels from the API's type schemas (GET /v1/types), if it offers them. */
async function loadTypes() {
  if (state.types || state.typesLoading) return;
  state.typesLoading = true;
  try {
    const res = await fetchWithTimeout(TYPES_URL, { headers: { Accept: "application/json" } });
    if (!res.ok) return;
    const data = await res.json();
    const list = Array.isArray(data) ? data : data && (data.types || data.items || data.data);
    if (!Array.isArray(list)) return;
    const out = {};
    for (const item of list) {
      if (!item || typeof item !== "object") continue;
      const code = item.type || item.code || item.name;
      if (typeof code !== "string") continue;
      const schema = item.schema && typeof item.schema === "object" ? item.schema : item;
      const fields = {};
      const order = [];
      for (const f of Array.isArray(schema.fields) ? schema.fields : []) {
        if (!f || typeof f.name !== "string") continue;
        order.push(f.name);
        if (f.label && typeof f.label === "object") fields[f.name] = { zh: f.label.zh, en: f.label.en };
      }
      const title = (item.title && typeof item.title === "object" && item.title) || (schema.title && typeof schema.title === "object" && schema.title) || null;
      out[code] = { title, fields, order };
    }
    state.types = out;
    if (state.view && state.view.kind === "result") render();
  } catch {
    /* labels fall back to the built-in ones */
  } finally {
    state.typesLoading = false;
  }
}

function renderStatuses() {
  for (const [node, st] of [[el.scanStatus, state.scanStatus], [el.uploadStatus, state.uploadStatus]]) {
    node.textContent = st ? tr(st.key, st.vars) : "";
    node.classList.toggle("status-error", !!(st && st.error));
  }
}

function setScanStatus(key, error = false) {
  state.scanStatus = key ? { key, error } : null;
  renderStatuses();
}

function setUploadStatus(key, vars, error = false) {
  state.uploadStatus = key ? { key, vars, error } : null;
  renderStatuses();
}

// ------------------------------------------------------------------ language and contrast

function applyLang() {
  const lang = state.lang;
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = tr(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = tr(node.dataset.i18nPlaceholder);
  for (const node of document.querySelectorAll("[data-i18n-aria-label]")) node.setAttribute("aria-label", tr(node.dataset.i18nAriaLabel));
  for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = tr(node.dataset.i18nTitle);
  for (const opt of el.region.options) {
    if (!opt.value) continue;
    const name = regionName(opt.value);
    opt.textContent = name ? `${name} ${opt.value}` : tr("region.other", { code: opt.value });
  }
  el.langToggle.lang = lang === "en" ? "zh-CN" : "en";
  el.live.textContent = ""; // an announcement in the other language is stale
  renderStatuses();
  render();
}

function setLang(lang, remember) {
  state.lang = normalizeLang(lang) || DEFAULT_LANG;
  if (remember) store(STORE.lang, state.lang);
  applyLang();
}

function setLarge(on, remember) {
  state.large = !!on;
  document.documentElement.classList.toggle("large", state.large);
  el.contrastToggle.setAttribute("aria-pressed", state.large ? "true" : "false");
  if (remember) store(STORE.large, state.large ? "1" : "0");
}

function setRegion(value) {
  let v = value || "";
  if (v && !Array.from(el.region.options).some((o) => o.value === v)) {
    const opt = document.createElement("option");
    opt.value = v;
    el.region.append(opt);
  }
  el.region.value = v;
}

// ------------------------------------------------------------------ QR decoding (jsQR)

function loadJsQR() {
  if (typeof window.jsQR === "function") return Promise.resolve(window.jsQR);
  if (!jsqrPromise) {
    jsqrPromise = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = JSQR_URL;
      s.async = true;
      s.onload = () => (typeof window.jsQR === "function" ? resolve(window.jsQR) : reject(new Error("jsQR missing")));
      s.onerror = () => {
        jsqrPromise = null;
        s.remove();
        reject(new Error("jsQR failed to load"));
      };
      document.head.append(s);
    });
  }
  return jsqrPromise;
}

async function loadBitmap(file) {
  if (typeof createImageBitmap === "function") {
    try {
      return await createImageBitmap(file);
    } catch {
      /* fall through to <img> */
    }
  }
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.decoding = "async";
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Decode the QR in an image file with jsQR, trying a few scales; null if none found. */
async function decodeImageFile(file, jsQR) {
  const bmp = await loadBitmap(file);
  const W = bmp.width || bmp.naturalWidth;
  const H = bmp.height || bmp.naturalHeight;
  const maxDim = Math.max(W, H);
  if (!maxDim) return null;
  const sizes = [];
  const add = (n) => {
    n = Math.round(n);
    if (n > 0 && !sizes.includes(n)) sizes.push(n);
  };
  if (maxDim < 600) {
    add(maxDim);
    add(maxDim * Math.ceil(600 / maxDim)); // small screenshots: nearest-neighbour upscale
  } else {
    add(Math.min(maxDim, 1000));
    add(Math.min(maxDim, 640));
    add(Math.min(maxDim, 1800));
  }
  const started = performance.now();
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  try {
    for (const size of sizes) {
      const scale = size / maxDim;
      const w = Math.max(1, Math.round(W * scale));
      const h = Math.max(1, Math.round(H * scale));
      const pad = Math.round(Math.max(w, h) * 0.06) + 8; // a quiet zone for tightly cropped codes
      canvas.width = w + 2 * pad;
      canvas.height = h + 2 * pad;
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.imageSmoothingEnabled = scale <= 1;
      ctx.drawImage(bmp, pad, pad, w, h);
      const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const code = jsQR(img.data, img.width, img.height, { inversionAttempts: "attemptBoth" });
      if (code && typeof code.data === "string" && code.data) return code.data;
      // jsQR runs on the main thread: past the budget, let the server (zxing) try instead
      if (performance.now() - started > DECODE_BUDGET_MS) return null;
      await new Promise((r) => setTimeout(r, 0)); // let the page breathe between attempts
    }
    return null;
  } finally {
    if (typeof bmp.close === "function") bmp.close();
  }
}

/** A picture small enough for the API's upload limit: large photos are re-encoded as JPEG. */
async function shrinkForServer(file) {
  if (file.size <= SERVER_IMAGE_BYTES) return file;
  try {
    const bmp = await loadBitmap(file);
    const W = bmp.width || bmp.naturalWidth;
    const H = bmp.height || bmp.naturalHeight;
    const scale = Math.min(1, SERVER_IMAGE_DIM / Math.max(W, H));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(W * scale));
    canvas.height = Math.max(1, Math.round(H * scale));
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(bmp, 0, 0, canvas.width, canvas.height);
    if (typeof bmp.close === "function") bmp.close();
    for (const quality of [0.92, 0.8, 0.65]) {
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
      if (blob && blob.size <= SERVER_IMAGE_BYTES) {
        const base = (file.name || "qr").replace(/\.[^.]*$/, "");
        return new File([blob], base + ".jpg", { type: "image/jpeg" });
      }
    }
  } catch {
    /* send the original; the server says if it is too large */
  }
  return file;
}

// ------------------------------------------------------------------ upload

async function onFileChosen() {
  const file = el.upload.files && el.upload.files[0];
  el.upload.value = ""; // the same file can be chosen again
  if (!file) return;
  stopCamera();
  const name = (file.name || "").toLowerCase();
  if (file.size > MAX_UPLOAD_MB * 1024 * 1024) {
    setUploadStatus(null);
    showLocalError("upload.toobig", { max: MAX_UPLOAD_MB });
    return;
  }
  if (file.type === "application/json" || name.endsWith(".json")) {
    setUploadStatus("upload.chosen", { name: file.name });
    const found = classify(await file.text(), "paste.badjson");
    if (found.error) showLocalError(found.error);
    else runVerify(found);
    return;
  }
  if (!/^image\/(png|jpeg)$/.test(file.type) && !/\.(png|jpe?g)$/.test(name)) {
    setUploadStatus(null);
    showLocalError("upload.badtype");
    return;
  }
  const my = ++state.seq;
  setUploadStatus("upload.decoding");
  setView({ kind: "busy" });
  let text = null;
  try {
    text = await decodeImageFile(file, await loadJsQR());
  } catch {
    text = null; // decoder missing or image unreadable here: the server tries
  }
  if (my !== state.seq) return;
  if (text) {
    const found = classify(text, "upload.notours");
    if (found.error) {
      setUploadStatus(null);
      showLocalError(found.error);
    } else {
      runVerify(found);
    }
    return;
  }
  setUploadStatus("upload.server");
  const upload = await shrinkForServer(file);
  if (my !== state.seq) return;
  runVerify({ kind: "image", file: upload });
}

// ------------------------------------------------------------------ camera

async function startCamera() {
  if (cam) return;
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setScanStatus("scan.err.insecure", true);
    return;
  }
  setScanStatus("scan.starting");
  let jsQR;
  try {
    jsQR = await loadJsQR();
  } catch {
    setScanStatus("error.decoder", true);
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (e) {
    const n = e && e.name;
    setScanStatus(
      n === "NotAllowedError" || n === "SecurityError" ? "scan.err.denied"
        : n === "NotFoundError" || n === "OverconstrainedError" ? "scan.err.notfound"
          : n === "NotReadableError" || n === "AbortError" ? "scan.err.busy"
            : "scan.err.other",
      true,
    );
    return;
  }
  const canvas = document.createElement("canvas");
  cam = { stream, timer: 0, canvas, ctx: canvas.getContext("2d", { willReadFrequently: true }), frame: 0, lastBad: null, jsQR };
  el.video.srcObject = stream;
  el.scanView.hidden = false;
  el.scanStart.hidden = true;
  el.scanStop.hidden = false;
  setScanStatus("scan.scanning");
  try {
    await el.video.play();
  } catch {
    /* autoplay of a muted inline video is allowed; frames are read anyway */
  }
  el.scanStop.focus({ preventScroll: true });
  cam.timer = setTimeout(scanFrame, 100);
}

function scanFrame() {
  if (!cam) return;
  const v = el.video;
  if (v.readyState >= 2 && v.videoWidth > 0) {
    const scale = Math.min(1, 800 / Math.max(v.videoWidth, v.videoHeight));
    const w = Math.round(v.videoWidth * scale);
    const h = Math.round(v.videoHeight * scale);
    if (cam.canvas.width !== w || cam.canvas.height !== h) {
      cam.canvas.width = w;
      cam.canvas.height = h;
    }
    cam.ctx.drawImage(v, 0, 0, w, h);
    const img = cam.ctx.getImageData(0, 0, w, h);
    // alternate plain and inverted frames: half the work per frame, both kinds of code found
    const code = cam.jsQR(img.data, w, h, { inversionAttempts: cam.frame++ % 2 ? "onlyInvert" : "dontInvert" });
    if (code && code.data) {
      const found = classify(code.data, "scan.notours");
      if (!found.error) {
        stopCamera();
        setScanStatus("scan.found");
        runVerify(found);
        return;
      }
      if (code.data !== cam.lastBad) {
        cam.lastBad = code.data;
        setScanStatus("scan.notours", true);
      }
    }
  }
  cam.timer = setTimeout(scanFrame, 120);
}

function stopCamera() {
  if (!cam) return;
  clearTimeout(cam.timer);
  for (const track of cam.stream.getTracks()) track.stop();
  cam = null;
  el.video.pause();
  el.video.srcObject = null;
  el.scanView.hidden = true;
  el.scanStop.hidden = true;
  el.scanStart.hidden = false;
  if (state.scanStatus && (state.scanStatus.key === "scan.scanning" || state.scanStatus.key === "scan.notours")) setScanStatus(null);
  if (document.activeElement === document.body) el.scanStart.focus({ preventScroll: true });
}

// ------------------------------------------------------------------ paste

function submitPasted(focusResult) {
  stopCamera();
  setUploadStatus(null);
  const found = classify(el.payload.value, "paste.notours");
  if (found.error) {
    showLocalError(found.error);
    if (!focusResult) el.payload.select();
    else el.error.focus({ preventScroll: true });
    return;
  }
  runVerify(found, { focusResult });
  if (!focusResult) el.payload.select(); // the next scan from a handheld scanner replaces the text
}

function clearAll() {
  stopCamera();
  state.seq++;
  state.lastInput = null;
  el.payload.value = "";
  setScanStatus(null);
  setUploadStatus(null);
  setView(null);
  announce("");
  el.payload.focus();
}

// ------------------------------------------------------------------ start

function init() {
  Object.assign(el, {
    langToggle: $("lang-toggle"),
    contrastToggle: $("contrast-toggle"),
    region: $("region"),
    scanStart: $("scan-start"),
    scanStop: $("scan-stop"),
    scanView: $("scan-view"),
    video: $("scan-video"),
    scanStatus: $("scan-status"),
    upload: $("upload"),
    uploadStatus: $("upload-status"),
    form: $("paste-form"),
    payload: $("payload"),
    verifyButton: $("verify-button"),
    clearButton: $("clear-button"),
    result: $("result"),
    error: $("error"),
    errorTitle: $("error-title"),
    errorMessage: $("error-message"),
    errorCode: $("error-code"),
    empty: $("result-empty"),
    busy: $("result-busy"),
    verdict: $("verdict"),
    verdictIcon: $("verdict-icon"),
    verdictWord: $("verdict-word"),
    verdictCode: $("verdict-code"),
    explain: $("verdict-explain"),
    message: $("verdict-message"),
    retryRow: $("retry-row"),
    retryButton: $("retry-button"),
    details: $("details"),
    checks: $("checks"),
    checksHeading: $("checks-heading"),
    facts: $("facts"),
    factsBlock: $("facts-block"),
    fields: $("fields"),
    fieldsBlock: $("fields-block"),
    fieldsHeading: $("fields-heading"),
    live: $("live"),
  });
  el.error.tabIndex = -1;

  const search = location.search;
  const hash = location.hash;

  // preferences: URL first (this visit only), then what was remembered, then defaults
  setLarge(recall(STORE.large) === "1", false);
  const urlRegion = rawParam(search, "verifier_region");
  let region = recall(STORE.region);
  if (urlRegion !== null) {
    const r = urlRegion.trim().toLowerCase();
    region = /^\d{6}$/.test(r) ? r : r === "" || r === "any" || r === "none" ? "any" : region;
  }
  setRegion(region && region !== "any" && /^\d{6}$/.test(region) ? region : "");
  setLang(normalizeLang(rawParam(search, "lang")) || normalizeLang(recall(STORE.lang)) || DEFAULT_LANG, false);

  el.langToggle.addEventListener("click", () => setLang(state.lang === "en" ? "zh-CN" : "en", true));
  el.contrastToggle.addEventListener("click", () => setLarge(!state.large, true));
  el.region.addEventListener("change", () => {
    store(STORE.region, el.region.value || "any");
    if (state.lastInput && state.view && state.view.kind === "result") runVerify(state.lastInput, { focusResult: false });
  });
  el.scanStart.addEventListener("click", startCamera);
  el.scanStop.addEventListener("click", stopCamera);
  el.upload.addEventListener("change", onFileChosen);
  el.form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitPasted(true);
  });
  el.payload.addEventListener("keydown", (e) => {
    // Enter after a QR payload (a handheld scanner "types" the payload then Enter) verifies at
    // once; inside a JSON document Enter is a new line; Ctrl/Cmd+Enter always verifies.
    if (e.key !== "Enter" || e.shiftKey || e.isComposing) return;
    const text = el.payload.value.trim();
    if (e.ctrlKey || e.metaKey || !text.startsWith("{")) {
      e.preventDefault();
      submitPasted(e.ctrlKey || e.metaKey);
    }
  });
  el.clearButton.addEventListener("click", clearAll);
  el.retryButton.addEventListener("click", () => state.lastInput && runVerify(state.lastInput));
  document.addEventListener("visibilitychange", () => document.hidden && stopCamera());
  window.addEventListener("pagehide", stopCamera);

  // ?payload=... (or #payload=...): verify at once; then drop it from the address bar
  const urlPayload = rawParam(search, "payload") ?? rawParam(hash, "payload");
  if (urlPayload !== null) {
    removeParams(["payload"]);
    el.payload.value = urlPayload.trim();
    if (urlPayload.trim()) submitPasted(true);
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
