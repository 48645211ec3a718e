// CertLedger verification page (GET /verify). Plain ES module, no build step, no framework.
//
// Inputs: camera (getUserMedia + jsQR on frames), an uploaded image (jsQR on a canvas; if that
// finds nothing, the image is POSTed as multipart field "image"), pasted text (a CLC3:/CLF2: (or older)
// QR payload, a wallet's presentation CLP1:, a URL carrying ?payload=, or a JSON certificate
// document), or — in counter mode — a handheld scanner typing the payload and Enter into an
// always-focused field. A presentation's result also says why the holder shows it (purpose) and
// until when its QR code is valid; its check "holder" says whether the holder's bound device
// signed it within its minute.
// Output: POST /v1/verify?verifier_region=R and the verdict, shown large with colour, icon and
// word, with the region it was checked for beside it; a network failure or 5xx is the ERROR
// state ("try again"), never INVALID/REVOKED.
// Offline (docs/offline-browser.md): a service worker (/verify-sw.js) keeps the page and the
// trust snapshot; when the API cannot be reached, offline.js verifies full and compact codes and
// certificate files with the snapshot, and the answer says so (block, age).
//
// The verifying region is a setting of the device (or the user's explicit choice). It is never
// taken from a URL that also carries a payload: a holder could otherwise print a QR whose link
// names the issuer's own region and so turn NOT_RECOGNIZED into VALID at another counter.
//
// Every string comes from /static/i18n/<lang>.json (see i18n.js); check details are rendered
// from each check's code and params. Data is only ever inserted with textContent.

import { DEFAULT_LANG, has, lookup, regionFromFile, segments } from "/static/i18n.js";
import { pageChrome, recall, store } from "/static/page-common.js";

const JSQR_URL = "/static/vendor/jsQR.js";
const VERIFY_URL = "/v1/verify";
const TYPES_URL = "/v1/types";
const REGIONS_URL = "/v1/regions";
const SPEECH_URL = "/v1/speech";
const STORE = { // the language and large text: page-common.js (PREFS)
  region: "certledger.verify.region",
  mode: "certledger.verify.mode",
  clear: "certledger.verify.counter.clear_seconds",
  counts: "certledger.verify.counter.counts",
};
// A registered verifier's API key (presentations need one): in this tab's sessionStorage only,
// never in localStorage, so that it goes when the tab closes.
const API_KEY_STORE = "certledger.verify.counter.api_key";
const MAX_UPLOAD_MB = 30; // a picture this large is refused outright
const SERVER_IMAGE_BYTES = 3.5 * 1024 * 1024; // the API takes at most 4 MiB: larger pictures are shrunk first
const SERVER_IMAGE_DIM = 2400;
const DECODE_BUDGET_MS = 1500; // local decoding of one picture; then the server tries
const TIMEOUT_MS = 20000;
const SPEECH_MAX_CHARS = 400; // as the API's limit
const DEFAULT_CLEAR_SECONDS = 15;
const PAYLOAD_RE = /^CL[A-Z][0-9]+:/; // CLC1:, CLF1:, and later versions: the server decides
const REGION_RE = /^\d{6}$/;

const VERDICTS = {
  VALID: { tone: "ok", icon: "check" },
  REVOKED: { tone: "bad", icon: "cross" },
  SUSPENDED: { tone: "warn", icon: "pause" },
  EXPIRED: { tone: "warn", icon: "clock" },
  NOT_RECOGNIZED: { tone: "warn", icon: "ban" },
  INVALID: { tone: "bad", icon: "cross" },
  UNKNOWN: { tone: "grey", icon: "question" },
  INCOMPLETE: { tone: "incomplete", icon: "info" },
  ERROR: { tone: "error", icon: "bang" },
};
// verdicts after which what the document says has been verified
const TRUSTED_FIELDS = ["VALID", "REVOKED", "SUSPENDED", "EXPIRED", "NOT_RECOGNIZED", "INCOMPLETE"];

const RING = '<circle cx="24" cy="24" r="20.5" fill="none" stroke="currentColor" stroke-width="4"/>';
const ICONS = {
  check: RING + '<path d="M14 24.5l7 7 13-14" fill="none" stroke="currentColor" stroke-width="5" stroke-linecap="round" stroke-linejoin="round"/>',
  cross: RING + '<path d="M16.5 16.5l15 15M31.5 16.5l-15 15" fill="none" stroke="currentColor" stroke-width="5" stroke-linecap="round"/>',
  pause: RING + '<path d="M19 15.5v17M29 15.5v17" fill="none" stroke="currentColor" stroke-width="5" stroke-linecap="round"/>',
  clock: RING + '<path d="M24 12.5V25l8 5" fill="none" stroke="currentColor" stroke-width="4.5" stroke-linecap="round" stroke-linejoin="round"/>',
  ban: RING + '<path d="M10.5 10.5l27 27" fill="none" stroke="currentColor" stroke-width="4.5" stroke-linecap="round"/>',
  question: RING + '<path d="M18 18.5a6.2 6.2 0 1 1 8.6 5.7c-1.8.8-2.6 2-2.6 3.8v1.5" fill="none" stroke="currentColor" stroke-width="4.5" stroke-linecap="round"/><circle cx="24" cy="35.5" r="2.8" fill="currentColor"/>',
  info: RING + '<circle cx="24" cy="14" r="3" fill="currentColor"/><path d="M24 21v14" fill="none" stroke="currentColor" stroke-width="5" stroke-linecap="round"/>',
  bang: RING + '<path d="M24 12.5v14" fill="none" stroke="currentColor" stroke-width="5" stroke-linecap="round"/><circle cx="24" cy="34.5" r="3" fill="currentColor"/>',
  dash: RING + '<path d="M15 24h18" fill="none" stroke="currentColor" stroke-width="5" stroke-linecap="round"/>',
  eyeoff: '<path d="M4 24s7-11 20-11 20 11 20 11-7 11-20 11S4 24 4 24z" fill="none" stroke="currentColor" stroke-width="3.5"/><circle cx="24" cy="24" r="5.5" fill="none" stroke="currentColor" stroke-width="3.5"/><path d="M9 39L39 9" stroke="currentColor" stroke-width="3.5" stroke-linecap="round"/>',
};

// how each check parameter is shown (per "check.CODE.param" when the name alone is ambiguous)
const PARAM_KINDS = {
  region: "region", verifier_region: "region", issuer_region: "region",
  type: "type", time: "time", since: "time", cutoff: "time",
  valid_from: "date", valid_until: "date", scope: "scope", role: "role", reason: "reason",
  agencies: "list", agency: "code", key: "code", signer: "code", registry: "code", chain_id: "code",
  field: "code", block: "number", shown: "number", hidden: "number",
  identifier: "code", named: "code", recorded: "code", suite: "suite", segment: "segment",
  issued: "clock", expired: "clock", until: "clock", seconds: "number", limit: "number", // a presentation's window
  "issuer_authorized.WRONG_REGION.claimed": "region", "issuer_authorized.WRONG_REGION.actual": "region",
  "issuer_authorized.WRONG_TYPE.claimed": "type", "issuer_authorized.WRONG_TYPE.actual": "type",
  "issuer_authorized.WRONG_AGENCY.claimed": "code", "issuer_authorized.WRONG_AGENCY.actual": "code",
  "integrity.SUITE_MISMATCH.expected": "suite",
};
// a check whose param may be empty has a second sentence without it: "check.CODE" -> [param, key suffix]
const WITHOUT_PARAM = {
  "validity_period.OK": ["valid_until", "open"], // no end date
  "integrity.BAD_IDENTIFIER": ["segment", "whole"], // the identifier's shape as a whole is wrong
};
// an older API's checks carried code "SKIPPED" without a reason: the reason each check implies
const SKIP_CODES = {
  integrity: "NO_DOCUMENT", anchored: "NOT_CHECKED", issuer_authorized: "NOT_ANCHORED", key_valid: "NOT_ANCHORED",
  status: "NOT_ANCHORED", validity_period: "NO_DATES", recognition: "NO_VERIFIER_REGION",
};

const $ = (id) => document.getElementById(id);
const el = {};

const state = {
  lang: DEFAULT_LANG,
  large: false,
  counter: false,
  region: "", // the verifying region: "" or 6 digits
  regions: null, // [{region, member, name:{zh,en}}] from GET /v1/regions
  regionNames: {}, // code -> {zh, en} from the API
  view: null, // null | {kind:"busy"} | {kind:"error", ...} | {kind:"result", body, message}
  lastInput: null,
  sentRegion: "",
  seq: 0,
  scanStatus: null, // {key, vars, error}
  uploadStatus: null,
  speakStatus: null,
  regionNote: null, // {key, vars}
  types: null, // type code -> {title:{zh,en}, fields:{name:{zh,en}}, order:[names]}
  typesLoading: false,
  clearTimer: 0,
};

let cam = null; // {stream, timer, canvas, ctx, frame, lastBad}
let jsqrPromise = null;
let audioCtx = null;
let speechAudio = null;

// ------------------------------------------------------------------ small helpers

const { tr, setText, announce, langMenuOpen, start: startChrome } = pageChrome({ state, titleKey: "page.title", onLang });

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

/** {text, lang} naming a region in the page's language: the language file, else the API's
 * Chinese or English name, else the Chinese/English files; null when nothing names it. */
function regionName(code) {
  const c = String(code);
  const own = regionFromFile(state.lang, c);
  if (own) return { text: own, lang: state.lang };
  const api = state.regionNames[c];
  const second = state.lang === "en" ? "en" : "zh-CN";
  if (api) {
    const text = second === "en" ? api.en || api.zh : api.zh || api.en;
    if (text) return { text, lang: second === "en" && api.en ? "en" : "zh-CN" };
  }
  for (const l of [second, second === "en" ? "zh-CN" : "en"]) {
    const name = regionFromFile(l, c);
    if (name) return { text: name, lang: l };
  }
  return null;
}

function regionText(code) {
  if (code === null || code === undefined || code === "" || code === 0) return null;
  const name = regionName(code);
  if (!name) return tr("region.other", { code });
  return tr("region.named", { name: name.text, code });
}

function typeText(type) {
  if (!type) return "";
  if (has(state.lang, "type." + type)) return tr("type." + type);
  const info = state.types && state.types[type];
  const title = info && info.title && (state.lang === "en" ? info.title.en : info.title.zh);
  return title || String(type);
}

function reasonText(code) {
  if (!code) return "";
  return has(state.lang, "reason." + code) ? tr("reason." + code) : String(code);
}

/** A time as YYYY-MM-DD HH:MM (HH:MM:SS with seconds: a presentation's minute-long window) in
 * China Standard Time: the same digits in every language. */
function fmtTime(iso, seconds = false) {
  if (!iso) return "";
  const d = new Date(typeof iso === "number" ? iso * 1000 : iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  try {
    const parts = {};
    for (const p of new Intl.DateTimeFormat("en-GB", {
      timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: seconds ? "2-digit" : undefined, hour12: false,
    }).formatToParts(d)) parts[p.type] = p.value;
    const time = `${parts.hour}:${parts.minute}` + (seconds ? `:${parts.second}` : "");
    return tr("time.format", { date: `${parts.year}-${parts.month}-${parts.day}`, time });
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

function verifyUrl(region) {
  return region ? `${VERIFY_URL}?verifier_region=${encodeURIComponent(region)}` : VERIFY_URL;
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

function acceptLanguage() {
  const l = state.lang;
  if (l === "en") return "en";
  if (l === "zh-CN") return "zh-CN,zh;q=0.9";
  return `${l},zh-CN;q=0.8,zh;q=0.7`;
}

/** input: {kind:"payload", payload} | {kind:"document", document} | {kind:"image", file} */
async function runVerify(input, { focusResult = true } = {}) {
  const my = ++state.seq;
  clearTimeout(state.clearTimer);
  state.lastInput = input;
  // the verifying region: the device's setting or the user's choice, never the input's
  const region = state.region;
  state.sentRegion = region;
  setView({ kind: "busy" });
  announce(tr("result.checking"));

  const headers = { Accept: "application/json", "Accept-Language": acceptLanguage() };
  const apiKey = state.counter ? apiKeyNow() : "";
  if (apiKey) headers.Authorization = "Bearer " + apiKey;
  let opts;
  if (input.kind === "image") {
    const form = new FormData();
    form.append("image", input.file, input.file.name || "qr.png");
    opts = { method: "POST", headers, body: form };
  } else {
    const body = input.kind === "document" ? { document: input.document } : { payload: input.payload };
    opts = { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body) };
  }

  if (navigator.onLine === false && input.kind !== "image") {
    // the device knows it has no network: the trust snapshot answers at once
    const view = await offlineView(input, region, { key: "error.network" });
    if (my !== state.seq) return;
    finish(view, focusResult);
    return;
  }
  let res;
  try {
    res = await fetchWithTimeout(verifyUrl(region), opts);
  } catch (e) {
    if (my !== state.seq) return;
    const unreachable = { key: e && e.name === "AbortError" ? "error.timeout" : "error.network" };
    const view = input.kind === "image" ? errorState(unreachable) : await offlineView(input, region, unreachable);
    if (my !== state.seq) return;
    finish(view, focusResult);
    return;
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (my !== state.seq) return;

  if (res.status >= 502 && res.status <= 504 && !(body && body.error) && input.kind !== "image") {
    // a proxy answers for an API that is down (no answer of the API's own): as good as no network
    const view = await offlineView(input, region, { key: "error.server", vars: { status: res.status } });
    if (my !== state.seq) return;
    finish(view, focusResult);
    return;
  }
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

// ------------------------------------------------------------------ offline (docs/offline-browser.md)

const SW_CACHE = "certledger-verify-v1"; // as sw.js

function ageText(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  if (s < 120) return tr("offline.age.s", { n: s });
  if (s < 7200) return tr("offline.age.min", { n: Math.floor(s / 60) });
  if (s < 172800) return tr("offline.age.h", { n: Math.floor(s / 3600) });
  return tr("offline.age.d", { n: Math.floor(s / 86400) });
}

/** The API cannot be reached: verify with the trust snapshot this device keeps, or say why not
 * (``unreachable``: the message when there is no snapshot to fall back on). */
async function offlineView(input, region, unreachable) {
  let mod;
  try {
    mod = await import("/static/offline.js");
  } catch {
    return errorState(unreachable);
  }
  let snap;
  try {
    snap = await mod.trustedSnapshot();
  } catch (e) {
    if (e instanceof mod.SnapshotProblem && e.code === "NO_SNAPSHOT") return errorState(unreachable);
    if (e instanceof mod.SnapshotProblem && e.code === "NOT_SIGNED") {
      return errorState({ key: "offline.not_signed", vars: e.params }, { code: "SNAPSHOT_INVALID", detail: e.message });
    }
    return errorState({ key: "offline.untrusted", vars: { reason: String((e && e.message) || e) } }, { code: "SNAPSHOT_INVALID" });
  }
  try {
    const body = await mod.verifyOffline(input, snap, { verifierRegion: region || null });
    return { kind: "result", body };
  } catch (e) {
    if (e instanceof mod.OfflineUnsupported) {
      return errorState({ key: "offline.unsupported" }, { code: e.code });
    }
    if (e instanceof mod.OfflineBadInput) {
      return { kind: "error", title: { key: "error.heading" }, message: { key: "offline.badinput", vars: { reason: e.message } }, code: "INVALID_INPUT" };
    }
    return errorState({ key: "offline.untrusted", vars: { reason: String((e && e.message) || e) } });
  }
}

/** Install the service worker (scope /verify) that keeps the page and the trust snapshot, and
 * have it refresh the snapshot on every visit while online; data-offline-ready="true" on <html>
 * once a snapshot is kept. Needs a secure context (https, or http://localhost / 127.0.0.1). */
async function registerOffline() {
  if (!("serviceWorker" in navigator) || !window.isSecureContext || !("caches" in window)) return;
  try {
    await navigator.serviceWorker.register("/verify-sw.js", { scope: "/verify" });
    const reg = await navigator.serviceWorker.ready;
    if (reg.active) reg.active.postMessage("refresh-snapshot");
    for (let i = 0; i < 100; i++) {
      const cache = await caches.open(SW_CACHE);
      if ((await cache.match("/v1/snapshot")) && (await cache.match("/v1/snapshot/trust"))) {
        document.documentElement.dataset.offlineReady = "true";
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch {
    /* no service worker (a server without one, a browser without): online only */
  }
}

function finish(view, focusResult) {
  if (state.uploadStatus && !state.uploadStatus.error) state.uploadStatus = null;
  if (state.scanStatus && !state.scanStatus.error) state.scanStatus = null;
  renderStatuses();
  setView(view);
  if (view.kind === "result") {
    announce(spokenSummary(view.body, false));
  } else {
    announce("");
  }
  if (state.counter) {
    if (view.kind === "result") countVerdict(view.body.verdict);
    playTone(view.kind === "result" && view.body.verdict === "VALID");
    scheduleClear();
    focusScanner();
  } else {
    const target = view.kind === "result" ? el.verdict : el.error;
    if (focusResult) target.focus({ preventScroll: true });
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

function showLocalError(key, vars) {
  state.seq++; // a pending request's answer no longer applies
  setView({ kind: "error", title: { key: "error.heading" }, message: { key, vars }, code: "" });
  scrollIntoViewIfNeeded(el.result);
}

// ------------------------------------------------------------------ checks: code + params -> sentence

/** A check in the current contract's shape, whatever the API's age. */
function normCheck(c) {
  const name = String(c.name || "");
  let code = c.code ? String(c.code) : "OK";
  let outcome = ["PASS", "FAIL", "SKIPPED", "ERROR"].includes(c.outcome) ? c.outcome : null;
  if (!outcome) {
    if (code === "UNAVAILABLE") outcome = "ERROR";
    else if (c.ok === true) outcome = "PASS";
    else if (c.ok === false) outcome = "FAIL";
    else outcome = "SKIPPED";
  }
  if (code === "SKIPPED") code = SKIP_CODES[name] || "NOT_CHECKED";
  const params = c.params && typeof c.params === "object" && !Array.isArray(c.params) ? c.params : {};
  return { name, outcome, code, params, detail: typeof c.detail === "string" ? c.detail : "" };
}

/** Facts a check's sentence may name, from the result when the check's params lack them. */
function contextParams(b) {
  const cert = b.certificate && typeof b.certificate === "object" ? b.certificate : {};
  const a = cert.anchored_at && typeof cert.anchored_at === "object" ? cert.anchored_at : {};
  return {
    agency: cert.agency, block: a.block, time: a.time, region: cert.issuer_region, type: cert.type,
    issuer_region: cert.issuer_region, valid_from: cert.valid_from, valid_until: cert.valid_until,
    verifier_region: b.verifier_region,
  };
}

function paramValue(kind, v) {
  if (v === null || v === undefined || v === "") return null;
  switch (kind) {
    case "region": {
      const name = regionName(v);
      return { text: regionText(v), lang: name && name.lang !== state.lang ? name.lang : null };
    }
    case "type": return { text: typeText(v) };
    case "time": return { text: fmtTime(v) };
    case "clock": return { text: fmtTime(v, true) };
    case "scope": return { text: has(state.lang, "scope." + v) ? tr("scope." + v) : String(v) };
    case "role": return { text: has(state.lang, "role." + v) ? tr("role." + v) : String(v) };
    case "reason": return { text: reasonText(v) };
    case "suite": return { text: has(state.lang, "suite." + v) ? tr("suite." + v) : String(v) };
    case "segment": {
      const key = "identifier.segment." + v;
      return { text: has(state.lang, key) ? tr(key) : String(v) };
    }
    case "list": return { text: Array.isArray(v) ? v.map(String).join(tr("list.sep")) : String(v), code: true };
    case "code": return { text: String(v), code: true };
    default: return { text: typeof v === "object" ? JSON.stringify(v) : String(v) };
  }
}

/** The sentence for a check: {template, lang, values} or null (unknown code, missing facts). */
function checkSentence(c, b) {
  let key = `detail.${c.name}.${c.code}`;
  if (!has(state.lang, key)) key = `detail.any.${c.code}`;
  const without = WITHOUT_PARAM[`${c.name}.${c.code}`];
  if (without) {
    const [p, suffix] = without;
    const value = p in c.params ? c.params[p] : contextParams(b)[p];
    if (value === null || value === undefined || value === "") key = `detail.${c.name}.${c.code}.${suffix}`;
  }
  const found = lookup(state.lang, key);
  if (!found) return null;
  const ctx = contextParams(b);
  const values = {};
  for (const m of found.text.matchAll(/\{(\w+)\}/g)) {
    const p = m[1];
    const raw = p in c.params ? c.params[p] : ctx[p];
    const kind = PARAM_KINDS[`${c.name}.${c.code}.${p}`] || PARAM_KINDS[p] || "text";
    const value = paramValue(kind, raw);
    if (!value) return null; // an older API without params: its English detail is shown instead
    values[p] = value;
  }
  return { template: found.text, lang: found.lang, values };
}

function sentenceText(s) {
  return s.template.replace(/\{(\w+)\}/g, (m, k) => (s.values[k] ? s.values[k].text : m));
}

/** Fill node with a template: literal text, and each value in a <bdi> (isolated, so that
 * codes and numbers keep their order inside right-to-left text). */
function renderSentence(node, s) {
  node.replaceChildren();
  if (s.lang && s.lang !== state.lang) node.lang = s.lang;
  const re = /\{(\w+)\}/g;
  let last = 0;
  let m;
  while ((m = re.exec(s.template))) {
    if (m.index > last) node.append(s.template.slice(last, m.index));
    const v = s.values[m[1]];
    const b = document.createElement("bdi");
    b.className = "param" + (v && v.code ? " code" : "");
    if (v && v.code) b.dir = "ltr";
    if (v && v.lang) b.lang = v.lang;
    b.textContent = v ? v.text : m[0];
    node.append(b);
    last = re.lastIndex;
  }
  if (last < s.template.length) node.append(s.template.slice(last));
}

// ------------------------------------------------------------------ rendering

function setView(view) {
  state.view = view;
  render();
}

function render() {
  const v = state.view;
  el.empty.hidden = !!v;
  el.empty.textContent = tr(state.counter ? "counter.ready" : "result.none");
  el.busy.hidden = !(v && v.kind === "busy");
  el.error.hidden = !(v && v.kind === "error");
  const isResult = !!(v && v.kind === "result");
  el.verdict.hidden = !isResult;
  el.verdictMore.hidden = !isResult;
  el.speakRow.hidden = !isResult;
  el.details.hidden = true;
  el.message.hidden = true;
  el.retryRow.hidden = true;
  el.verifyButton.disabled = !!(v && v.kind === "busy");
  el.result.setAttribute("aria-busy", v && v.kind === "busy" ? "true" : "false");
  if (!isResult) {
    el.verdict.dataset.verdict = "";
    el.verdict.removeAttribute("data-tone");
    state.speakStatus = null;
    renderStatuses();
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

function checksOf(b) {
  return (Array.isArray(b.checks) ? b.checks : []).filter((c) => c && typeof c === "object").map(normCheck);
}

function explainText(b) {
  const verdict = VERDICTS[b.verdict] ? b.verdict : "OTHER";
  const region = regionText(checkedRegion(b));
  if (verdict === "VALID" && region) return tr("explain.VALID.region", { region });
  // a wallet's presentation shown after its minute: the QR code expired, not the certificate
  if (verdict === "EXPIRED" && checksOf(b).some((c) => c.name === "holder" && c.code === "PRESENTATION_EXPIRED")) {
    return tr("explain.EXPIRED.presentation");
  }
  if (verdict === "NOT_RECOGNIZED") return region ? tr("explain.NOT_RECOGNIZED", { region }) : tr("explain.NOT_RECOGNIZED.noregion");
  if (verdict === "INCOMPLETE") {
    const skipped = new Set(checksOf(b).filter((c) => c.outcome === "SKIPPED").map((c) => c.name));
    const i = skipped.has("integrity");
    const v = skipped.has("validity_period");
    return tr(i && v ? "explain.INCOMPLETE.both" : i ? "explain.INCOMPLETE.integrity" : "explain.INCOMPLETE.validity_period");
  }
  return tr("explain." + verdict);
}

/** The region the result was checked for: the API's word, else what this page sent. */
function checkedRegion(b) {
  if (b && Object.prototype.hasOwnProperty.call(b, "verifier_region")) return b.verifier_region ? String(b.verifier_region) : "";
  return state.sentRegion || "";
}

function regionSentence(b) {
  const code = checkedRegion(b);
  if (!code) return { template: tr("result.region.none"), values: {} };
  const name = regionName(code);
  return {
    template: tr("result.region", { region: "{region}" }),
    values: { region: { text: regionText(code), lang: name && name.lang !== state.lang ? name.lang : null } },
  };
}

/** The key facts: what a person at the counter needs (also read aloud). [label, value][] */
function keyFacts(b) {
  const cert = b.certificate && typeof b.certificate === "object" ? b.certificate : null;
  if (!cert) return [];
  const out = [];
  if (cert.type) out.push(["facts.type", typeText(cert.type)]);
  if (cert.issuer_region) out.push(["facts.issuer_region", regionText(cert.issuer_region)]);
  if (cert.agency) out.push(["facts.agency", String(cert.agency), true]);
  const p = presentationOf(b);
  if (p && p.purpose) out.push(["presentation.purpose", purposeText(p)]);
  if (cert.valid_from) {
    out.push(["facts.valid", cert.valid_until
      ? tr("facts.valid.range", { from: cert.valid_from, until: cert.valid_until })
      : tr("facts.valid.open", { from: cert.valid_from })]);
  }
  return out;
}

/** A wallet's presentation (CLP1:) in the result: its purpose and window, or null. */
function presentationOf(b) {
  const p = b && b.presentation;
  return p && typeof p === "object" && !Array.isArray(p) ? p : null;
}

function purposeText(p) {
  const code = String(p.purpose || "");
  const word = has(state.lang, "purpose." + code) ? tr("purpose." + code) : code;
  const text = typeof p.purpose_text === "string" ? p.purpose_text.trim() : "";
  return text ? `${word} — ${text}` : word;
}

/** What is announced to screen readers and read aloud. */
function spokenSummary(b, withFacts) {
  const key = VERDICTS[b.verdict] ? "verdict." + b.verdict : "verdict.OTHER";
  const parts = [tr("result.announce", { word: tr(key), explain: explainText(b) })];
  parts.push(sentenceText(regionSentence(b)));
  if (withFacts) for (const [label, value] of keyFacts(b)) parts.push(tr("facts.spoken", { label: tr(label), value }));
  return parts.join(" ");
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
  const region = checkedRegion(b);
  el.verdictRegion.dataset.region = region;
  el.verdictRegion.classList.toggle("none", !region);
  renderSentence(el.verdictRegion, regionSentence(b));
  el.explain.textContent = explainText(b);

  el.keyfacts.replaceChildren();
  for (const [label, value, code] of keyFacts(b)) {
    const dd = addPair(el.keyfacts, tr(label), value);
    dd.dataset.fact = label.replace("facts.", "");
    if (code) isolateLtr(dd);
  }
  el.keyfacts.hidden = el.keyfacts.childElementCount === 0;

  const off = b.source && b.source.kind === "snapshot" ? b.source : null;
  el.offlineNote.hidden = !off;
  el.offlineNote.textContent = off ? tr("offline.verified", { block: off.block, age: ageText(off.age_seconds) }) : "";
  let message = msgText(v.message);
  if (!message && b.verdict === "ERROR" && off && off.error && b.offline) {
    message = tr("offline.too_old", { block: off.block, age: ageText(off.age_seconds), limit: ageText(b.offline.max_age_seconds) });
  }
  if (!message && b.verdict === "ERROR" && b.source && b.source.error) message = String(b.source.error);
  el.message.textContent = message;
  el.message.hidden = !message;
  el.retryRow.hidden = b.verdict !== "ERROR" || !state.lastInput;

  // checks
  el.checks.replaceChildren();
  const checks = checksOf(b);
  for (const c of checks) {
    const li = document.createElement("li");
    li.className = "check";
    li.dataset.check = c.name;
    li.dataset.outcome = c.outcome;
    li.dataset.code = c.code;
    li.dataset.ok = c.outcome === "PASS" ? "true" : c.outcome === "FAIL" ? "false" : "null";
    const icon = document.createElement("span");
    icon.className = "check-icon";
    icon.innerHTML = svg(c.outcome === "PASS" ? "check" : c.outcome === "FAIL" ? "cross" : c.outcome === "ERROR" ? "bang" : "dash");
    const head = document.createElement("span");
    const name = document.createElement("span");
    name.className = "check-name";
    name.textContent = has(state.lang, "check." + c.name) ? tr("check." + c.name) : c.name;
    const sep = document.createTextNode(tr("check.sep"));
    const st = document.createElement("span");
    st.className = "check-state";
    st.textContent = tr("outcome." + c.outcome);
    head.append(name, sep, st);
    li.append(icon, head);
    const d = document.createElement("span");
    d.className = "check-detail";
    const s = checkSentence(c, b);
    if (s) renderSentence(d, s);
    else if (c.detail) {
      d.lang = "en"; // an unknown code: the API's own English words
      d.textContent = c.detail;
    }
    if (d.textContent) li.append(d);
    el.checks.append(li);
  }
  el.checksHeading.hidden = checks.length === 0;
  el.checks.hidden = checks.length === 0;

  // facts
  el.facts.replaceChildren();
  const cert = b.certificate && typeof b.certificate === "object" ? b.certificate : null;
  if (cert) {
    fact("facts.identifier", cert.identifier, true); // the GB/T 36904 e-licence identifier (certledger/2)
    const a = cert.anchored_at && typeof cert.anchored_at === "object" ? cert.anchored_at : null;
    if (a) {
      if (a.block !== undefined && a.block !== null) fact("facts.anchored_block", tr("facts.block", { block: a.block }));
      if (a.time) fact("facts.anchored_time", fmtTime(a.time));
    }
  }
  if (b.as_of) fact("facts.as_of", fmtTime(b.as_of));
  const src = b.source && typeof b.source === "object" ? b.source : null;
  if (src && src.kind) {
    let s = tr(src.kind === "chain" ? "source.chain" : src.kind === "snapshot" ? "source.snapshot" : "source.mirror", { block: src.block ?? "—" });
    if (Number(src.lag_blocks) > 0) s += tr("source.lag", { n: src.lag_blocks });
    fact("facts.source", s);
  }
  if (cert) {
    fact("facts.hash", cert.hash, true);
    fact("facts.batch_root", cert.batch_root, true);
    if (cert.anchored_at && cert.anchored_at.tx) fact("facts.tx", cert.anchored_at.tx, true);
  }
  el.factsBlock.hidden = el.facts.childElementCount === 0;

  // a presentation: why the holder shows it, and its window; only the fields the holder chose
  const pres = presentationOf(b);
  el.presentationFacts.replaceChildren();
  if (pres) {
    const dd = addPair(el.presentationFacts, tr("presentation.purpose"), purposeText(pres));
    dd.dataset.fact = "purpose";
    dd.dataset.purpose = String(pres.purpose || "");
    if (pres.issued_at && pres.expires_at) {
      const w = addPair(el.presentationFacts, tr("presentation.window"),
        tr("presentation.window.value", { from: fmtTime(pres.issued_at, true), until: fmtTime(pres.expires_at, true) }));
      w.dataset.fact = "window";
    }
  }
  el.presentationBlock.hidden = !pres;

  // disclosed fields: facts with values
  el.fields.replaceChildren();
  const disclosed = b.disclosed_fields && typeof b.disclosed_fields === "object" ? b.disclosed_fields : {};
  const type = cert ? cert.type : null;
  // after INVALID/UNKNOWN/ERROR the fields are only what the document claims: say so
  const untrusted = !TRUSTED_FIELDS.includes(b.verdict);
  el.fieldsBlock.classList.toggle("untrusted", untrusted);
  el.fieldsHeading.textContent = tr(untrusted ? "fields.heading.untrusted" : pres ? "fields.heading.presentation" : "fields.heading");
  if (untrusted && Object.keys(disclosed).length) {
    const warn = document.createElement("p");
    warn.className = "untrusted-note";
    warn.textContent = tr("fields.untrusted.note");
    el.fields.append(warn);
  }
  for (const name of orderFields(type, Object.keys(disclosed))) {
    const dd = addPair(el.fields, labelFor(type, name), valueText(name, disclosed[name]));
    dd.dataset.field = name;
  }
  el.fieldsBlock.hidden = el.fields.childElementCount === 0;

  // hidden fields: names only, never values, and never among the facts
  el.hiddenList.replaceChildren();
  let hidden = [];
  if (Array.isArray(b.hidden_fields)) hidden = b.hidden_fields.map(String);
  else if (b.hidden_fields && typeof b.hidden_fields === "object") hidden = Object.keys(b.hidden_fields);
  for (const name of orderFields(type, hidden)) {
    const li = document.createElement("li");
    li.dataset.hiddenField = name;
    const icon = document.createElement("span");
    icon.className = "hidden-icon";
    icon.innerHTML = svg("eyeoff");
    const label = document.createElement("span");
    label.className = "hidden-label";
    label.textContent = labelFor(type, name);
    const word = document.createElement("span");
    word.className = "hidden-word";
    word.textContent = tr("hidden.value");
    li.append(icon, label, word);
    el.hiddenList.append(li);
  }
  el.hiddenBlock.hidden = hidden.length === 0;
  el.details.hidden = checks.length === 0 && el.factsBlock.hidden && el.presentationBlock.hidden && el.fieldsBlock.hidden && el.hiddenBlock.hidden;
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
    isolateLtr(dd);
  }
}

/** Codes and hashes keep left-to-right order inside right-to-left text, aligned with it. */
function isolateLtr(node) {
  const b = document.createElement("bdi");
  b.dir = "ltr";
  b.textContent = node.textContent;
  node.replaceChildren(b);
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
  if (has(state.lang, "field." + name) && lookup(state.lang, "field." + name).lang === state.lang) return tr("field." + name);
  const info = state.types && type && state.types[type];
  const label = info && info.fields[name];
  const text = label && (state.lang === "en" ? label.en : label.zh);
  return text || (has(state.lang, "field." + name) ? tr("field." + name) : name);
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
  for (const [node, st] of [[el.scanStatus, state.scanStatus], [el.uploadStatus, state.uploadStatus], [el.speakStatus, state.speakStatus]]) {
    node.textContent = st ? tr(st.key, st.vars) : "";
    node.classList.toggle("status-error", !!(st && st.error));
  }
  el.regionNote.hidden = !state.regionNote;
  el.regionNote.textContent = state.regionNote ? tr(state.regionNote.key, state.regionNote.vars) : "";
}

function setScanStatus(key, error = false) {
  state.scanStatus = key ? { key, error } : null;
  renderStatuses();
}

function setUploadStatus(key, vars, error = false) {
  state.uploadStatus = key ? { key, vars, error } : null;
  renderStatuses();
}

function setSpeakStatus(key, error = false) {
  state.speakStatus = key ? { key, error } : null;
  renderStatuses();
}

// ------------------------------------------------------------------ reading aloud

function voiceFor(lang) {
  if (!("speechSynthesis" in window)) return null;
  let voices = [];
  try {
    voices = window.speechSynthesis.getVoices() || [];
  } catch {
    return null;
  }
  const want = lang.toLowerCase();
  const primary = want.split("-")[0];
  return voices.find((v) => (v.lang || "").toLowerCase().replace("_", "-") === want)
    || voices.find((v) => (v.lang || "").toLowerCase().split(/[-_]/)[0] === primary)
    || null;
}

async function readAloud() {
  const v = state.view;
  if (!v || v.kind !== "result") return;
  const text = spokenSummary(v.body, true).slice(0, SPEECH_MAX_CHARS);
  const lang = state.lang;
  const voice = voiceFor(lang);
  if (speechAudio) speechAudio.pause();
  if (voice) {
    window.speechSynthesis.cancel();
    const u = new SpeechSynthesisUtterance(text);
    u.voice = voice;
    u.lang = voice.lang;
    u.rate = 0.9;
    window.speechSynthesis.speak(u);
    el.speakButton.dataset.engine = "browser";
    setSpeakStatus("speak.speaking");
    return;
  }
  // no voice for this language in this browser: the server reads it (espeak-ng)
  el.speakButton.dataset.engine = "server";
  setSpeakStatus("speak.loading");
  let res;
  try {
    res = await fetchWithTimeout(SPEECH_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "audio/wav, application/json" },
      body: JSON.stringify({ lang, text }),
    });
  } catch {
    setSpeakStatus("speak.error", true);
    return;
  }
  if (lang !== state.lang) return;
  if (!res.ok) {
    let code = "";
    try {
      code = (await res.json()).error.code;
    } catch {
      /* no JSON */
    }
    setSpeakStatus(code === "UNSUPPORTED_LANGUAGE" ? "speak.unsupported" : "speak.error", true);
    return;
  }
  const url = URL.createObjectURL(await res.blob());
  speechAudio = new Audio(url);
  speechAudio.addEventListener("ended", () => URL.revokeObjectURL(url), { once: true });
  try {
    await speechAudio.play();
    setSpeakStatus("speak.speaking");
  } catch {
    setSpeakStatus("speak.error", true);
  }
}

// ------------------------------------------------------------------ service counter

function localDate() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** Today's counts by verdict (kept in this browser only; a new day starts from zero). */
function todaysCounts() {
  let data = null;
  try {
    data = JSON.parse(recall(STORE.counts) || "null");
  } catch {
    data = null;
  }
  if (!data || data.date !== localDate() || typeof data.counts !== "object" || !data.counts) return { date: localDate(), counts: {} };
  return data;
}

function countVerdict(verdict) {
  const data = todaysCounts();
  const v = VERDICTS[verdict] ? verdict : "OTHER";
  data.counts[v] = (Number(data.counts[v]) || 0) + 1;
  store(STORE.counts, JSON.stringify(data));
  renderCounts();
}

function renderCounts() {
  const { counts } = todaysCounts();
  let total = 0;
  el.counts.replaceChildren();
  for (const v of [...Object.keys(VERDICTS), "OTHER"]) {
    const n = Number(counts[v]) || 0;
    total += n;
    if (!n) continue;
    const dd = addPair(el.counts, tr("verdict." + v), String(n));
    dd.dataset.verdict = v;
    dd.previousSibling.dataset.verdict = v;
  }
  el.countsTotal.textContent = tr("counter.total", { n: total });
  el.countsTotal.dataset.total = String(total);
}

function apiKeyNow() {
  try {
    return (sessionStorage.getItem(API_KEY_STORE) || "").trim();
  } catch {
    return "";
  }
}

function clearSeconds() {
  const n = Number(recall(STORE.clear));
  return recall(STORE.clear) !== null && Number.isFinite(n) && n >= 0 ? Math.min(600, Math.round(n)) : DEFAULT_CLEAR_SECONDS;
}

function scheduleClear() {
  clearTimeout(state.clearTimer);
  const seconds = clearSeconds();
  if (!seconds) return;
  const my = state.seq;
  state.clearTimer = setTimeout(() => {
    if (my !== state.seq || !state.counter) return;
    state.lastInput = null;
    el.payload.value = "";
    setView(null);
    announce("");
    focusScanner();
  }, seconds * 1000);
}

/** Two rising notes for VALID, two low buzzes for anything else (Web Audio, no files). */
function playTone(valid) {
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!AC) return;
  try {
    if (!audioCtx) audioCtx = new AC();
    if (audioCtx.state === "suspended") audioCtx.resume().catch(() => {});
    const now = audioCtx.currentTime + 0.01;
    const notes = valid
      ? [[660, 0, 0.14, "sine"], [990, 0.16, 0.24, "sine"]]
      : [[196, 0, 0.22, "square"], [196, 0.3, 0.22, "square"]];
    for (const [freq, at, dur, wave] of notes) {
      const osc = audioCtx.createOscillator();
      const gain = audioCtx.createGain();
      osc.type = wave;
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + at);
      gain.gain.exponentialRampToValueAtTime(valid ? 0.3 : 0.15, now + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + at + dur);
      osc.connect(gain);
      gain.connect(audioCtx.destination);
      osc.start(now + at);
      osc.stop(now + at + dur + 0.02);
    }
  } catch {
    /* no sound: the verdict is still on the screen */
  }
}

function focusScanner() {
  if (!state.counter || langMenuOpen()) return;
  const a = document.activeElement;
  // settings the staff are using keep their focus; anything else gives it back to the scanner field
  if (a === el.scanInput || a === el.region || a === el.clearSeconds || a === el.apiKey) return;
  el.scanInput.focus({ preventScroll: true });
}

function setCounter(on, remember) {
  state.counter = !!on;
  document.documentElement.classList.toggle("counter", state.counter);
  el.counter.hidden = !state.counter;
  el.counterToggle.setAttribute("aria-pressed", state.counter ? "true" : "false");
  if (remember) store(STORE.mode, state.counter ? "counter" : "citizen");
  if (!state.counter) clearTimeout(state.clearTimer);
  el.clearSeconds.value = String(clearSeconds());
  renderCounts();
  render();
  if (state.counter) el.scanInput.focus({ preventScroll: true });
}

function submitScan() {
  const text = el.scanInput.value;
  el.scanInput.value = "";
  const found = classify(text, "paste.notours");
  if (found.error) {
    if (!text.trim()) return;
    showLocalError(found.error);
    playTone(false);
    scheduleClear();
    return;
  }
  runVerify(found, { focusResult: false });
}

// ------------------------------------------------------------------ regions

/** The member regions from GET /v1/regions (names in zh/en); the list is not written here. */
async function loadRegions() {
  try {
    const res = await fetchWithTimeout(REGIONS_URL, { headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(String(res.status));
    const data = await res.json();
    const list = Array.isArray(data && data.regions) ? data.regions : [];
    state.regions = list.filter((r) => r && REGION_RE.test(String(r.region)));
    for (const r of state.regions) {
      if (r.name && typeof r.name === "object") state.regionNames[String(r.region)] = { zh: r.name.zh, en: r.name.en };
    }
  } catch {
    state.regions = null; // the chosen region (if any) stays selectable
  }
  renderRegionOptions();
  if (state.view && state.view.kind === "result") render();
  el.region.dataset.loaded = state.regions ? "true" : "failed";
}

function renderRegionOptions() {
  const codes = new Set();
  for (const r of state.regions || []) if (r.member) codes.add(String(r.region));
  if (state.region) codes.add(state.region);
  const none = el.region.options[0];
  el.region.replaceChildren(none);
  for (const code of [...codes].sort()) {
    const opt = document.createElement("option");
    opt.value = code;
    const name = regionName(code);
    opt.textContent = name ? tr("region.option", { name: name.text, code }) : tr("region.other", { code });
    if (name && name.lang !== state.lang) opt.lang = name.lang;
    el.region.append(opt);
  }
  el.region.value = state.region;
}

function setRegion(value, remember) {
  state.region = REGION_RE.test(value || "") ? value : "";
  if (remember) store(STORE.region, state.region || "any");
  renderRegionOptions();
}

// ------------------------------------------------------------------ language

// after the language changed (page-common.js sets the header and the marked text)
function onLang() {
  if (speechAudio) speechAudio.pause();
  renderRegionOptions();
  renderCounts();
  renderStatuses();
  render();
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
  clearTimeout(state.clearTimer);
  el.payload.value = "";
  setScanStatus(null);
  setUploadStatus(null);
  setView(null);
  announce("");
  el.payload.focus();
}

// ------------------------------------------------------------------ start

async function init() {
  Object.assign(el, {
    counterToggle: $("counter-toggle"),
    region: $("region"),
    regionNote: $("region-note"),
    counter: $("counter"),
    scanInput: $("scan-input"),
    clearSeconds: $("clear-seconds"),
    apiKey: $("api-key"),
    counts: $("counts"),
    countsTotal: $("counts-total"),
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
    verdictMore: $("verdict-more"),
    verdictRegion: $("verdict-region"),
    explain: $("verdict-explain"),
    keyfacts: $("keyfacts"),
    message: $("verdict-message"),
    offlineNote: $("offline-note"),
    speakRow: $("speak-row"),
    speakButton: $("speak-button"),
    speakStatus: $("speak-status"),
    retryRow: $("retry-row"),
    retryButton: $("retry-button"),
    details: $("details"),
    checks: $("checks"),
    checksHeading: $("checks-heading"),
    facts: $("facts"),
    factsBlock: $("facts-block"),
    fields: $("fields"),
    fieldsBlock: $("fields-block"),
    presentationBlock: $("presentation-block"),
    presentationFacts: $("presentation-facts"),
    fieldsHeading: $("fields-heading"),
    hiddenBlock: $("hidden-block"),
    hiddenList: $("hidden-list"),
  });
  el.error.tabIndex = -1;

  const search = location.search;
  const hash = location.hash;
  const urlPayload = rawParam(search, "payload") ?? rawParam(hash, "payload");
  const urlRegion = rawParam(search, "verifier_region") ?? rawParam(hash, "verifier_region");

  // The verifying region: this device's setting (or the user's choice). A link may preset it
  // for this visit only when it carries no payload; a link with a payload never chooses it.
  const stored = recall(STORE.region);
  let region = stored && REGION_RE.test(stored) ? stored : "";
  if (urlRegion !== null) {
    const r = urlRegion.trim();
    if (urlPayload !== null) {
      if (r && r !== region) state.regionNote = { key: "region.ignored", vars: { code: r } };
      removeParams(["verifier_region"]);
    } else if (REGION_RE.test(r)) {
      region = r;
    } else if (r === "" || r === "any" || r === "none") {
      region = "";
    }
  }
  state.region = region;

  const urlMode = rawParam(search, "mode");
  const counterOn = urlMode === "counter" ? true : urlMode === "citizen" ? false : recall(STORE.mode) === "counter";
  await startChrome(rawParam(search, "lang"));
  setCounter(counterOn, false);

  el.counterToggle.addEventListener("click", () => setCounter(!state.counter, true));
  el.region.addEventListener("change", () => {
    setRegion(el.region.value, true); // an explicit choice: remembered on this device
    state.regionNote = null;
    renderStatuses();
    if (state.lastInput && state.view && state.view.kind === "result") runVerify(state.lastInput, { focusResult: false });
  });
  el.scanInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.isComposing) {
      e.preventDefault();
      submitScan();
    }
  });
  el.scanInput.addEventListener("focusout", (e) => {
    // always focused in counter mode: only another control may take the focus
    if (!e.relatedTarget) setTimeout(focusScanner, 0);
  });
  document.addEventListener("keydown", (e) => {
    // a scanner typing while nothing is focused: give its keys to the scanner field
    if (state.counter && (document.activeElement === document.body || document.activeElement === el.verdict) && e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) {
      el.scanInput.focus({ preventScroll: true });
    }
  });
  el.apiKey.value = apiKeyNow();
  el.apiKey.addEventListener("change", () => {
    try {
      const v = el.apiKey.value.trim();
      if (v) sessionStorage.setItem(API_KEY_STORE, v);
      else sessionStorage.removeItem(API_KEY_STORE);
    } catch {
      /* storage refused: the key is not kept */
    }
  });
  el.clearSeconds.addEventListener("change", () => {
    const n = Math.round(Number(el.clearSeconds.value));
    if (Number.isFinite(n) && n >= 0 && n <= 600) store(STORE.clear, String(n));
    el.clearSeconds.value = String(clearSeconds());
  });
  el.speakButton.addEventListener("click", readAloud);
  el.scanStart.addEventListener("click", startCamera);
  el.scanStop.addEventListener("click", stopCamera);
  el.upload.addEventListener("change", onFileChosen);
  if (el.upload.files && el.upload.files.length) onFileChosen(); // chosen while the page was starting
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

  loadRegions();
  registerOffline();
  document.documentElement.dataset.ready = "true";

  // ?payload=... (or #payload=...): verify at once; then drop it from the address bar
  if (urlPayload !== null) {
    removeParams(["payload"]);
    el.payload.value = urlPayload.trim();
    if (urlPayload.trim()) submitPasted(!state.counter);
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
