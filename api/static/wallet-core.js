// CertLedger wallet: what the page computes, without the page. Plain ES module, no build step,
// no DOM: certificate documents (certledger/2 and /1) read and their hashes recomputed, the
// presentation body (CLP1:, ledger/presentation.py) built, CBOR and Base45 written, SM3,
// keccak-256, and the Merkle proofs of verification receipts (ledger/receipts.py) checked.
//
// Everything here runs in the browser only: the wallet sends nothing personal anywhere.
//
//   fieldHash    = H("CL2F" || salt16 || u16be(len name) || name || u32be(len value) || value)
//   metaDigest   = H("CL2M" || entry($type) || ... || entry($identifier))
//   holderDigest = H("CL2H" || sorted field hashes)
//   certHash     = H("CL2C" || metaDigest || holderDigest)      H: SHA-256 (intl) or SM3 (sm)
//
// The presentation, as ledger/presentation.py body_bytes and encode write it:
//   "CLP1:" || base45(CBOR [body bstr, signature bstr(64)])
//   body = CBOR map {0: metadata items, 1: [[name, value, salt]...], 2: [[name, hash]...],
//                    3: purpose, 4: purpose text, 5: iat, 6: exp, 7: nonce16, 8: holder key (65),
//                    9: receipt tag (16)}
//   receipt tag = HMAC-SHA256(SHA-256("CLR1" || the document's salts, by field name), nonce)[:16]
//   signature = ECDSA P-256 / SHA-256 over "CertLedger presentation v1" || body (WebCrypto, r || s)
//
// A verification receipt (ledger/receipts.py, GET /v1/receipts) is proved as the API's holder
// proof: leaf = keccak256("CLRC" || CBOR [verifier, region, purpose, purpose text, time, sorted
// field names, tag, verdict, serial]), then the batch tree of ledger/merkle.py (node of a leaf:
// keccak256(keccak256(leaf)); pairs sorted: keccak256(min || max)) up to the batch root.

export const PREFIX = "CLP1:";
export const DOMAIN = "CertLedger presentation v1";
export const PURPOSES = ["EMPLOYMENT", "HOUSING", "BANKING", "TRAVEL", "EDUCATION", "MEDICAL", "GOVERNMENT_SERVICE", "OTHER"];
export const DEFAULT_LIFETIME = 60; // seconds a presentation may be shown
export const MAX_PURPOSE_TEXT = 100; // characters
export const IDENTIFIER_ROOT = "1.2.156.3005.2";
export const FORMAT_V1 = "certledger/1";
export const FORMAT_V2 = "certledger/2";
export const SUITES = ["intl", "sm"];
const META_FIELDS_V1 = ["$type", "$agency", "$region", "$validFrom", "$validUntil"];
const META_FIELDS_V2 = [...META_FIELDS_V1, "$identifier"];
const FIELD_NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const IDENTIFIER_RE = /^[0-9A-Z.]{1,100}$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const REGION_RE = /^\d{6}$/;
const HEX32_RE = /^0x[0-9a-fA-F]{64}$/;
const SALT_RE = /^0x[0-9a-fA-F]{32}$/;
const MAX_FIELDS = 256;

const enc = new TextEncoder();

/** A problem with a document: ``code`` names it for the page's words, ``detail`` in English. */
export class DocumentError extends Error {
  constructor(code, detail) {
    super(detail || code);
    this.code = code;
  }
}

// ------------------------------------------------------------------ bytes

export function utf8(text) {
  return enc.encode(text);
}

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function unhex(text) {
  const s = text.startsWith("0x") ? text.slice(2) : text;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

/** Base64url without padding (RFC 4648 §5). */
export function b64url(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function u16(n) {
  return Uint8Array.of((n >>> 8) & 0xff, n & 0xff);
}

function u32(n) {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

// ------------------------------------------------------------------ SM3 (GB/T 32905-2016)

const SM3_IV = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];
const rotl = (x, n) => ((x << n) | (x >>> (32 - n))) >>> 0;
const P0 = (x) => (x ^ rotl(x, 9) ^ rotl(x, 17)) >>> 0;
const P1 = (x) => (x ^ rotl(x, 15) ^ rotl(x, 23)) >>> 0;
const SM3_T = Array.from({ length: 64 }, (_, j) => rotl(j < 16 ? 0x79cc4519 : 0x7a879d8a, j % 32));

/** SM3 of bytes (WebCrypto has no SM3): 32 bytes. */
export function sm3(data) {
  const bitLen = data.length * 8;
  const padded = new Uint8Array((((data.length + 8) >> 6) + 1) << 6);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLen / 0x100000000));
  view.setUint32(padded.length - 4, bitLen >>> 0);
  const V = SM3_IV.slice();
  const W = new Uint32Array(68);
  const W1 = new Uint32Array(64);
  for (let off = 0; off < padded.length; off += 64) {
    for (let j = 0; j < 16; j++) W[j] = view.getUint32(off + 4 * j);
    for (let j = 16; j < 68; j++) W[j] = P1(W[j - 16] ^ W[j - 9] ^ rotl(W[j - 3], 15)) ^ rotl(W[j - 13], 7) ^ W[j - 6];
    for (let j = 0; j < 64; j++) W1[j] = W[j] ^ W[j + 4];
    let [A, B, C, D, E, F, G, H] = V;
    for (let j = 0; j < 64; j++) {
      const a12 = rotl(A, 12);
      const SS1 = rotl((a12 + E + SM3_T[j]) >>> 0, 7);
      const SS2 = (SS1 ^ a12) >>> 0;
      const ff = j < 16 ? A ^ B ^ C : (A & B) | (A & C) | (B & C);
      const gg = j < 16 ? E ^ F ^ G : (E & F) | (~E & G);
      const TT1 = (ff + D + SS2 + W1[j]) >>> 0;
      const TT2 = (gg + H + SS1 + W[j]) >>> 0;
      D = C;
      C = rotl(B, 9);
      B = A;
      A = TT1;
      H = G;
      G = rotl(F, 19);
      F = E;
      E = P0(TT2);
    }
    const next = [A, B, C, D, E, F, G, H];
    for (let i = 0; i < 8; i++) V[i] = (V[i] ^ next[i]) >>> 0;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  V.forEach((v, i) => ov.setUint32(4 * i, v));
  return out;
}

// ------------------------------------------------------------------ keccak-256 (Ethereum's)

// The original Keccak padding (0x01 ... 0x80), not SHA3-256's (0x06): what eth_utils.keccak and
// Solidity's keccak256 compute. Lanes as two 32-bit halves (lo, hi): no BigInt in the rounds.
const KECCAK_RC = [
  0x00000001, 0x00000000, 0x00008082, 0x00000000, 0x0000808a, 0x80000000, 0x80008000, 0x80000000,
  0x0000808b, 0x00000000, 0x80000001, 0x00000000, 0x80008081, 0x80000000, 0x00008009, 0x80000000,
  0x0000008a, 0x00000000, 0x00000088, 0x00000000, 0x80008009, 0x00000000, 0x8000000a, 0x00000000,
  0x8000808b, 0x00000000, 0x0000008b, 0x80000000, 0x00008089, 0x80000000, 0x00008003, 0x80000000,
  0x00008002, 0x80000000, 0x00000080, 0x80000000, 0x0000800a, 0x00000000, 0x8000000a, 0x80000000,
  0x80008081, 0x80000000, 0x00008080, 0x80000000, 0x80000001, 0x00000000, 0x80008008, 0x80000000,
];
const KECCAK_ROT = [1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44];
const KECCAK_PI = [10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1];
const KECCAK_RATE = 136; // bytes: 1600 - 2 * 256 bits

function keccakF(s) {
  // s: Uint32Array(50), lane i = (s[2i] lo, s[2i+1] hi)
  const c = new Uint32Array(10);
  for (let round = 0; round < 24; round++) {
    for (let x = 0; x < 10; x++) c[x] = s[x] ^ s[x + 10] ^ s[x + 20] ^ s[x + 30] ^ s[x + 40];
    for (let x = 0; x < 5; x++) {
      const a = ((x + 1) % 5) * 2;
      const b = ((x + 4) % 5) * 2;
      const lo = c[b] ^ ((c[a] << 1) | (c[a + 1] >>> 31));
      const hi = c[b + 1] ^ ((c[a + 1] << 1) | (c[a] >>> 31));
      for (let y = 0; y < 50; y += 10) {
        s[y + 2 * x] ^= lo;
        s[y + 2 * x + 1] ^= hi;
      }
    }
    let lo = s[2];
    let hi = s[3];
    for (let i = 0; i < 24; i++) {
      const j = KECCAK_PI[i] * 2;
      const tlo = s[j];
      const thi = s[j + 1];
      let n = KECCAK_ROT[i];
      if (n >= 32) {
        n -= 32;
        [lo, hi] = [hi, lo];
      }
      s[j] = n ? (lo << n) | (hi >>> (32 - n)) : lo;
      s[j + 1] = n ? (hi << n) | (lo >>> (32 - n)) : hi;
      lo = tlo;
      hi = thi;
    }
    for (let y = 0; y < 50; y += 10) {
      for (let x = 0; x < 10; x++) c[x] = s[y + x];
      for (let x = 0; x < 10; x++) s[y + x] ^= ~c[(x + 2) % 10] & c[(x + 4) % 10];
    }
    s[0] ^= KECCAK_RC[2 * round];
    s[1] ^= KECCAK_RC[2 * round + 1];
  }
}

/** keccak-256 of bytes (WebCrypto has none): 32 bytes. */
export function keccak256(data) {
  const blocks = Math.floor(data.length / KECCAK_RATE) + 1;
  const padded = new Uint8Array(blocks * KECCAK_RATE);
  padded.set(data);
  padded[data.length] ^= 0x01;
  padded[padded.length - 1] ^= 0x80;
  const view = new DataView(padded.buffer);
  const s = new Uint32Array(50);
  for (let off = 0; off < padded.length; off += KECCAK_RATE) {
    for (let i = 0; i < KECCAK_RATE / 4; i++) s[i] ^= view.getUint32(off + 4 * i, true);
    keccakF(s);
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(4 * i, s[i], true);
  return out;
}

async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

/** The suite's hash, as an async function of bytes. */
export function suiteHash(suite) {
  if (suite === "sm") return async (data) => sm3(data);
  if (suite === "intl") return sha256;
  throw new DocumentError("suite", `unknown suite ${suite}`);
}

// ------------------------------------------------------------------ certificate hashes

function entry(name, value) {
  const n = utf8(name);
  const v = utf8(value);
  return concat(u16(n.length), n, u32(v.length), v);
}

export function fieldHashV2(h, name, value, salt) {
  return h(concat(utf8("CL2F"), salt, entry(name, value)));
}

/** The metadata values in metaDigest's order ("" when absent). */
function metaValues(cert) {
  return [cert.type, cert.agency, String(cert.region), cert.validFrom, cert.validUntil || "", cert.identifier || ""];
}

/** Every holder field's hash: the shown ones computed, the already hidden ones as given. */
export async function fieldHashes(cert) {
  const out = new Map();
  if (cert.version === 2) {
    const h = suiteHash(cert.suite);
    for (const [name, value] of Object.entries(cert.fields)) out.set(name, await fieldHashV2(h, name, value, unhex(cert.salts[name])));
  } else {
    const values = metaValues(cert).slice(0, 5);
    const zero = new Uint8Array(16);
    for (let i = 0; i < 5; i++) out.set(META_FIELDS_V1[i], await sha256(concat(utf8("CL1F"), zero, entry(META_FIELDS_V1[i], values[i]))));
    for (const [name, value] of Object.entries(cert.fields)) {
      out.set(name, await sha256(concat(utf8("CL1F"), unhex(cert.salts[name]), entry(name, value))));
    }
  }
  for (const [name, digest] of Object.entries(cert.hidden)) out.set(name, unhex(digest));
  return out;
}

/** The certificate hash (32 bytes) of a parsed document, as ledger/document.py computes it. */
export async function certificateHash(cert) {
  const hashes = [...(await fieldHashes(cert)).values()].sort(compareBytes);
  if (cert.version !== 2) return sha256(concat(utf8("CL1C"), ...hashes));
  const h = suiteHash(cert.suite);
  const values = metaValues(cert);
  const meta = await h(concat(utf8("CL2M"), ...META_FIELDS_V2.map((n, i) => entry(n, values[i]))));
  const holder = await h(concat(utf8("CL2H"), ...hashes));
  return h(concat(utf8("CL2C"), meta, holder));
}

// ------------------------------------------------------------------ documents

function calendarDate(text, what) {
  if (typeof text !== "string" || !DATE_RE.test(text.trim())) throw new DocumentError("malformed", `${what}: expected YYYY-MM-DD`);
  const s = text.trim();
  const d = new Date(s + "T00:00:00Z");
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s) throw new DocumentError("malformed", `${what}: not a calendar date`);
  return s;
}

/** A certificate document (the JSON object a citizen receives) read as ledger/document.py reads
 * it, its hash recomputed and compared with the one it states. Resolves to the wallet's record;
 * rejects with DocumentError (code: "format", "malformed", "suite", "mismatch"). */
export async function readDocument(data) {
  if (!data || typeof data !== "object" || Array.isArray(data)) throw new DocumentError("malformed", "not a JSON object");
  if (data.document && typeof data.document === "object" && Object.keys(data).length === 1) data = data.document;
  const fmt = data.format;
  if (fmt !== FORMAT_V1 && fmt !== FORMAT_V2) throw new DocumentError("format", `unsupported format ${String(fmt).slice(0, 40)}`);
  const version = fmt === FORMAT_V2 ? 2 : 1;
  let suite = "intl";
  let identifier = null;
  if (version === 2) {
    if (!SUITES.includes(data.suite)) throw new DocumentError("suite", `unknown suite ${String(data.suite).slice(0, 16)}`);
    suite = data.suite;
    if (data.identifier !== undefined && data.identifier !== null) {
      if (typeof data.identifier !== "string" || !IDENTIFIER_RE.test(data.identifier)) throw new DocumentError("malformed", "identifier");
      identifier = data.identifier;
    }
  } else if ((data.suite !== undefined && data.suite !== null && data.suite !== "intl") || (data.identifier !== undefined && data.identifier !== null)) {
    throw new DocumentError("malformed", "a certledger/1 document has no suite or identifier");
  }
  const issuer = data.issuer;
  if (!issuer || typeof issuer !== "object") throw new DocumentError("malformed", "issuer");
  const agency = issuer.agency;
  if (typeof agency !== "string" || !agency || agency.length > 32) throw new DocumentError("malformed", "issuer.agency");
  if (!REGION_RE.test(String(issuer.region ?? "").trim())) throw new DocumentError("malformed", "issuer.region");
  const region = Number(String(issuer.region).trim());
  const type = data.type;
  if (typeof type !== "string" || !type || type.length > 32) throw new DocumentError("malformed", "type");
  const validFrom = calendarDate(data.validFrom, "validFrom");
  const validUntil = data.validUntil ? calendarDate(data.validUntil, "validUntil") : null;
  const fields = data.fields || {};
  const salts = data.salts || {};
  const hidden = data.hidden || {};
  for (const o of [fields, salts, hidden]) {
    if (typeof o !== "object" || Array.isArray(o)) throw new DocumentError("malformed", "fields, salts and hidden must be objects");
  }
  if (Object.keys(fields).length + Object.keys(hidden).length > MAX_FIELDS) throw new DocumentError("malformed", "too many fields");
  const outFields = {};
  for (const [name, value] of Object.entries(fields)) {
    if (!FIELD_NAME_RE.test(name) || typeof value !== "string" || value.length > 4096) throw new DocumentError("malformed", `field ${name.slice(0, 40)}`);
    outFields[name] = value.normalize("NFC");
  }
  for (const [name, digest] of Object.entries(hidden)) {
    if (!FIELD_NAME_RE.test(name) || name in fields || typeof digest !== "string" || !HEX32_RE.test(digest)) {
      throw new DocumentError("malformed", `hidden field ${name.slice(0, 40)}`);
    }
  }
  for (const [name, salt] of Object.entries(salts)) {
    if (!(name in fields)) throw new DocumentError("malformed", `salt for unknown entry ${name.slice(0, 40)}`);
    if (typeof salt !== "string" || !SALT_RE.test(salt)) throw new DocumentError("malformed", `salt of ${name.slice(0, 40)}`);
  }
  for (const name of Object.keys(fields)) if (!(name in salts)) throw new DocumentError("malformed", `missing salt for ${name}`);
  const cert = {
    format: fmt, version, suite, type, agency, region, validFrom, validUntil, identifier,
    fields: outFields,
    salts: Object.fromEntries(Object.entries(salts).map(([k, v]) => [k, v.toLowerCase()])),
    hidden: Object.fromEntries(Object.entries(hidden).map(([k, v]) => [k, v.toLowerCase()])),
  };
  const computed = "0x" + hex(await certificateHash(cert));
  if (data.hash !== undefined && data.hash !== null) {
    if (typeof data.hash !== "string" || !HEX32_RE.test(data.hash)) throw new DocumentError("malformed", "hash");
    if (data.hash.toLowerCase() !== computed) throw new DocumentError("mismatch", "the content does not match the stated hash");
  }
  return { hash: computed, ...cert, document: data };
}

/** Whether a certificate can be presented (certledger/2 with an identifier under the root). */
export function presentable(cert) {
  return cert.version === 2 && (!cert.identifier || cert.identifier.startsWith(IDENTIFIER_ROOT + "."));
}

/** The metadata as a compact code carries them (ledger/qr.py metadata_items). */
export function metadataItems(cert) {
  const day = (s) => Number(s.replace(/-/g, ""));
  return [
    cert.suite,
    cert.type,
    cert.agency,
    Number(cert.region),
    day(cert.validFrom),
    cert.validUntil ? day(cert.validUntil) : null,
    cert.identifier ? cert.identifier.slice(IDENTIFIER_ROOT.length + 1) : null,
  ];
}

// ------------------------------------------------------------------ CBOR (RFC 8949), the few types used

function head(major, n) {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff);
  if (n < 0x100000000) return concat(Uint8Array.of(m | 26), u32(n));
  return concat(Uint8Array.of(m | 27), u32(Math.floor(n / 0x100000000)), u32(n >>> 0));
}

/** CBOR of null, integers (|n| < 2^53), text, Uint8Array, arrays and Maps (keys in their order). */
export function cbor(value) {
  if (value === null) return Uint8Array.of(0xf6);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new TypeError("CBOR: only integers");
    return value >= 0 ? head(0, value) : head(1, -1 - value);
  }
  if (typeof value === "string") {
    const b = utf8(value);
    return concat(head(3, b.length), b);
  }
  if (value instanceof Uint8Array) return concat(head(2, value.length), value);
  if (Array.isArray(value)) return concat(head(4, value.length), ...value.map(cbor));
  if (value instanceof Map) {
    const parts = [head(5, value.size)];
    for (const [k, v] of value) parts.push(cbor(k), cbor(v));
    return concat(...parts);
  }
  throw new TypeError("CBOR: unsupported value");
}

// ------------------------------------------------------------------ Base45 (RFC 9285)

const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

export function base45(bytes) {
  let out = "";
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    let n = bytes[i] * 256 + bytes[i + 1];
    const c = n % 45;
    n = (n - c) / 45;
    const d = n % 45;
    const e = (n - d) / 45;
    out += B45[c] + B45[d] + B45[e];
  }
  if (bytes.length % 2) {
    const n = bytes[bytes.length - 1];
    out += B45[n % 45] + B45[Math.floor(n / 45)];
  }
  return out;
}

// ------------------------------------------------------------------ presentations

/** The pseudonym of a presentation's receipt (ledger/presentation.py receipt_key, receipt_tag):
 * only the holder's document (its salts) gives the key, and every nonce its own tag. */
export async function receiptTag(cert, nonce) {
  const names = Object.keys(cert.salts).sort(); // field names are ASCII: the order Python's sorted() gives
  const key = await sha256(concat(utf8("CLR1"), ...names.map((n) => unhex(cert.salts[n]))));
  const hmacKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, nonce)).slice(0, 16);
}

/** The body a wallet signs (ledger/presentation.py body_bytes): ``cert`` (a wallet record of a
 * certledger/2 document) showing the fields ``show``; the others as their hashes. */
export async function presentationBody(cert, show, { purpose, purposeText = "", holderKey, issuedAt, lifetime = DEFAULT_LIFETIME, nonce }) {
  if (!presentable(cert)) throw new DocumentError("format", "only a certledger/2 certificate can be presented");
  if (!PURPOSES.includes(purpose)) throw new DocumentError("purpose", `unknown purpose ${purpose}`);
  if ([...purposeText].length > MAX_PURPOSE_TEXT) throw new DocumentError("purpose", "purpose text too long");
  const wanted = new Set(show);
  for (const name of wanted) if (!(name in cert.fields)) throw new DocumentError("field", `no field ${name}`);
  const hashes = await fieldHashes(cert);
  const shown = [];
  const hidden = [];
  for (const [name, value] of Object.entries(cert.fields)) {
    if (wanted.has(name)) shown.push([name, value, unhex(cert.salts[name])]);
    else hidden.push([name, hashes.get(name)]);
  }
  for (const name of Object.keys(cert.hidden)) hidden.push([name, hashes.get(name)]);
  const iat = Math.floor(issuedAt);
  return cbor(new Map([
    [0, metadataItems(cert)],
    [1, shown],
    [2, hidden],
    [3, purpose],
    [4, purposeText],
    [5, iat],
    [6, iat + Math.floor(lifetime)],
    [7, nonce],
    [8, holderKey],
    [9, await receiptTag(cert, nonce)],
  ]));
}

/** What the device signs: the domain, then the body. */
export function signedBytes(body) {
  return concat(utf8(DOMAIN), body);
}

export function encodePresentation(body, signature) {
  return PREFIX + base45(cbor([body, signature]));
}

// ------------------------------------------------------------------ verification receipts

export const RECEIPT_LEAF_TAG = "CLRC";
const HEX16_RE = /^0x[0-9a-fA-F]{32}$/;

/** A receipt's leaf (ledger/receipts.py Receipt.leaf), from the JSON GET /v1/receipts answers. */
export function receiptLeaf(r) {
  const body = [
    r.verifier,
    r.region,
    r.purpose,
    r.purpose_text,
    r.verified_at,
    [...r.fields].sort(), // field names are ASCII: the order Python's sorted() gives
    unhex(r.tag),
    r.verdict,
    unhex(r.serial),
  ];
  return keccak256(concat(utf8(RECEIPT_LEAF_TAG), cbor(body)));
}

/** The root a Merkle proof leads to from a leaf (ledger/merkle.py root_from_proof). */
export function rootFromProof(leaf, proof) {
  let node = keccak256(keccak256(leaf));
  for (const sibling of proof) node = compareBytes(node, sibling) < 0 ? keccak256(concat(node, sibling)) : keccak256(concat(sibling, node));
  return node;
}

/** Whether a receipt as the API answered it is well formed (types, hex) — never trusted blindly. */
export function receiptWellFormed(r) {
  const hex32 = (x) => typeof x === "string" && HEX32_RE.test(x);
  return !!r && typeof r === "object"
    && typeof r.verifier === "string" && Number.isSafeInteger(r.region) && r.region >= 0
    && typeof r.purpose === "string" && typeof r.purpose_text === "string"
    && Number.isSafeInteger(r.verified_at) && r.verified_at >= 0
    && Array.isArray(r.fields) && r.fields.every((f) => typeof f === "string")
    && typeof r.tag === "string" && HEX16_RE.test(r.tag) && typeof r.verdict === "string"
    && typeof r.serial === "string" && HEX16_RE.test(r.serial)
    && (r.batch_root === null || hex32(r.batch_root))
    && Array.isArray(r.proof) && r.proof.every(hex32)
    && (r.anchored === null || (!!r.anchored && typeof r.anchored === "object" && Number.isSafeInteger(r.anchored.block)));
}

/** What the wallet may say of a receipt: "anchored" only when its proof leads to its batch root
 * (and the batch was anchored), "mismatch" when a batch root is given and the proof does not
 * lead to it, else "waiting" (not yet sealed, or sealed and not yet anchored). */
export function receiptState(r) {
  if (r.batch_root === null) return "waiting";
  const root = rootFromProof(receiptLeaf(r), r.proof.map(unhex));
  if (compareBytes(root, unhex(r.batch_root)) !== 0) return "mismatch";
  return r.anchored ? "anchored" : "waiting";
}

// ------------------------------------------------------------------ retrieval codes (docs/content.md)
//
// A retrieval code (ledger/content/codes.py) names a sealed document in the content store and
// carries the key that opens it:
//   CLR1:<base32 (RFC 4648, upper case, no padding) of suite (1) | key (32 intl, 16 sm) | CIDv1 (36)>
// The wallet fetches GET /v1/content/{cid} (only the CID leaves the device), recomputes the CID
// of the bytes itself (a single raw block: "b" + base32(0x01 0x55 0x12 0x20 || sha256(bytes))),
// then opens the seal (ledger/content/sealing.py):
//   "CLS" | version 1 | suite (1 intl, 2 sm) | nonce (12) | ciphertext | GCM tag (16)
// with the 17-byte header as the GCM associated data: AES-256-GCM by WebCrypto (intl), SM4-GCM
// (GB/T 32907 in GCM, sm) here, as WebCrypto has no SM4.

export const CODE_PREFIX = "CLR1:";
export const MAX_CODE = 200; // characters, as codes.py
export const CODEC_RAW = 0x55;
export const CODEC_DAG_PB = 0x70;
export const MAX_SEALED_BYTES = 262144; // one raw block (the profile's chunk): documents are a few KiB
const SEAL_SUITES = { 1: "intl", 2: "sm" };
const SEAL_KEY_SIZES = { intl: 32, sm: 16 };
const SEAL_HEADER = 17;
const SEAL_TAG = 16;
const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** A retrieval code or sealed content that is refused: ``code`` names the problem for the page's
 * words (codes: prefix, toolong, char, length, suite, truncated, cid; content: size, cid, seal,
 * broken, unsupported), ``detail`` in English. */
export class RetrievalError extends Error {
  constructor(code, detail) {
    super(detail || code);
    this.code = code;
  }
}

/** RFC 4648 base32 without padding, upper case. */
export function base32(bytes) {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

function base32Decode(text) {
  const out = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text) {
    acc = ((acc << 5) | B32.indexOf(ch)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((acc >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out); // the bits left over are padding, dropped as Python's b32decode does
}

function readVarint(data, pos) {
  let value = 0;
  let shift = 0;
  for (let i = pos; i < Math.min(pos + 9, data.length); i++) {
    const b = data[i];
    value += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) {
      if (b === 0 && i > pos) throw new RetrievalError("cid", "non-minimal varint");
      return [value, i + 1];
    }
    shift += 7;
  }
  throw new RetrievalError("cid", "truncated or overlong varint");
}

/** The CID text the codes and the API use: "b" and lower-case base32 of the binary CID. */
export function cidText(bytes) {
  return "b" + base32(bytes).toLowerCase();
}

/** A binary CIDv1 of the profile (cid.py Cid.from_bytes): {codec, digest, bytes, text}. */
export function readCid(data) {
  const [version, p1] = readVarint(data, 0);
  const [codec, pos] = readVarint(data, p1);
  if (version !== 1) throw new RetrievalError("cid", `CID version ${version} is not 1`);
  if (data[pos] !== 0x12 || data[pos + 1] !== 0x20) throw new RetrievalError("cid", "CID hash is not a 32-byte sha2-256");
  const digest = data.slice(pos + 2);
  if (digest.length !== 32) throw new RetrievalError("cid", "malformed CID: the digest is not 32 bytes");
  if (codec !== CODEC_RAW && codec !== CODEC_DAG_PB) throw new RetrievalError("cid", `CID codec 0x${codec.toString(16)} is not raw or dag-pb`);
  const bytes = Uint8Array.from(data);
  return { codec, digest, bytes, text: cidText(bytes) };
}

/** A retrieval code read exactly as ledger/content/codes.py RetrievalCode.parse reads it:
 * {suite, key, cid}; throws RetrievalError saying what is wrong. */
export function parseRetrievalCode(input) {
  if (typeof input !== "string") throw new RetrievalError("prefix", "retrieval code must be text");
  const text = input.trim();
  if ([...text].length > MAX_CODE) throw new RetrievalError("toolong", "retrieval code is too long");
  if (!text.toUpperCase().startsWith(CODE_PREFIX)) throw new RetrievalError("prefix", `it should start with ${CODE_PREFIX}`);
  const body = text.slice(CODE_PREFIX.length).toUpperCase();
  for (const ch of body) if (!B32.includes(ch)) throw new RetrievalError("char", `${JSON.stringify(ch)} is not a base32 character`);
  if ([1, 3, 6].includes(body.length % 8)) throw new RetrievalError("length", "a character is missing or extra");
  const raw = base32Decode(body);
  if (!raw.length || !(raw[0] in SEAL_SUITES)) throw new RetrievalError("suite", "unknown cipher suite");
  const suite = SEAL_SUITES[raw[0]];
  const size = SEAL_KEY_SIZES[suite];
  const key = raw.slice(1, 1 + size);
  if (key.length !== size) throw new RetrievalError("truncated", "retrieval code is truncated");
  return { suite, key, cid: readCid(raw.slice(1 + size)) };
}

/** The CID of content that is one raw block (every sealed document of up to 256 KiB). */
export async function rawCid(data) {
  return cidText(concat(Uint8Array.of(1, CODEC_RAW, 0x12, 0x20), await sha256(data)));
}

/** The sealed document's bytes, checked against the code's CID: only a raw CID (one block) is
 * fetched into the wallet, and only bytes that hash to it are opened. */
export async function checkContent(code, data) {
  if (code.cid.codec !== CODEC_RAW || data.length > MAX_SEALED_BYTES) {
    throw new RetrievalError("size", "larger than 256 KiB: not a certificate document");
  }
  if ((await rawCid(data)) !== code.cid.text) throw new RetrievalError("cid", "the content does not match its CID");
  return data;
}

/** {suite, header, nonce, body} of sealed bytes (sealing.py parse_header). */
export function sealHeader(data) {
  if (data.length < 3 || data[0] !== 0x43 || data[1] !== 0x4c || data[2] !== 0x53) throw new RetrievalError("seal", "no CLS header");
  if (data.length < SEAL_HEADER + SEAL_TAG) throw new RetrievalError("seal", "truncated");
  if (data[3] !== 1) throw new RetrievalError("seal", `format version ${data[3]}`);
  if (!(data[4] in SEAL_SUITES)) throw new RetrievalError("seal", `unknown suite ${data[4]}`);
  return { suite: SEAL_SUITES[data[4]], header: data.slice(0, SEAL_HEADER), nonce: data.slice(5, SEAL_HEADER), body: data.slice(SEAL_HEADER) };
}

/** The document inside sealed bytes (sealing.py open_sealed): AES-256-GCM or SM4-GCM with the
 * header as associated data. A wrong key and changed bytes are the same error ("broken"). */
export async function openSealed(data, key, suite) {
  const h = sealHeader(data);
  if (suite !== undefined && h.suite !== suite) throw new RetrievalError("broken", `sealed for ${h.suite}, the code says ${suite}`);
  if (key.length !== SEAL_KEY_SIZES[h.suite]) throw new RetrievalError("broken", "the key does not fit the suite");
  if (h.suite === "sm") {
    const out = sm4Gcm(key, h.nonce, h.body, h.header, false);
    if (!out) throw new RetrievalError("broken", "does not open: wrong key, or the ciphertext was changed (SM4-GCM)");
    return out;
  }
  try {
    const k = await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["decrypt"]);
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: h.nonce, additionalData: h.header, tagLength: 128 }, k, h.body);
    return new Uint8Array(plain);
  } catch {
    throw new RetrievalError("broken", "does not open: wrong key, or the ciphertext was changed (AES-256-GCM)");
  }
}

// ------------------------------------------------------------------ SM4 (GB/T 32907-2016) in GCM

const SM4_SBOX = unhex(
  "d690e9fecce13db716b614c228fb2c052b679a762abe04c3aa441326498606999c4250f491ef987a33540b43edcfac62" +
    "e4b31ca9c908e89580df94fa758f3fa64707a7fcf37317ba83593c19e6854fa8686b81b27164da8bf8eb0f4b70569d35" +
    "1e240e5e6358d1a225227c3b01217887d40046579fd327524c3602e7a0c4c89eeabf8ad240c738b5a3f7f2cef96115a1" +
    "e0ae5da49b341a55ad933230f58cb1e31df6e22e8266ca60c02923ab0d534e6fd5db3745defd8e2f03ff6a726d6c5b51" +
    "8d1baf92bbddbc7f11d95c411f105ad80ac13188a5cd7bbd2d74d012b8e5b4b08969974a0c96777e65b9f109c56ec684" +
    "18f07dec3adc4d2079ee5f3ed7cb3948",
);
const SM4_FK = [0xa3b1bac6, 0x56aa3350, 0x677d9197, 0xb27022dc];
const SM4_CK = Array.from({ length: 32 }, (_, i) => {
  let w = 0;
  for (let j = 0; j < 4; j++) w = (w << 8) | (((4 * i + j) * 7) & 0xff);
  return w >>> 0;
});

function sm4Tau(x) {
  return ((SM4_SBOX[x >>> 24] << 24) | (SM4_SBOX[(x >>> 16) & 0xff] << 16) | (SM4_SBOX[(x >>> 8) & 0xff] << 8) | SM4_SBOX[x & 0xff]) >>> 0;
}

function readWords(bytes) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [v.getUint32(0), v.getUint32(4), v.getUint32(8), v.getUint32(12)];
}

function writeWords(words) {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => v.setUint32(4 * i, w >>> 0));
  return out;
}

/** The 32 round keys of a 16-byte SM4 key. */
export function sm4Keys(key) {
  const k = readWords(key).map((w, i) => (w ^ SM4_FK[i]) >>> 0);
  const rk = [];
  for (let i = 0; i < 32; i++) {
    const b = sm4Tau((k[i + 1] ^ k[i + 2] ^ k[i + 3] ^ SM4_CK[i]) >>> 0);
    k.push((k[i] ^ b ^ rotl(b, 13) ^ rotl(b, 23)) >>> 0);
    rk.push(k[i + 4]);
  }
  return rk;
}

/** One 16-byte block encrypted with SM4 under round keys ``rk``. */
export function sm4Block(rk, block) {
  const x = readWords(block);
  for (let i = 0; i < 32; i++) {
    const b = sm4Tau((x[i + 1] ^ x[i + 2] ^ x[i + 3] ^ rk[i]) >>> 0);
    x.push((x[i] ^ b ^ rotl(b, 2) ^ rotl(b, 10) ^ rotl(b, 18) ^ rotl(b, 24)) >>> 0);
  }
  return writeWords([x[35], x[34], x[33], x[32]]);
}

function gfMul(x, y) {
  // GCM's multiplication in GF(2^128) (NIST SP 800-38D, algorithm 1), on big-endian 32-bit words
  let z0 = 0, z1 = 0, z2 = 0, z3 = 0;
  let [v0, v1, v2, v3] = y;
  for (let i = 0; i < 128; i++) {
    if ((x[i >>> 5] >>> (31 - (i & 31))) & 1) {
      z0 ^= v0;
      z1 ^= v1;
      z2 ^= v2;
      z3 ^= v3;
    }
    const lsb = v3 & 1;
    v3 = (v3 >>> 1) | (v2 << 31);
    v2 = (v2 >>> 1) | (v1 << 31);
    v1 = (v1 >>> 1) | (v0 << 31);
    v0 = v0 >>> 1;
    if (lsb) v0 ^= 0xe1000000;
  }
  return [z0 >>> 0, z1 >>> 0, z2 >>> 0, z3 >>> 0];
}

function ghash(h, aad, ct) {
  let y = [0, 0, 0, 0];
  const absorb = (data) => {
    for (let i = 0; i < data.length; i += 16) {
      const block = new Uint8Array(16);
      block.set(data.subarray(i, i + 16));
      const w = readWords(block);
      y = gfMul([y[0] ^ w[0], y[1] ^ w[1], y[2] ^ w[2], y[3] ^ w[3]], h);
    }
  };
  absorb(aad);
  absorb(ct);
  const lengths = new Uint8Array(16);
  const v = new DataView(lengths.buffer);
  v.setUint32(0, Math.floor((aad.length * 8) / 2 ** 32));
  v.setUint32(4, (aad.length * 8) >>> 0);
  v.setUint32(8, Math.floor((ct.length * 8) / 2 ** 32));
  v.setUint32(12, (ct.length * 8) >>> 0);
  absorb(lengths);
  return writeWords(y);
}

/** SM4-GCM with a 12-byte nonce and a 16-byte tag, as OpenSSL (and sealing.py) run it.
 * Encrypt: ciphertext || tag. Decrypt (``data`` = ciphertext || tag): the plaintext, or null
 * when the tag does not match (nothing is decrypted then). */
export function sm4Gcm(key, nonce, data, aad, encrypt) {
  if (key.length !== 16 || nonce.length !== 12) throw new RetrievalError("broken", "SM4-GCM: a 16-byte key and a 12-byte nonce");
  const rk = sm4Keys(key);
  const h = readWords(sm4Block(rk, new Uint8Array(16)));
  const j0 = concat(nonce, Uint8Array.of(0, 0, 0, 1));
  const ctr = (input) => {
    const out = new Uint8Array(input.length);
    const counter = j0.slice();
    const view = new DataView(counter.buffer);
    for (let i = 0; i < input.length; i += 16) {
      view.setUint32(12, (view.getUint32(12) + 1) >>> 0);
      const ks = sm4Block(rk, counter);
      for (let j = 0; j < 16 && i + j < input.length; j++) out[i + j] = input[i + j] ^ ks[j];
    }
    return out;
  };
  const tagOf = (ct) => {
    const s = ghash(h, aad, ct);
    const e = sm4Block(rk, j0);
    return s.map((b, i) => b ^ e[i]);
  };
  if (encrypt) {
    const ct = ctr(data);
    return concat(ct, tagOf(ct));
  }
  if (data.length < 16) return null;
  const ct = data.subarray(0, data.length - 16);
  const tag = data.subarray(data.length - 16);
  const expected = tagOf(ct);
  let diff = 0;
  for (let i = 0; i < 16; i++) diff |= tag[i] ^ expected[i];
  return diff === 0 ? ctr(ct) : null;
}
