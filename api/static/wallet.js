// CertLedger wallet (GET /wallet): the citizen's certificates on their own device, shown as
// presentations (CLP1:, docs/presentations.md) that expire. Plain ES module, no build step.
//
// - The device key: an ECDSA P-256 key pair made by WebCrypto on first use with
//   extractable: false, kept as CryptoKey objects in IndexedDB: the page can sign with it, never
//   read it. One key for all the certificates of this browser profile.
// - Certificates: certledger/2 (and /1, kept but not presentable) JSON documents, read and their
//   hashes recomputed in the browser (wallet-core.js), kept in IndexedDB only.
// - A binding request ({"certificate", "holderKey"}) for the issuing agency, as text, a file and
//   a QR code: the agency records it on chain before the wallet's presentations are accepted.
// - A presentation: the fields the citizen ticks, the others as their hashes, a purpose, a
//   window of DEFAULT_LIFETIME seconds and a nonce, signed by the device key; shown as a QR code
//   with a countdown and replaced by a fresh one when it expires, until the citizen stops. Each
//   presentation's receipt tag is kept with the certificate (the last MAX_TAGS).
// - Receipts (docs/presentations.md §6): who verified the certificate's presentations, when,
//   for what and which fields they saw, from GET /v1/receipts asked with those tags (at most
//   RECEIPT_CHUNK a request), each receipt's Merkle proof checked here (keccak-256, wallet-core.js)
//   before it is said anchored.
//
// - Import by retrieval code (CLR1:, docs/content.md): GET /v1/content/{cid} with the code's CID
//   only; the bytes are checked against the CID and opened with the code's key here
//   (wallet-core.js), then added exactly as a file is.
//
// Nothing personal is sent anywhere: the page fetches only its own files, its language files,
// (for field labels) GET /v1/types, (for receipts) GET /v1/receipts with the receipt tags,
// pseudonyms that only this wallet can link, and (for a retrieval code) the sealed document by
// its CID, never the key. Data is only ever inserted with textContent.

import { DEFAULT_LANG, has, lookup, regionFromFile } from "/static/i18n.js";
import { pageChrome } from "/static/page-common.js";
import * as core from "/static/wallet-core.js";
import { qrcode } from "/static/vendor/qrcode.esm.js";

const DB_NAME = "certledger-wallet";
const DB_VERSION = 1;
const KEY_ID = "device";
const TYPES_URL = "/v1/types";
const RECEIPTS_URL = "/v1/receipts";
const CONTENT_URL = "/v1/content"; // sealed documents by CID (import by retrieval code)
const RECEIPT_CHUNK = 100; // tags per GET /v1/receipts (the API's limit)
const MAX_TAGS = 500; // receipt tags kept per certificate: its last presentations
const MAX_FILE_BYTES = 1024 * 1024; // a certificate file is a few kilobytes
const QR_QUIET = 4; // modules of white around a QR code
const QR_MAX_VERSION_M = 20; // past this, level L: fewer, larger modules for a phone's camera

const $ = (id) => document.getElementById(id);
const el = {};
let receiptsSeq = 0;

const state = {
  lang: DEFAULT_LANG,
  large: false,
  key: null, // {id, privateKey, publicKey, publicRaw, fingerprint}
  certs: [], // wallet records (wallet-core.js readDocument), oldest first
  types: null, // type code -> {title:{zh,en}, fields:{name:{zh,en}}, order:[names]}
  importStatus: null, // {key, vars, error}
  codeStatus: null, // {key, vars, error}: the import by retrieval code
  codeBusy: false,
  confirming: null, // hash of the certificate whose deletion is being confirmed
  panel: null, // null | {kind: "bind" | "present" | "receipts", hash}
  receipts: null, // {hash, status: "loading" | "error" | "done", items: [{receipt, state}], seq}
  showing: null, // {cert, show, purpose, text, payload, iat, exp, timer, count, busy}
  purposeError: false,
};

let db = null;
let wakeLock = null;

// ------------------------------------------------------------------ small helpers

const { tr, setText, announce, start: startChrome } = pageChrome({ state, titleKey: "wallet.page.title", onLang });

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

function typeText(type) {
  if (has(state.lang, "type." + type)) return tr("type." + type);
  const info = state.types && state.types[type];
  const title = info && info.title && (state.lang === "en" ? info.title.en : info.title.zh);
  return title || String(type);
}

function labelFor(type, name) {
  if (has(state.lang, "field." + name) && lookup(state.lang, "field." + name).lang === state.lang) return tr("field." + name);
  const info = state.types && state.types[type];
  const label = info && info.fields[name];
  const text = label && (state.lang === "en" ? label.en : label.zh);
  return text || (has(state.lang, "field." + name) ? tr("field." + name) : name);
}

function orderFields(type, names) {
  const info = state.types && state.types[type];
  if (!info || !info.order.length) return names;
  const pos = (n) => {
    const i = info.order.indexOf(n);
    return i < 0 ? info.order.length : i;
  };
  return [...names].sort((x, y) => pos(x) - pos(y));
}

function validityText(cert) {
  return cert.validUntil
    ? tr("facts.valid.range", { from: cert.validFrom, until: cert.validUntil })
    : tr("facts.valid.open", { from: cert.validFrom });
}

function certByHash(hash) {
  return state.certs.find((c) => c.hash === hash) || null;
}

/** Keep a presentation's receipt tag (hex) with its certificate: the last MAX_TAGS. */
function keepTag(cert, tag) {
  cert.receiptTags = (cert.receiptTags || []).concat(tag).slice(-MAX_TAGS);
  return new Promise((resolve, reject) => {
    const t = db.transaction("certificates", "readwrite");
    const st = t.objectStore("certificates");
    const q = st.get(cert.hash);
    q.onsuccess = () => {
      const rec = q.result; // deleted meanwhile (another tab): nothing to keep
      if (rec) st.put({ ...rec, receiptTags: (rec.receiptTags || []).concat(tag).slice(-MAX_TAGS) });
    };
    t.oncomplete = () => resolve();
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

/** Codes and hashes keep left-to-right order inside right-to-left text. */
function ltr(text) {
  const b = document.createElement("bdi");
  b.dir = "ltr";
  b.textContent = text;
  return b;
}

// ------------------------------------------------------------------ IndexedDB

function openDb() {
  return new Promise((resolve, reject) => {
    let req;
    try {
      req = indexedDB.open(DB_NAME, DB_VERSION);
    } catch (e) {
      reject(e);
      return;
    }
    req.onupgradeneeded = () => {
      const d = req.result;
      if (!d.objectStoreNames.contains("keys")) d.createObjectStore("keys", { keyPath: "id" });
      if (!d.objectStoreNames.contains("certificates")) d.createObjectStore("certificates", { keyPath: "hash" });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error("database blocked"));
  });
}

function request(storeName, mode, fn) {
  return new Promise((resolve, reject) => {
    const t = db.transaction(storeName, mode);
    const req = fn(t.objectStore(storeName));
    let result;
    req.onsuccess = () => (result = req.result);
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error || req.error);
    t.onabort = () => reject(t.error || req.error);
  });
}

// ------------------------------------------------------------------ the device key

/** This profile's device key: read from IndexedDB, or made (non-extractable) and kept there. */
async function deviceKey() {
  let rec = await request("keys", "readonly", (s) => s.get(KEY_ID));
  if (!rec) {
    const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)); // the public half only
    const fresh = { id: KEY_ID, privateKey: pair.privateKey, publicKey: pair.publicKey, publicRaw: raw, createdAt: Date.now() };
    try {
      await request("keys", "readwrite", (s) => s.add(fresh));
      rec = fresh;
    } catch {
      rec = await request("keys", "readonly", (s) => s.get(KEY_ID)); // another tab made it first
    }
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", rec.publicRaw));
  return { ...rec, fingerprint: core.hex(digest.slice(0, 8)).toUpperCase().match(/.{4}/g).join(" ") };
}

function renderKey() {
  el.keyFingerprint.replaceChildren();
  if (state.key) {
    setText(el.keyStatus, "wallet.key.ready");
    const text = tr("wallet.key.fingerprint", { fingerprint: "\u0000" });
    const [before, after] = text.split("\u0000");
    el.keyFingerprint.append(before, ltr(state.key.fingerprint), after || "");
    el.keyFingerprint.hidden = false;
  } else {
    setText(el.keyStatus, state.fatal ? "wallet.key.error" : "wallet.key.creating");
    el.keyFingerprint.hidden = true;
  }
}

// ------------------------------------------------------------------ certificates

async function loadCerts() {
  const all = await request("certificates", "readonly", (s) => s.getAll());
  state.certs = (all || []).sort((a, b) => (a.addedAt || 0) - (b.addedAt || 0));
}

function setImportStatus(key, vars, error = false) {
  state.importStatus = key ? { key, vars, error } : null;
  renderImportStatus();
}

function setCodeStatus(key, vars, error = false) {
  state.codeStatus = key ? { key, vars, error } : null;
  renderImportStatus();
}

function renderImportStatus() {
  for (const [node, st] of [
    [el.importStatus, state.importStatus],
    [el.codeStatus, state.codeStatus],
  ]) {
    node.textContent = st ? tr(st.key, st.vars) : "";
    node.classList.toggle("status-error", !!(st && st.error));
  }
}

async function onImport() {
  const file = el.importInput.files && el.importInput.files[0];
  el.importInput.value = ""; // the same file can be chosen again
  if (!file) return;
  if (file.size > MAX_FILE_BYTES) {
    setImportStatus("wallet.add.toobig", null, true);
    return;
  }
  let data;
  try {
    data = JSON.parse(await file.text());
  } catch {
    setImportStatus("wallet.add.badjson", null, true);
    return;
  }
  await addDocument(data, setImportStatus);
}

/** A certificate document (parsed JSON) checked and kept, from a file or a retrieval code alike;
 * ``say`` reports the outcome. Resolves to whether it was added. */
async function addDocument(data, say) {
  let rec;
  try {
    rec = await core.readDocument(data);
  } catch (e) {
    const code = e instanceof core.DocumentError ? e.code : "malformed";
    say(code === "mismatch" ? "wallet.add.mismatch" : code === "format" ? "wallet.add.format" : "wallet.add.bad", null, true);
    return false;
  }
  if (certByHash(rec.hash)) {
    say("wallet.add.exists", { type: typeText(rec.type) });
    return false;
  }
  rec.addedAt = Date.now();
  try {
    await request("certificates", "readwrite", (s) => s.add(rec));
  } catch {
    say("wallet.add.storage", null, true);
    return false;
  }
  state.certs.push(rec);
  renderList();
  const vars = { type: typeText(rec.type), agency: rec.agency };
  say(core.presentable(rec) ? "wallet.add.added" : "wallet.add.added.v1", vars);
  loadTypes();
  return true;
}

// The words for a refused code or content (wallet-core.js RetrievalError codes).
const CODE_ERRORS = {
  prefix: "wallet.code.prefix",
  toolong: "wallet.code.toolong",
  char: "wallet.code.char",
  length: "wallet.code.length",
  suite: "wallet.code.damaged",
  truncated: "wallet.code.damaged",
  cid: "wallet.code.damaged",
  size: "wallet.code.size",
  seal: "wallet.code.notsealed",
  broken: "wallet.code.broken",
};

/** Fetch the sealed document a retrieval code names (GET /v1/content/{cid}: only the CID leaves
 * the device), check it against the CID here, open it with the code's key, and add it as a file
 * would be. */
async function onImportCode() {
  if (state.codeBusy) return;
  const text = el.codeInput.value;
  if (!text.trim()) {
    setCodeStatus("wallet.code.empty", null, true);
    return;
  }
  let code;
  try {
    code = core.parseRetrievalCode(text);
  } catch (e) {
    const key = (e instanceof core.RetrievalError && CODE_ERRORS[e.code]) || "wallet.code.damaged";
    const bad = e instanceof core.RetrievalError && e.code === "char" ? [...text.trim().slice(core.CODE_PREFIX.length).toUpperCase()].find((ch) => !/[A-Z2-7]/.test(ch)) : "";
    setCodeStatus(key, { char: bad || "" }, true);
    return;
  }
  if (code.cid.codec !== core.CODEC_RAW) {
    setCodeStatus("wallet.code.size", null, true); // several blocks: more than 256 KiB
    return;
  }
  state.codeBusy = true;
  el.codeImport.disabled = true;
  setCodeStatus("wallet.code.fetching");
  try {
    const outcome = await fetchByCode(code);
    if (outcome.error) {
      setCodeStatus(outcome.error, null, true);
      return;
    }
    if (await addDocument(outcome.document, setCodeStatus)) el.codeInput.value = "";
  } finally {
    state.codeBusy = false;
    el.codeImport.disabled = false;
  }
}

async function fetchByCode(code) {
  let response;
  try {
    response = await fetch(`${CONTENT_URL}/${code.cid.text}`, { credentials: "omit", referrerPolicy: "no-referrer" });
  } catch {
    return { error: "wallet.code.unavailable" };
  }
  if (!response.ok) {
    let err = "";
    try {
      err = (await response.json()).error.code;
    } catch {
      // not the API's error shape
    }
    if (response.status === 404) return { error: err === "NOT_SEALED" ? "wallet.code.notsealed" : "wallet.code.notfound" };
    if (err === "CONTENT_TAMPERED") return { error: "wallet.code.tampered" };
    if (response.status === 400) return { error: "wallet.code.damaged" };
    return { error: "wallet.code.unavailable" };
  }
  const length = Number(response.headers.get("content-length") || 0);
  if (length > core.MAX_SEALED_BYTES) return { error: "wallet.code.size" };
  let plain;
  try {
    const data = new Uint8Array(await response.arrayBuffer());
    await core.checkContent(code, data); // the CID again, here: the server is not trusted with it
    plain = await core.openSealed(data, code.key, code.suite);
  } catch (e) {
    if (!(e instanceof core.RetrievalError)) return { error: "wallet.code.unavailable" };
    return { error: e.code === "cid" ? "wallet.code.tampered" : CODE_ERRORS[e.code] || "wallet.code.broken" };
  }
  try {
    return { document: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain)) };
  } catch {
    return { error: "wallet.code.badjson" };
  }
}

async function deleteCert(hash) {
  const cert = certByHash(hash);
  if (!cert) return;
  if (state.showing && state.showing.cert.hash === hash) stopShowing(false);
  if (state.panel && state.panel.hash === hash) closePanel(false);
  await request("certificates", "readwrite", (s) => s.delete(hash));
  state.certs = state.certs.filter((c) => c.hash !== hash);
  state.confirming = null;
  renderList();
  announce(tr("wallet.deleted", { type: typeText(cert.type) }));
  el.listHeading.focus();
}

function certActions(cert) {
  const row = document.createElement("div");
  row.className = "row cert-actions";
  if (state.confirming === cert.hash) {
    const q = document.createElement("p");
    q.className = "confirm-question";
    q.id = "confirm-" + cert.hash.slice(2, 12);
    q.textContent = tr("wallet.cert.delete.really");
    const yes = button("wallet.cert.delete.yes", "btn btn-danger", () => deleteCert(cert.hash), "delete-yes");
    yes.setAttribute("aria-describedby", q.id);
    const no = button("wallet.cert.delete.no", "btn", () => {
      state.confirming = null;
      renderList();
      focusIn(cert.hash, "[data-testid=delete]");
    }, "delete-no");
    row.append(q, yes, no);
    return row;
  }
  if (core.presentable(cert)) {
    row.append(
      button("wallet.cert.present", "btn btn-primary", () => openPanel("present", cert.hash), "present-open"),
      button("wallet.cert.bind", "btn", () => openPanel("bind", cert.hash), "bind-open"),
      button("wallet.cert.receipts", "btn", () => openPanel("receipts", cert.hash), "receipts-open"),
    );
  }
  row.append(button("wallet.cert.delete", "btn", () => {
    state.confirming = cert.hash;
    renderList();
    focusIn(cert.hash, "[data-testid=delete-no]");
  }, "delete"));
  return row;
}

function button(key, className, onClick, testid) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = tr(key);
  if (testid) b.dataset.testid = testid;
  b.addEventListener("click", onClick);
  return b;
}

function focusIn(hash, selector) {
  const li = el.list.querySelector(`li[data-hash="${hash}"]`);
  const target = li && li.querySelector(selector);
  if (target) target.focus();
}

function renderList() {
  el.list.replaceChildren();
  for (const cert of state.certs) {
    const li = document.createElement("li");
    li.className = "cert";
    li.dataset.hash = cert.hash;
    li.dataset.testid = "cert";
    li.dataset.format = cert.format;
    li.dataset.suite = cert.suite;
    const h = document.createElement("h3");
    h.className = "cert-title";
    h.textContent = typeText(cert.type);
    const dl = document.createElement("dl");
    dl.className = "cert-facts";
    pair(dl, "facts.agency", ltr(cert.agency), "agency");
    pair(dl, "facts.valid", validityText(cert), "valid");
    if (cert.identifier) pair(dl, "facts.identifier", ltr(cert.identifier), "identifier", true);
    else pair(dl, "facts.hash", ltr(cert.hash), "hash", true);
    li.append(h, dl);
    if (!core.presentable(cert)) {
      const note = document.createElement("p");
      note.className = "cert-note";
      note.dataset.testid = "cert-note";
      note.textContent = tr(cert.version === 1 ? "wallet.cert.v1" : "wallet.cert.identifier");
      li.append(note);
    }
    li.append(certActions(cert));
    el.list.append(li);
  }
  el.listEmpty.hidden = state.certs.length > 0;
  el.list.hidden = state.certs.length === 0;
}

function pair(dl, key, value, fact, mono) {
  const dt = document.createElement("dt");
  dt.textContent = tr(key);
  const dd = document.createElement("dd");
  dd.dataset.fact = fact;
  if (mono) dd.className = "mono";
  dd.append(value);
  dl.append(dt, dd);
}

// ------------------------------------------------------------------ panels: binding request, presenting

function openPanel(kind, hash) {
  if (state.showing) stopShowing(false);
  state.panel = { kind, hash };
  state.purposeError = false;
  if (kind === "present") {
    el.purpose.value = "";
    el.purposeText.value = "";
    buildFieldChoices();
  }
  if (kind === "receipts") loadReceipts(hash);
  else state.receipts = null;
  renderPanels();
  const heading = kind === "bind" ? el.bindHeading : kind === "receipts" ? el.receiptsHeading : el.presentHeading;
  heading.focus();
  heading.scrollIntoView({ block: "start", behavior: "auto" });
}

function closePanel(focusList = true) {
  if (state.showing) stopShowing(false);
  const p = state.panel;
  state.panel = null;
  state.receipts = null;
  renderPanels();
  if (focusList && p) focusIn(p.hash, p.kind === "receipts" ? "[data-testid=receipts-open]" : "[data-testid=present-open]");
}

function bindingRequest(cert) {
  return { certificate: cert.hash, holderKey: core.b64url(state.key.publicRaw) };
}

function renderPanels() {
  const p = state.panel;
  const cert = p && certByHash(p.hash);
  el.bind.hidden = !(cert && p.kind === "bind");
  el.present.hidden = !(cert && p.kind === "present");
  el.receipts.hidden = !(cert && p.kind === "receipts");
  if (!cert) return;
  if (p.kind === "receipts") renderReceipts(cert);
  else if (p.kind === "bind") {
    el.bindHeading.textContent = tr("wallet.bind.heading", { type: typeText(cert.type) });
    el.bindExplain.textContent = tr("wallet.bind.explain", { agency: cert.agency });
    const req = bindingRequest(cert);
    el.bindRequest.value = JSON.stringify(req, null, 2);
    el.bind.dataset.certificate = cert.hash;
    if (el.bindQr.dataset.text !== JSON.stringify(req)) renderQr(el.bindQr, JSON.stringify(req), "Byte");
  } else {
    el.presentHeading.textContent = tr("wallet.present.heading", { type: typeText(cert.type) });
    el.presentForm.hidden = !!state.showing;
    el.showing.hidden = !state.showing;
    renderPurposeOptions();
    for (const label of el.fieldChoices.querySelectorAll("label[data-field]")) {
      label.querySelector(".choice-label").textContent = labelFor(cert.type, label.dataset.field);
    }
    el.fieldChoices.querySelector(".always").textContent = tr("wallet.present.always", {
      type: typeText(cert.type), agency: cert.agency, valid: validityText(cert),
    });
    el.purposeError.textContent = state.purposeError ? tr("wallet.present.purpose.missing") : "";
    el.purpose.setAttribute("aria-invalid", state.purposeError ? "true" : "false");
    if (state.showing) renderCountdown();
  }
}

function downloadRequest() {
  const cert = state.panel && certByHash(state.panel.hash);
  if (!cert) return;
  const text = JSON.stringify(bindingRequest(cert), null, 2) + "\n";
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = `certledger-binding-${cert.hash.slice(2, 10)}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function buildFieldChoices() {
  const cert = certByHash(state.panel.hash);
  el.fieldChoices.replaceChildren();
  const always = document.createElement("p");
  always.className = "always";
  el.fieldChoices.append(always);
  for (const name of orderFields(cert.type, Object.keys(cert.fields))) {
    const label = document.createElement("label");
    label.className = "choice";
    label.dataset.field = name;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = name;
    box.dataset.testid = "field-" + name;
    const text = document.createElement("span");
    text.className = "choice-label";
    label.append(box, text);
    el.fieldChoices.append(label);
  }
  for (const name of orderFields(cert.type, Object.keys(cert.hidden))) {
    // hidden already in this file (a disclosed copy): its value is not here, it cannot be shown
    const label = document.createElement("label");
    label.className = "choice unavailable";
    label.dataset.field = name;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.disabled = true;
    const text = document.createElement("span");
    text.className = "choice-label";
    label.append(box, text);
    el.fieldChoices.append(label);
  }
}

function renderPurposeOptions() {
  const value = el.purpose.value;
  const first = el.purpose.options[0];
  el.purpose.replaceChildren(first);
  for (const code of core.PURPOSES) {
    const opt = document.createElement("option");
    opt.value = code;
    opt.textContent = tr("purpose." + code);
    el.purpose.append(opt);
  }
  el.purpose.value = value;
}

function chosenFields() {
  return Array.from(el.fieldChoices.querySelectorAll("input[type=checkbox]:checked:not(:disabled)"), (b) => b.value);
}

async function startShowing() {
  const cert = state.panel && certByHash(state.panel.hash);
  if (!cert || !state.key) return;
  if (!el.purpose.value) {
    state.purposeError = true;
    renderPanels();
    el.purpose.focus();
    return;
  }
  state.purposeError = false;
  state.showing = { cert, show: chosenFields(), purpose: el.purpose.value, text: el.purposeText.value.trim(), count: 0, timer: 0, busy: false };
  try {
    await refresh();
  } catch {
    state.showing = null;
    renderPanels();
    el.purposeError.textContent = tr("wallet.present.failed");
    return;
  }
  renderPanels();
  state.showing.timer = setInterval(tick, 1000);
  keepAwake(true);
  el.presentStop.focus();
  announce(tr("wallet.present.ready", { s: core.DEFAULT_LIFETIME }));
}

/** A new presentation: new iat, exp and nonce, signed again. */
async function refresh() {
  const s = state.showing;
  if (!s || s.busy) return;
  s.busy = true;
  try {
    const nonce = crypto.getRandomValues(new Uint8Array(16));
    const iat = nowSeconds();
    // kept before the code is shown: a verifier's receipt is then always found
    await keepTag(s.cert, "0x" + core.hex(await core.receiptTag(s.cert, nonce))).catch(() => {});
    const body = await core.presentationBody(s.cert, s.show, {
      purpose: s.purpose, purposeText: s.text, holderKey: state.key.publicRaw, issuedAt: iat, nonce,
    });
    const signature = new Uint8Array(
      await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, state.key.privateKey, core.signedBytes(body)),
    );
    if (state.showing !== s) return; // stopped meanwhile
    s.payload = core.encodePresentation(body, signature);
    s.iat = iat;
    s.exp = iat + core.DEFAULT_LIFETIME;
    s.count += 1;
    renderQr(el.qr, s.payload, "Alphanumeric");
    el.qr.dataset.payload = s.payload;
    el.qr.dataset.iat = String(s.iat);
    el.qr.dataset.exp = String(s.exp);
    el.qr.dataset.count = String(s.count);
    el.summary.textContent = summaryText(s);
    renderCountdown();
  } finally {
    s.busy = false;
  }
}

function summaryText(s) {
  const names = Object.keys(s.cert.fields).concat(Object.keys(s.cert.hidden));
  const shown = orderFields(s.cert.type, s.show).map((n) => labelFor(s.cert.type, n));
  const hidden = orderFields(s.cert.type, names.filter((n) => !s.show.includes(n))).map((n) => labelFor(s.cert.type, n));
  const list = (xs) => (xs.length ? xs.join(tr("list.sep")) : tr("wallet.present.nothing"));
  return tr("wallet.present.summary", { purpose: tr("purpose." + s.purpose), shown: list(shown), hidden: list(hidden) });
}

function tick() {
  const s = state.showing;
  if (!s) return;
  if (nowSeconds() >= s.exp) {
    refresh().then(() => {
      if (state.showing === s) announce(tr("wallet.present.renewed", { s: core.DEFAULT_LIFETIME }));
    }, () => stopShowing(true, "wallet.present.failed"));
    return;
  }
  renderCountdown();
}

function renderCountdown() {
  const s = state.showing;
  if (!s || !s.exp) return;
  const left = Math.max(0, s.exp - nowSeconds());
  el.countdown.textContent = tr("wallet.present.countdown", { s: left });
  el.countdown.dataset.left = String(left);
  el.countdownBar.max = core.DEFAULT_LIFETIME;
  el.countdownBar.value = left;
}

function stopShowing(focus = true, messageKey = "wallet.present.stopped") {
  const s = state.showing;
  if (!s) return;
  clearInterval(s.timer);
  state.showing = null;
  el.qr.replaceChildren();
  for (const k of ["payload", "iat", "exp", "count"]) delete el.qr.dataset[k];
  el.countdown.textContent = "";
  keepAwake(false);
  renderPanels();
  announce(tr(messageKey));
  if (focus) el.presentStart.focus();
}

/** Keep the screen on while a QR code is shown (where the browser offers it). */
async function keepAwake(on) {
  try {
    if (on && !wakeLock && navigator.wakeLock) wakeLock = await navigator.wakeLock.request("screen");
    else if (!on && wakeLock) {
      const lock = wakeLock;
      wakeLock = null;
      await lock.release();
    }
  } catch {
    wakeLock = null; // not offered, or refused: the QR code works all the same
  }
}

// ------------------------------------------------------------------ receipts (docs/presentations.md §6)

/** This certificate's receipt tags as kept in IndexedDB now (another tab may have added some). */
async function storedTags(hash) {
  const rec = await request("certificates", "readonly", (st) => st.get(hash));
  const cert = certByHash(hash);
  const tags = (rec && rec.receiptTags) || (cert && cert.receiptTags) || [];
  if (cert) cert.receiptTags = tags;
  return [...new Set(tags.map((t) => String(t).toLowerCase()))];
}

/** GET /v1/receipts for the certificate's tags, RECEIPT_CHUNK at a time; each receipt's proof
 * checked here. Only the tags leave the browser. */
async function loadReceipts(hash) {
  const seq = ++receiptsSeq;
  state.receipts = { hash, status: "loading", items: [], seq };
  renderPanels();
  let items = [];
  try {
    const tags = await storedTags(hash);
    const wanted = new Set(tags);
    const found = [];
    for (let i = 0; i < tags.length; i += RECEIPT_CHUNK) {
      const query = new URLSearchParams();
      for (const tag of tags.slice(i, i + RECEIPT_CHUNK)) query.append("tag", tag);
      const res = await fetch(`${RECEIPTS_URL}?${query}`, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "omit" });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const data = await res.json();
      if (!data || !Array.isArray(data.receipts)) throw new Error("not a receipts answer");
      for (const r of data.receipts) if (core.receiptWellFormed(r) && wanted.has(r.tag.toLowerCase())) found.push(r);
    }
    items = found.map((receipt, order) => ({ receipt, order, state: core.receiptState(receipt) }));
    items.sort((a, b) => b.receipt.verified_at - a.receipt.verified_at || b.order - a.order); // newest first
  } catch {
    if (state.receipts && state.receipts.seq === seq) {
      state.receipts.status = "error";
      renderPanels();
      announce(tr("wallet.receipts.error"));
    }
    return;
  }
  if (!state.receipts || state.receipts.seq !== seq) return; // closed or reloaded meanwhile
  state.receipts.status = "done";
  state.receipts.items = items;
  renderPanels();
  announce(receiptsStatusText());
}

function receiptsStatusText() {
  const r = state.receipts;
  if (!r) return "";
  if (r.status === "loading") return tr("wallet.receipts.loading");
  if (r.status === "error") return tr("wallet.receipts.error");
  if (!r.items.length) return tr("wallet.receipts.empty");
  const mismatched = r.items.filter((x) => x.state === "mismatch").length;
  const text = tr("wallet.receipts.count", { n: r.items.length });
  const gap = state.lang === "zh-CN" ? "" : " "; // Chinese sentences follow each other without a space
  return mismatched ? text + gap + tr("wallet.receipts.count.mismatch", { n: mismatched }) : text;
}

/** A region's name from the language files (the page's language, else Chinese or English). */
function regionText(code) {
  const c = String(code);
  const name = regionFromFile(state.lang, c) || regionFromFile(state.lang === "en" ? "en" : "zh-CN", c) || regionFromFile("en", c);
  return name ? tr("region.named", { name, code: c }) : tr("region.other", { code: c });
}

/** A time as the verification page writes it: YYYY-MM-DD HH:MM, China Standard Time. */
function fmtTime(seconds) {
  const d = new Date(seconds * 1000);
  try {
    const parts = {};
    for (const p of new Intl.DateTimeFormat("en-GB", {
      timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
    }).formatToParts(d)) parts[p.type] = p.value;
    return tr("time.format", { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` });
  } catch {
    return d.toISOString();
  }
}

function shortTx(tx) {
  return typeof tx === "string" && tx.length > 14 ? `${tx.slice(0, 8)}…${tx.slice(-6)}` : String(tx || "");
}

function receiptItem(cert, { receipt: r, state: st }) {
  const li = document.createElement("li");
  li.className = "receipt receipt-" + st;
  li.dataset.testid = "receipt";
  li.dataset.state = st;
  li.dataset.tag = r.tag.toLowerCase();
  li.dataset.verdict = r.verdict;
  const status = document.createElement("p");
  status.className = "receipt-status";
  status.dataset.testid = "receipt-status";
  if (st === "anchored") {
    li.dataset.block = String(r.anchored.block);
    const text = tr("wallet.receipts.anchored", { block: r.anchored.block, tx: "\u0000" });
    const [before, after] = text.split("\u0000");
    const tx = ltr(shortTx(r.anchored.tx));
    tx.title = r.anchored.tx;
    status.append(before, tx, after || "");
  } else {
    status.textContent = tr(st === "mismatch" ? "wallet.receipts.mismatch" : "wallet.receipts.waiting");
    if (st === "mismatch") status.setAttribute("role", "note");
  }
  const dl = document.createElement("dl");
  dl.className = "cert-facts receipt-facts";
  const fields = orderFields(cert.type, r.fields).map((n) => labelFor(cert.type, n));
  const purpose = has(state.lang, "purpose." + r.purpose) ? tr("purpose." + r.purpose) : r.purpose;
  const verdict = has(state.lang, "verdict." + r.verdict) ? tr("verdict." + r.verdict) : r.verdict;
  pair(dl, "wallet.receipts.time", fmtTime(r.verified_at), "time");
  pair(dl, "wallet.receipts.verifier", ltr(r.verifier), "verifier");
  pair(dl, "wallet.receipts.region", regionText(r.region), "region");
  pair(dl, "wallet.receipts.purpose", r.purpose_text ? `${purpose} — ${r.purpose_text}` : purpose, "purpose"); // as /verify writes it
  pair(dl, "wallet.receipts.fields", fields.length ? fields.join(tr("list.sep")) : tr("wallet.present.nothing"), "fields");
  pair(dl, "wallet.receipts.verdict", verdict, "verdict");
  li.append(status, dl);
  return li;
}

function renderReceipts(cert) {
  const r = state.receipts;
  el.receiptsHeading.textContent = tr("wallet.receipts.heading", { type: typeText(cert.type) });
  el.receiptsStatus.textContent = receiptsStatusText();
  el.receiptsStatus.dataset.status = r ? r.status : "";
  el.receiptsStatus.classList.toggle("status-error", !!(r && r.status === "error"));
  el.receiptsList.replaceChildren(...(r && r.status === "done" ? r.items.map((x) => receiptItem(cert, x)) : []));
  el.receiptsList.hidden = !(r && r.status === "done" && r.items.length);
  el.receiptsReload.disabled = !!(r && r.status === "loading");
}

// ------------------------------------------------------------------ QR codes (qrcode-generator)

function makeQr(text, mode, level) {
  const qr = qrcode(0, level);
  qr.addData(text, mode);
  qr.make();
  return qr;
}

/** Draw ``text`` as a QR code (SVG, one path, a quiet zone of 4 modules) into ``container``:
 * error correction level M, or L when M would need more than QR_MAX_VERSION_M. */
function renderQr(container, text, mode) {
  let level = "M";
  let qr = makeQr(text, mode, level);
  if ((qr.getModuleCount() - 17) / 4 > QR_MAX_VERSION_M) {
    level = "L";
    qr = makeQr(text, mode, level);
  }
  const n = qr.getModuleCount();
  const size = n + 2 * QR_QUIET;
  let d = "";
  for (let r = 0; r < n; r++) {
    let c = 0;
    while (c < n) {
      if (!qr.isDark(r, c)) {
        c++;
        continue;
      }
      const start = c;
      while (c < n && qr.isDark(r, c)) c++;
      d += `M${start + QR_QUIET} ${r + QR_QUIET}h${c - start}v1h${start - c}z`;
    }
  }
  const NS = "http://www.w3.org/2000/svg";
  const svgEl = document.createElementNS(NS, "svg");
  svgEl.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svgEl.setAttribute("shape-rendering", "crispEdges");
  svgEl.setAttribute("aria-hidden", "true");
  svgEl.setAttribute("focusable", "false");
  const bg = document.createElementNS(NS, "rect");
  bg.setAttribute("width", String(size));
  bg.setAttribute("height", String(size));
  bg.setAttribute("fill", "#ffffff");
  const path = document.createElementNS(NS, "path");
  path.setAttribute("d", d);
  path.setAttribute("fill", "#000000");
  svgEl.append(bg, path);
  container.replaceChildren(svgEl);
  container.dataset.text = text;
  container.dataset.version = String((n - 17) / 4);
  container.dataset.modules = String(n);
  container.dataset.level = level;
}

// ------------------------------------------------------------------ field labels from the API

/** Field labels and order from the API's type schemas (GET /v1/types): nothing personal is sent. */
async function loadTypes() {
  if (state.types || state.typesLoading) return;
  state.typesLoading = true;
  try {
    const res = await fetch(TYPES_URL, { headers: { Accept: "application/json" } });
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
    renderAll();
  } catch {
    /* labels fall back to the built-in ones */
  } finally {
    state.typesLoading = false;
  }
}

// ------------------------------------------------------------------ language

function renderAll() {
  renderKey();
  renderImportStatus();
  renderList();
  renderPanels();
}

// after the language changed (page-common.js sets the header and the marked text)
function onLang() {
  if (state.showing) el.summary.textContent = summaryText(state.showing);
  if (state.fatal) el.fatalMessage.textContent = tr(state.fatal);
  renderAll();
}

// ------------------------------------------------------------------ start

function fail(key) {
  state.fatal = key;
  el.fatal.hidden = false;
  el.fatalMessage.textContent = tr(key);
  el.importInput.disabled = true;
  el.codeInput.disabled = el.codeImport.disabled = true;
  renderKey();
}

async function init() {
  Object.assign(el, {
    fatal: $("fatal"),
    fatalMessage: $("fatal-message"),
    importInput: $("import"),
    importStatus: $("import-status"),
    codeForm: $("code-form"),
    codeInput: $("code-input"),
    codeImport: $("code-import"),
    codeStatus: $("code-status"),
    keyStatus: $("key-status"),
    keyFingerprint: $("key-fingerprint"),
    listHeading: $("list-heading"),
    listEmpty: $("list-empty"),
    list: $("list"),
    bind: $("bind"),
    bindHeading: $("bind-heading"),
    bindExplain: $("bind-explain"),
    bindRequest: $("bind-request"),
    bindDownload: $("bind-download"),
    bindClose: $("bind-close"),
    bindQr: $("bind-qr"),
    present: $("present"),
    presentHeading: $("present-heading"),
    presentForm: $("present-form"),
    fieldChoices: $("field-choices"),
    purpose: $("purpose"),
    purposeError: $("purpose-error"),
    purposeText: $("purpose-text"),
    presentStart: $("present-start"),
    presentClose: $("present-close"),
    showing: $("showing"),
    qr: $("qr"),
    countdown: $("countdown"),
    countdownBar: $("countdown-bar"),
    summary: $("summary"),
    presentStop: $("present-stop"),
    receipts: $("receipts"),
    receiptsHeading: $("receipts-heading"),
    receiptsStatus: $("receipts-status"),
    receiptsList: $("receipts-list"),
    receiptsReload: $("receipts-reload"),
    receiptsClose: $("receipts-close"),
  });
  el.purposeText.maxLength = core.MAX_PURPOSE_TEXT;

  await startChrome(new URLSearchParams(location.search).get("lang"));
  el.codeForm.addEventListener("submit", (e) => {
    e.preventDefault();
    onImportCode();
  });
  el.bindDownload.addEventListener("click", downloadRequest);
  el.bindClose.addEventListener("click", () => closePanel());
  el.presentClose.addEventListener("click", () => closePanel());
  el.receiptsClose.addEventListener("click", () => closePanel());
  el.receiptsReload.addEventListener("click", () => state.panel && state.panel.kind === "receipts" && loadReceipts(state.panel.hash));
  el.presentForm.addEventListener("submit", (e) => {
    e.preventDefault();
    startShowing();
  });
  el.purpose.addEventListener("change", () => {
    if (state.purposeError && el.purpose.value) {
      state.purposeError = false;
      renderPanels();
    }
  });
  el.presentStop.addEventListener("click", () => stopShowing(true));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.showing) {
      tick(); // timers slept while hidden: an expired code is replaced at once
      keepAwake(true); // the browser releases the lock when the page is hidden
    }
  });

  if (!window.isSecureContext || !window.crypto || !crypto.subtle || !window.indexedDB) {
    fail("wallet.key.insecure");
    document.documentElement.dataset.ready = "true";
    return;
  }
  try {
    db = await openDb();
    state.key = await deviceKey();
    await loadCerts();
  } catch {
    fail("wallet.key.error");
    document.documentElement.dataset.ready = "true";
    return;
  }
  renderAll();
  if (state.certs.length) loadTypes();
  // a file is imported once the wallet's store is open; one chosen while the page was starting
  // is imported now
  el.importInput.addEventListener("change", onImport);
  if (el.importInput.files && el.importInput.files.length) onImport();
  document.documentElement.dataset.ready = "true";
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
