// Offline verification on /verify: a trust snapshot (ledger/snapshot.py) checked and read in the
// browser, for counters whose network comes and goes (docs/offline-browser.md).
//
// The snapshot is a STORED zip of manifest.json, trust.sqlite and signatures.json. It is trusted
// when admins of more than the quorum rule's share of the pinned consortium's member regions
// signed its EIP-712 digest (TrustSnapshot) and its database hashes to the digest the manifest
// names (SHA-256, or SM3 in the sm suite). The database is the mirror's tables at the snapshot's
// block, read with sql.js (SQLite in WebAssembly) by the mirror's own queries
// (ledger/mirror/queries.py), and the checks are ledger/verification/checks.py's, in the same
// order, with the same codes and params, so the page renders an offline answer as an online one.
// Past the maximum age (by the snapshot's block time) every check that needs the ledger answers
// ERROR, never VALID: revocations since are unknown.
//
// Supported offline: full QR payloads (CLF2:/CLF1:), compact codes (CLC3:: the certificate hash
// recomputed from their metadata) and certificate files, in both suites: in the sm suite the
// batch's SM2 signature (sm2.js) is checked under the SM2 key registered with the anchoring key,
// as online. Older compact codes (CLC2:/CLC1:, a bare hash) and wallet presentations (CLP1:) need
// the ledger online.

import { DocumentError, concat, hex, keccak256, readDocument, sm3, unhex, utf8 } from "/static/wallet-core.js";
import { Signature, recoverPublicKey } from "/static/vendor/noble-secp256k1.js";
import { sm2Verify } from "/static/sm2.js";

export const SNAPSHOT_URL = "/v1/snapshot";
export const TRUST_URL = "/v1/snapshot/trust";
export const DEFAULT_MAX_AGE = 24 * 3600; // seconds, as ledger/snapshot.py DEFAULT_MAX_AGE
const FORMAT = "certledger-trust-snapshot/1";
const MANIFEST = "manifest.json";
const DATABASE = "trust.sqlite";
const SIGNATURES = "signatures.json";
const DOMAIN_NAME = "CertLedger";
const DOMAIN_VERSION = "3";
const IDENTIFIER_ROOT = "1.2.156.3005.2";
const ROLES = ["NONE", "AGENCY_KEY", "REGION_ADMIN", "CONSORTIUM"];
const MAX_PAYLOAD = 8192;
const MAX_INFLATED = 65536;

/** A snapshot that cannot be trusted: the page says why and verifies nothing with it. */
export class SnapshotProblem extends Error {
  constructor(code, message, params) {
    super(message);
    this.code = code;
    this.params = params || {};
  }
}

/** An input offline mode cannot answer (a compact code, a presentation, the sm suite). */
export class OfflineUnsupported extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** An input that is not a well-formed payload or document (the API would answer 400). */
export class OfflineBadInput extends Error {}

// ------------------------------------------------------------------ small helpers

function eq(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

async function suiteHash(suite, data) {
  return suite === "sm" ? sm3(data) : sha256(data);
}

function word(n) {
  const out = new Uint8Array(32);
  let v = BigInt(n);
  for (let i = 31; i >= 0 && v > 0n; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function address32(addr) {
  const out = new Uint8Array(32);
  out.set(unhex(addr), 12);
  return out;
}

function ascii32(text) {
  const out = new Uint8Array(32);
  out.set(utf8(text).subarray(0, 32));
  return out;
}

export function isoTime(ts) {
  if (!ts) return null;
  return new Date(ts * 1000).toISOString().replace(".000Z", "Z");
}

/** As ledger/snapshot.py describe_age. */
export function describeAge(seconds) {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

// ------------------------------------------------------------------ EIP-712 and secp256k1

function typeHash(signature) {
  return keccak256(utf8(signature));
}

function domainSeparator(chainId, contract) {
  return keccak256(
    concat(
      typeHash("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
      keccak256(utf8(DOMAIN_NAME)),
      keccak256(utf8(DOMAIN_VERSION)),
      word(chainId),
      address32(contract),
    ),
  );
}

function typedDigest(domain, struct) {
  return keccak256(concat(Uint8Array.of(0x19, 0x01), domain, struct));
}

/** The address whose key made the 65-byte signature r || s || v of a 32-byte digest. */
export function recoverAddress(digest, sig) {
  if (!(sig instanceof Uint8Array) || sig.length !== 65) throw new Error("a signature is 65 bytes");
  let v = sig[64];
  if (v >= 27) v -= 27;
  if (v !== 0 && v !== 1) throw new Error("bad recovery id");
  const pub = recoverPublicKey(digest, Signature.fromCompact(sig.subarray(0, 64)), v, false);
  return "0x" + hex(keccak256(pub.subarray(1)).subarray(12));
}

/** The digest region admins sign (ledger/snapshot.py Manifest.digest). */
export async function snapshotDigest(manifest, manifestBytes) {
  const d = manifest.deployment;
  const struct = keccak256(
    concat(
      typeHash("TrustSnapshot(uint64 height,bytes32 blockHash,uint64 blockTime,bytes32 manifest)"),
      word(manifest.block),
      unhex(manifest.block_hash),
      word(manifest.block_time),
      await suiteHash(d.suite || "intl", manifestBytes),
    ),
  );
  return typedDigest(domainSeparator(d.chain_id, d.consortium), struct);
}

/** The batch signature's digest (ledger/signing.py batch_typed_data). */
function batchDigest(root, certType, agency, chainId, registry, sm2Signature, tagsHash) {
  const struct = keccak256(
    concat(
      typeHash("AnchorBatch(bytes32 root,bytes32 certType,bytes32 agency,bytes32 sm2Signature,bytes32 identifierTags)"),
      root,
      ascii32(certType),
      ascii32(agency),
      keccak256(sm2Signature || new Uint8Array(0)),
      tagsHash || keccak256(new Uint8Array(0)),
    ),
  );
  return typedDigest(domainSeparator(chainId, registry), struct);
}

const SM2_BATCH_PREFIX = utf8("CLB2");
const sm2Results = new Map(); // one SM2 verification per batch, not per certificate (ledger/signing.py)

/** Whether the 64-byte SM2 signature is the batch's by the registered SM2 key (x || y)
 * (ledger/signing.py sm2_batch_signature_ok, default signer ID). */
function sm2BatchSignatureOk(publicKey, signature, root, certType, agency, chainId, registry, tagsHash) {
  const message = concat(
    SM2_BATCH_PREFIX,
    word(chainId),
    unhex(registry),
    ascii32(agency),
    ascii32(certType),
    root,
    tagsHash || keccak256(new Uint8Array(0)),
  );
  const key = hex(publicKey) + hex(signature) + hex(message);
  if (!sm2Results.has(key)) {
    if (sm2Results.size >= 4096) sm2Results.clear();
    sm2Results.set(key, sm2Verify(publicKey, signature, message));
  }
  return sm2Results.get(key);
}

// ------------------------------------------------------------------ the zip (stored members)

/** The members of a zip of stored (uncompressed) members: Map(name -> bytes). */
export function readZip(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bad = (why) => new SnapshotProblem("NOT_A_SNAPSHOT", `not a trust snapshot (${why})`);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad("no zip directory");
  let count = dv.getUint16(eocd + 10, true);
  let dir = dv.getUint32(eocd + 16, true);
  if ((dir === 0xffffffff || count === 0xffff) && eocd >= 20 && dv.getUint32(eocd - 20, true) === 0x07064b50) {
    const z64 = Number(dv.getBigUint64(eocd - 12, true));
    count = Number(dv.getBigUint64(z64 + 32, true));
    dir = Number(dv.getBigUint64(z64 + 48, true));
  }
  const out = new Map();
  let p = dir;
  for (let k = 0; k < count; k++) {
    if (p + 46 > buf.length || dv.getUint32(p, true) !== 0x02014b50) throw bad("damaged zip directory");
    const method = dv.getUint16(p + 10, true);
    let size = dv.getUint32(p + 20, true);
    let usize = dv.getUint32(p + 24, true);
    const nlen = dv.getUint16(p + 28, true);
    const xlen = dv.getUint16(p + 30, true);
    const clen = dv.getUint16(p + 32, true);
    let offset = dv.getUint32(p + 42, true);
    const name = new TextDecoder().decode(buf.subarray(p + 46, p + 46 + nlen));
    for (let x = p + 46 + nlen; x + 4 <= p + 46 + nlen + xlen; ) {
      const id = dv.getUint16(x, true);
      const len = dv.getUint16(x + 2, true);
      if (id === 1) {
        let q = x + 4;
        if (usize === 0xffffffff) (usize = Number(dv.getBigUint64(q, true))), (q += 8);
        if (size === 0xffffffff) (size = Number(dv.getBigUint64(q, true))), (q += 8);
        if (offset === 0xffffffff) offset = Number(dv.getBigUint64(q, true));
      }
      x += 4 + len;
    }
    if (method !== 0 || size !== usize) throw bad(`member ${name} is compressed`);
    if (dv.getUint32(offset, true) !== 0x04034b50) throw bad("damaged zip member");
    const start = offset + 30 + dv.getUint16(offset + 26, true) + dv.getUint16(offset + 28, true);
    if (start + size > buf.length) throw bad("truncated");
    out.set(name, buf.subarray(start, start + size));
    p += 46 + nlen + xlen + clen;
  }
  return out;
}

// ------------------------------------------------------------------ sql.js

let sqlPromise = null;

function loadSql() {
  if (!sqlPromise) {
    sqlPromise = new Promise((resolve, reject) => {
      if (typeof window.initSqlJs === "function") return resolve(window.initSqlJs);
      const s = document.createElement("script");
      s.src = "/static/vendor/sql-wasm.js";
      s.onload = () => (typeof window.initSqlJs === "function" ? resolve(window.initSqlJs) : reject(new Error("sql.js missing")));
      s.onerror = () => reject(new Error("sql.js failed to load"));
      document.head.appendChild(s);
    })
      .then((init) => init({ locateFile: (f) => "/static/vendor/" + f }))
      .catch((e) => {
        sqlPromise = null;
        throw e;
      });
  }
  return sqlPromise;
}

// ------------------------------------------------------------------ opening a snapshot

/** Check a snapshot (zip bytes) against the pinned consortium and open its database. */
export async function openSnapshot(zip, trust) {
  const members = readZip(zip);
  for (const m of [MANIFEST, DATABASE, SIGNATURES]) {
    if (!members.has(m)) throw new SnapshotProblem("NOT_A_SNAPSHOT", `not a trust snapshot (no ${m})`);
  }
  const manifestBytes = members.get(MANIFEST);
  let manifest, signatures;
  try {
    manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
    signatures = JSON.parse(new TextDecoder().decode(members.get(SIGNATURES)));
  } catch {
    throw new SnapshotProblem("NOT_A_SNAPSHOT", "the snapshot's manifest or signatures are not JSON");
  }
  if (!manifest || manifest.format !== FORMAT) throw new SnapshotProblem("NOT_A_SNAPSHOT", `not a trust snapshot of format ${FORMAT}`);
  const d = manifest.deployment || {};
  if (Number(d.chain_id) !== Number(trust.chain_id) || String(d.consortium).toLowerCase() !== String(trust.consortium).toLowerCase()) {
    throw new SnapshotProblem(
      "OTHER_DEPLOYMENT",
      `the snapshot is of another deployment (chain ${d.chain_id}, ${d.consortium}); trusted: chain ${trust.chain_id}, ${trust.consortium}`,
    );
  }
  const digest = await snapshotDigest(manifest, manifestBytes);
  const members_ = Object.keys(trust.admins || {});
  const regionOf = new Map();
  for (const r of members_) for (const a of trust.admins[r]) regionOf.set(String(a).toLowerCase(), Number(r));
  const quorum = Math.floor((members_.length * trust.rule[0]) / trust.rule[1]) + 1;
  const signed = new Set();
  for (const s of Array.isArray(signatures) ? signatures : []) {
    try {
      const who = recoverAddress(digest, unhex(String(s.signature)));
      if (regionOf.has(who)) signed.add(regionOf.get(who));
    } catch {
      /* a malformed signature counts for nothing */
    }
  }
  if (signed.size < quorum) {
    const regions = [...signed].sort().join(", ") || "none";
    throw new SnapshotProblem(
      "NOT_SIGNED",
      `the snapshot is not signed by the consortium: admins of ${signed.size} of the ${quorum} member regions needed signed it (regions: ${regions})`,
      { signed: signed.size, quorum },
    );
  }
  const suite = d.suite || "intl";
  const db = members.get(DATABASE);
  if (!eq(await suiteHash(suite, db), unhex(manifest.database_digest))) {
    throw new SnapshotProblem("ALTERED", "the snapshot's database does not match its signed manifest (altered)");
  }
  const SQL = await loadSql();
  const maxAge = Number(trust.max_age_seconds) > 0 ? Number(trust.max_age_seconds) : DEFAULT_MAX_AGE;
  return {
    maxAge,
    manifest,
    deployment: d,
    suite,
    signedBy: [...signed].sort((a, b) => a - b),
    digest: "0x" + hex(digest),
    db: new SQL.Database(db),
  };
}

// ------------------------------------------------------------------ the mirror's queries on it

class Queries {
  constructor(db) {
    this.db = db;
  }

  rows(sql, params) {
    const st = this.db.prepare(sql);
    try {
      st.bind(params || []);
      const out = [];
      while (st.step()) out.push(st.get());
      return out;
    } finally {
      st.free();
    }
  }

  one(sql, params) {
    return this.rows(sql, params)[0] || null;
  }

  regionOf(agency) {
    const r = this.one("SELECT region FROM agency_events WHERE agency = ? AND kind = 'registered'", [agency]);
    return r ? Number(r[0]) : null;
  }

  batch(agency, root) {
    const r = this.one(
      "SELECT root, agency, cert_type, key, block, tx, time, sm2_signature, identifier_tags_hash FROM batches " +
        "WHERE agency = ? AND root = ? ORDER BY id DESC LIMIT 1",
      [agency, root],
    );
    if (!r) return null;
    const [rt, ag, type, key, block, tx, time, sm2, tags] = r;
    return {
      root: rt, agency: ag, certType: type, key, block, tx, anchoredAt: Number(time),
      issuerRegion: this.regionOf(ag), sm2Signature: sm2 || null, tagsHash: tags || null,
    };
  }

  /** As lookup(cert_hash, agency): the anchoring within the agency to verify against. */
  lookup(hash, agency) {
    const rows = this.rows(
      "SELECT b.id, b.root, b.agency, b.cert_type, b.key, b.block, b.tx, b.time, b.sm2_signature, b.identifier_tags_hash " +
        "FROM certificates c JOIN batches b ON b.id = c.batch_id WHERE c.hash = ? ORDER BY b.id",
      [hash],
    );
    const agencies = [...new Set(rows.map((r) => r[2]))];
    const mine = rows.filter((r) => r[2] === agency);
    if (!mine.length) return { facts: null, agencies };
    const newest = new Map();
    for (const r of mine) newest.set(hex(r[1]), r);
    const candidates = [...newest.values()].sort((a, b) => a[0] - b[0]);
    const chosen = candidates.find((r) => this.voidReason(r[2], r[4], Number(r[7])) === null) || candidates[candidates.length - 1];
    const [, root, ag, type, key, block, tx, time, sm2, tags] = chosen;
    return {
      facts: { root, agency: ag, certType: type, key, block, tx, anchoredAt: Number(time), issuerRegion: this.regionOf(ag), sm2Signature: sm2 || null, tagsHash: tags || null },
      agencies,
    };
  }

  voidReason(agency, key, at) {
    const k = this.key(key);
    if (k && k.compromisedSince && at >= k.compromisedSince) return "KEY_COMPROMISED";
    const region = this.regionOf(agency);
    if (region !== null && this.regionVoid(region, at) !== null) return "REGION_REMOVED";
    return null;
  }

  inBatch(agency, root, hash) {
    return !!this.one(
      "SELECT 1 FROM certificates c JOIN batches b ON b.id = c.batch_id WHERE c.hash = ? AND b.root = ? AND b.agency = ?",
      [hash, root, agency],
    );
  }

  key(address) {
    const rows = this.rows(
      "SELECT agency, kind, value, sm2_public_key FROM key_events WHERE address = ? ORDER BY block, log_index",
      [address],
    );
    if (!rows.length) return null;
    const v = { added: 0, retired: 0, compromised: 0 };
    let sm2PublicKey = null;
    for (const [, kind, value, sm2] of rows) {
      if (kind === "corrected") v.compromised = Number(value);
      else if (kind in v) v[kind] = Number(value);
      if (kind === "added" && sm2) sm2PublicKey = sm2;
    }
    return { agency: rows[0][0], activeFrom: v.added, retiredAt: v.retired, compromisedSince: v.compromised, sm2PublicKey };
  }

  regionVoid(region, at) {
    const rows = this.rows("SELECT value, time FROM region_events WHERE region = ? AND kind = 'removed' ORDER BY block, log_index", [region]);
    for (const [cutoff, t] of rows) {
      if (cutoff === null || !(Number(cutoff) < Number(t))) continue;
      if (Number(cutoff) <= at && at <= Number(t)) return Number(cutoff);
    }
    return null;
  }

  typeFields(type) {
    const r = this.one("SELECT schema FROM type_events WHERE cert_type = ?", [type]);
    if (!r) return null;
    try {
      const data = JSON.parse(r[0]);
      const fields = data && typeof data === "object" && Array.isArray(data.fields) ? data.fields : [];
      return new Set(fields.filter((f) => f && typeof f.name === "string").map((f) => f.name));
    } catch {
      return new Set();
    }
  }

  creditCode(agency) {
    const r = this.one(
      "SELECT credit_code FROM agency_events WHERE agency = ? AND kind = 'credit_code' ORDER BY block DESC, log_index DESC LIMIT 1",
      [agency],
    );
    return r ? String(r[0]) : null;
  }

  latestStatus(subject, kind, agency) {
    const r = this.one(
      "SELECT status, reason, block, time, role FROM status_events WHERE subject = ? AND kind = ? AND agency = ? " +
        "ORDER BY block DESC, log_index DESC LIMIT 1",
      [subject, kind, agency],
    );
    if (!r) return null;
    return { status: Number(r[0]), reason: r[1], block: r[2], time: Number(r[3]), role: ROLES[Number(r[4])] || null, scope: kind === 0 ? "certificate" : "batch" };
  }

  /** As status_as_of (now): REVOKED if it or its batch is, else SUSPENDED if either is. */
  status(hash, agency, root) {
    const cert = this.latestStatus(hash, 0, agency);
    const whole = this.latestStatus(root, 1, agency);
    for (const wanted of [2, 1]) {
      for (const ev of [cert, whole]) if (ev && ev.status === wanted) return { status: wanted, event: ev };
    }
    return { status: 0, event: cert || whole };
  }

  /** As recognition(..., latest=true). */
  recognises(verifier, type, issuer, at) {
    const window = (iss) => {
      let current = null;
      for (const [removed, vf, vu] of this.rows(
        "SELECT removed, valid_from, valid_until FROM recognition_events WHERE verifier = ? AND cert_type = ? AND issuer = ? ORDER BY block, log_index",
        [verifier, type, iss],
      )) {
        current = removed ? null : [Number(vf), Number(vu)];
      }
      if (!current) return false;
      return !(at < current[0] || (current[1] && at >= current[1]));
    };
    return window(issuer) || window(0);
  }
}

// ------------------------------------------------------------------ full QR payloads

const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

function unbase45(text) {
  if (text.length % 3 === 1) throw new OfflineBadInput("not Base45");
  const out = [];
  for (let i = 0; i < text.length; i += 3) {
    const chunk = text.slice(i, i + 3);
    const v = [...chunk].map((c) => {
      const n = B45.indexOf(c);
      if (n < 0) throw new OfflineBadInput("not Base45");
      return n;
    });
    const n = v[0] + v[1] * 45 + (v.length === 3 ? v[2] * 2025 : 0);
    if (v.length === 3) {
      if (n > 65535) throw new OfflineBadInput("not Base45");
      out.push(n >> 8, n & 0xff);
    } else {
      if (n > 255) throw new OfflineBadInput("not Base45");
      out.push(n);
    }
  }
  return Uint8Array.from(out);
}

async function inflate(data) {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate"));
  const reader = stream.getReader();
  const parts = [];
  let size = 0;
  for (;;) {
    let r;
    try {
      r = await reader.read();
    } catch {
      throw new OfflineBadInput("the payload's compressed data is damaged");
    }
    if (r.done) break;
    size += r.value.length;
    if (size > MAX_INFLATED) throw new OfflineBadInput("the payload inflates too far");
    parts.push(r.value);
  }
  return concat(...parts);
}

function uncbor(bytes) {
  let p = 0;
  const dec = new TextDecoder("utf-8", { fatal: true });
  const bad = () => new OfflineBadInput("the payload's CBOR is malformed");
  function arg(info) {
    if (info < 24) return info;
    const n = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
    if (!n || p + n > bytes.length) throw bad();
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + bytes[p++];
    return v;
  }
  function item() {
    if (p >= bytes.length) throw bad();
    const b = bytes[p++];
    const major = b >> 5;
    const n = arg(b & 31);
    switch (major) {
      case 0:
        return n;
      case 2:
      case 3: {
        if (p + n > bytes.length) throw bad();
        const s = bytes.subarray(p, p + n);
        p += n;
        if (major === 2) return s;
        try {
          return dec.decode(s);
        } catch {
          throw bad();
        }
      }
      case 4: {
        const a = [];
        for (let i = 0; i < n; i++) a.push(item());
        return a;
      }
      case 7:
        if (b === 0xf6) return null;
        if (b === 0xf5) return true;
        if (b === 0xf4) return false;
        throw bad();
      case 5: {
        const m = new Map();
        for (let i = 0; i < n; i++) {
          const k = item();
          m.set(k, item());
        }
        return m;
      }
      default:
        throw bad();
    }
  }
  const v = item();
  if (p !== bytes.length) throw bad();
  return v;
}

function chunks(bytes, size) {
  const out = [];
  for (let i = 0; i < bytes.length; i += size) out.push("0x" + hex(bytes.subarray(i, i + size)));
  return out;
}

/** A CLF2:/CLF1: payload back into its certificate document (ledger/qr.py). */
export async function decodeFull(payload) {
  const text = payload.trim();
  if (text.length > MAX_PAYLOAD) throw new OfflineBadInput("the payload is too long");
  const v2 = text.startsWith("CLF2:");
  const m = uncbor(await inflate(unbase45(text.slice(5))));
  if (!(m instanceof Map)) throw new OfflineBadInput("the payload is not a map");
  const bytesOf = (k, n) => {
    const v = m.get(k);
    if (!(v instanceof Uint8Array) || (n && v.length !== n)) throw new OfflineBadInput(`payload entry ${k} is malformed`);
    return v;
  };
  const fields = m.get(6);
  if (!(fields instanceof Map)) throw new OfflineBadInput("payload fields are malformed");
  const salts = bytesOf(7);
  const names = [...fields.keys()];
  if (salts.length !== names.length * 16) throw new OfflineBadInput("one salt per field");
  const doc = {
    format: v2 ? "certledger/2" : "certledger/1",
    type: m.get(1),
    issuer: { agency: m.get(2), region: m.get(3) },
    validFrom: m.get(4),
    validUntil: m.has(5) ? m.get(5) : null,
    fields: Object.fromEntries(fields),
    salts: Object.fromEntries(names.map((n, i) => [n, "0x" + hex(salts.subarray(16 * i, 16 * i + 16))])),
    anchor: {
      chainId: m.get(9),
      registry: "0x" + hex(bytesOf(10, 20)),
      root: "0x" + hex(bytesOf(11, 32)),
      proof: chunks(bytesOf(12), 32),
      signature: "0x" + hex(bytesOf(13, 65)),
    },
  };
  if (m.has(8)) doc.hidden = Object.fromEntries([...m.get(8)].map(([k, v]) => [k, "0x" + hex(v)]));
  if (v2) {
    doc.suite = m.get(14);
    if (m.has(15)) doc.identifier = m.get(15);
    if (m.has(16)) doc.anchor.sm2Signature = "0x" + hex(bytesOf(16, 64));
  }
  return doc;
}

function entry(name, value) {
  const n = utf8(name);
  const v = utf8(value);
  const out = new Uint8Array(6 + n.length + v.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, n.length);
  out.set(n, 2);
  dv.setUint32(2 + n.length, v.length);
  out.set(v, 6 + n.length);
  return out;
}

function isoDay(value, what) {
  if (!Number.isInteger(value) || value < 10000101 || value > 99991231) throw new OfflineBadInput(`malformed ${what} in compact QR payload`);
  const t = String(value);
  const text = `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6)}`;
  const d = new Date(text + "T00:00:00Z");
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== text) throw new OfflineBadInput(`${what} is not a calendar date`);
  return text;
}

/** A CLC3: payload: its metadata and certificate hash (recomputed: metadata + holder digest). */
export async function decodeCompact(payload) {
  const text = payload.trim();
  if (text.length > MAX_PAYLOAD) throw new OfflineBadInput("the payload is too long");
  const items = uncbor(unbase45(text.slice(5)));
  if (!Array.isArray(items) || items.length !== 8) throw new OfflineBadInput("malformed compact QR payload");
  const [suite, type, agency, region, from, until, ident, holder] = items;
  if (!(holder instanceof Uint8Array) || holder.length !== 32) throw new OfflineBadInput("malformed holder digest in compact QR payload");
  if (suite !== "intl" && suite !== "sm") throw new OfflineBadInput("unknown suite");
  if (typeof type !== "string" || !/^[A-Z][A-Z0-9_]{0,31}$/.test(type) || typeof agency !== "string" || !/^[A-Z0-9][A-Z0-9-]{0,31}$/.test(agency)) {
    throw new OfflineBadInput("malformed compact QR payload: type, agency and region");
  }
  if (!Number.isInteger(region) || region < 100000 || region > 999999) throw new OfflineBadInput("malformed region");
  if (ident !== null && (typeof ident !== "string" || !ident.length || ident.length > 100)) throw new OfflineBadInput("malformed identifier");
  const cert = {
    version: 2, suite, type, agency, region,
    validFrom: isoDay(from, "validFrom"),
    validUntil: until === null ? null : isoDay(until, "validUntil"),
    identifier: ident === null ? null : `${IDENTIFIER_ROOT}.${ident}`,
    fields: {}, hidden: {},
  };
  const values = [cert.type, cert.agency, String(cert.region), cert.validFrom, cert.validUntil || "", cert.identifier || ""];
  const names = ["$type", "$agency", "$region", "$validFrom", "$validUntil", "$identifier"];
  const meta = await suiteHash(suite, concat(utf8("CL2M"), ...names.map((n, i) => entry(n, values[i]))));
  cert.hash = "0x" + hex(await suiteHash(suite, concat(utf8("CL2C"), meta, holder)));
  return cert;
}

// ------------------------------------------------------------------ the checks

const pass = (name, code, detail, params) => ({ name, ok: true, outcome: "PASS", code, detail, params: params || {} });
const fail = (name, verdict, code, detail, params) => ({ name, ok: false, outcome: "FAIL", code, detail, params: params || {}, verdict });
const skip = (name, code, detail, params) => ({ name, ok: null, outcome: "SKIPPED", code, detail, params: params || {} });
const error = (name, code, detail, params) => ({ name, ok: null, outcome: "ERROR", code, detail, params: params || {}, verdict: "ERROR" });
const notAnchored = (name) => skip(name, "NOT_ANCHORED", "not checked: the certificate is not anchored");

function leaf(hash) {
  return keccak256(keccak256(hash));
}

function rootFromProof(hash, proof) {
  let node = leaf(hash);
  for (const sib of proof) {
    const cmp = (() => {
      for (let i = 0; i < 32; i++) if (node[i] !== sib[i]) return node[i] - sib[i];
      return 0;
    })();
    node = keccak256(cmp < 0 ? concat(node, sib) : concat(sib, node));
  }
  return node;
}

function identifierParts(identifier) {
  if (!identifier.startsWith(IDENTIFIER_ROOT + ".")) return null;
  const parts = identifier.slice(IDENTIFIER_ROOT.length + 1).split(".");
  return parts.length === 5 && parts.every((p) => p.length > 0) ? parts : null;
}

function cstToday(now) {
  return new Date((now + 8 * 3600) * 1000).toISOString().slice(0, 10);
}

/** Verify a certificate (a parsed document and its anchor) against an opened snapshot. */
function runChecks(q, deployment, cert, anchor, stated, now, verifierRegion, headError, compact = false) {
  const c = { anchor: null };
  const checks = [];
  const units = [
    ["integrity", () => {
      if (cert.suite !== (deployment.suite || "intl")) {
        return fail("integrity", "INVALID", "SUITE_MISMATCH", `the certificate is hashed in suite ${cert.suite}, but this ledger's suite is ${deployment.suite}`, { suite: cert.suite, expected: deployment.suite });
      }
      if (cert.identifier && !identifierParts(cert.identifier)) {
        return fail("integrity", "INVALID", "BAD_IDENTIFIER", "the e-licence identifier does not conform to GB/T 36904", { identifier: cert.identifier, segment: null });
      }
      if (!anchor && compact) {
        return pass("integrity", "METADATA_BOUND", "certificate hash recomputed from the QR code's metadata and holder digest (fields not shown)", { shown: 0, hidden: null });
      }
      if (stated) return fail("integrity", "INVALID", "HASH_MISMATCH", "the document's fields do not produce its stated hash: it was altered");
      if (!anchor) return fail("integrity", "INVALID", "NO_ANCHOR", "the document carries no batch root and proof");
      if (!eq(rootFromProof(unhex(cert.hash), anchor.proof), anchor.root)) {
        return fail("integrity", "INVALID", "PROOF_MISMATCH", "the Merkle proof does not lead from the certificate to its batch root");
      }
      const hiddenNames = Object.keys(cert.hidden);
      if (hiddenNames.length) {
        const known = q.typeFields(cert.type);
        const stray = hiddenNames.filter((n) => known && !known.has(n)).sort();
        if (stray.length) return fail("integrity", "INVALID", "UNKNOWN_FIELD_NAME", `hidden entry '${stray[0]}' is not a field of ${cert.type}: the labels were altered`, { field: stray[0], type: cert.type });
      }
      const shown = Object.keys(cert.fields).length;
      const hidden = hiddenNames.length;
      return pass("integrity", "OK", `hash and Merkle proof check out (${shown} field(s) shown${hidden ? `, ${hidden} hidden` : ""})`, { shown, hidden });
    }],
    ["anchored", () => {
      if (compact) {
        const found = q.lookup(unhex(cert.hash), cert.agency);
        if (!found.facts) {
          const others = found.agencies.filter((x) => x !== cert.agency);
          const also = others.length ? ` (other agencies anchored it: ${others.join(", ")})` : "";
          return fail("anchored", "UNKNOWN", "NOT_ANCHORED", `this certificate hash was never anchored by ${cert.agency} on the ledger${also}`, { agency: cert.agency, others });
        }
        c.anchor = found.facts;
        const when = isoTime(found.facts.anchoredAt);
        return pass("anchored", "OK", `anchored in block ${found.facts.block} at ${when} by ${found.facts.agency}`, { agency: found.facts.agency, block: found.facts.block, time: when });
      }
      if (Number(anchor.chainId) !== Number(deployment.chain_id) || anchor.registry.toLowerCase() !== String(deployment.certificate_registry).toLowerCase()) {
        return fail("anchored", "INVALID", "OTHER_LEDGER", `the document was anchored on chain ${anchor.chainId} at ${anchor.registry}, not on this ledger`, { chain_id: anchor.chainId, registry: anchor.registry });
      }
      const facts = q.batch(cert.agency, anchor.root);
      if (!facts) return fail("anchored", "UNKNOWN", "NOT_ANCHORED", `${cert.agency} anchored no batch with this root on the ledger`, { agency: cert.agency });
      if (!q.inBatch(cert.agency, anchor.root, unhex(cert.hash))) return fail("anchored", "INVALID", "NOT_IN_BATCH", "the batch does not list this certificate hash");
      c.anchor = facts;
      const when = isoTime(facts.anchoredAt);
      return pass("anchored", "OK", `anchored in block ${facts.block} at ${when} by ${facts.agency}`, { agency: facts.agency, block: facts.block, time: when });
    }],
    ["issuer_authorized", () => {
      const a = c.anchor;
      if (!a) return notAnchored("issuer_authorized");
      if (cert.agency !== a.agency) return fail("issuer_authorized", "INVALID", "WRONG_AGENCY", `claims issuer ${cert.agency}, but the batch was anchored by ${a.agency}`, { claimed: cert.agency, actual: a.agency });
      if (cert.type !== a.certType) return fail("issuer_authorized", "INVALID", "WRONG_TYPE", `claims type ${cert.type}, but the batch is of type ${a.certType}`, { claimed: cert.type, actual: a.certType });
      if (a.issuerRegion === null) return error("issuer_authorized", "AGENCY_UNKNOWN", `the region of ${a.agency} is not known`, { agency: a.agency });
      if (Number(cert.region) !== a.issuerRegion) return fail("issuer_authorized", "INVALID", "WRONG_REGION", `claims region ${cert.region}, but ${a.agency} is in ${a.issuerRegion}`, { claimed: Number(cert.region), actual: a.issuerRegion });
      const parts = cert.identifier ? identifierParts(cert.identifier) : null;
      if (parts) { // a malformed identifier: integrity refused it (BAD_IDENTIFIER)
        const named = parts[1];
        const recorded = q.creditCode(a.agency);
        if (recorded === null) return fail("issuer_authorized", "INVALID", "ISSUER_CODE_UNKNOWN", `the identifier names issuer ${named}, but the ledger records no credit code for ${a.agency}`, { named, agency: a.agency });
        if (named !== recorded) return fail("issuer_authorized", "INVALID", "ISSUER_CODE_MISMATCH", `the identifier names issuer ${named}, but ${a.agency} (which anchored it) is ${recorded}`, { named, agency: a.agency, recorded });
      }
      const cutoff = q.regionVoid(a.issuerRegion, a.anchoredAt);
      if (cutoff !== null) {
        return fail("issuer_authorized", "INVALID", "REGION_REMOVED", `region ${a.issuerRegion} was removed from the consortium, voiding its anchors made from ${isoTime(cutoff)} on; this one was made at ${isoTime(a.anchoredAt)}`, { region: a.issuerRegion, cutoff: isoTime(cutoff) });
      }
      return pass("issuer_authorized", "OK", `${a.agency} (${a.issuerRegion}) was authorised to issue ${a.certType} when it anchored`, { agency: a.agency, region: a.issuerRegion, type: a.certType });
    }],
    ["key_valid", () => {
      // as ledger/verification/checks.py KeyValid: the EIP-712 signature, then (sm) the SM2 one
      const a = c.anchor;
      if (!a) return notAnchored("key_valid");
      const sm = (deployment.suite || "intl") !== "intl";
      let sm2Signature = a.sm2Signature; // the whole signature, as the snapshot recorded it
      let signer = String(a.key).toLowerCase(); // a compact code carries no signature: the anchoring is the proof
      if (!compact) {
        const carried = anchor.sm2Signature;
        const recorded = a.sm2Signature ? keccak256(a.sm2Signature) : null;
        if (sm && !carried) {
          return fail("key_valid", "INVALID", "SM2_SIGNATURE_MISSING", "the document carries no SM2 batch signature, which every batch of this sm deployment has");
        }
        if (carried && (!recorded || !eq(keccak256(carried), recorded))) {
          return fail(
            "key_valid", "INVALID", "SM2_SIGNATURE_MISMATCH",
            recorded
              ? "the document's SM2 batch signature is not the one the ledger recorded for this batch"
              : "the document carries an SM2 batch signature, but the ledger recorded none for this batch",
          );
        }
        sm2Signature = carried;
        try {
          signer = recoverAddress(batchDigest(anchor.root, a.certType, a.agency, anchor.chainId, anchor.registry, carried, a.tagsHash), anchor.signature);
        } catch {
          return fail("key_valid", "INVALID", "BAD_SIGNATURE", "the batch signature is malformed");
        }
      }
      if (signer !== String(a.key).toLowerCase()) {
        return fail("key_valid", "INVALID", "FORGED_SIGNATURE", `the batch signature is by ${signer}, not by the anchoring key ${a.key}`, { signer, key: a.key });
      }
      const key = q.key(a.key);
      if (!key || key.agency !== a.agency) return fail("key_valid", "INVALID", "UNKNOWN_KEY", `key ${a.key} is not a key of ${a.agency}`, { key: a.key, agency: a.agency });
      const sm2Checked = sm && sm2Signature;
      if (sm2Checked) {
        if (!key.sm2PublicKey) {
          return fail("key_valid", "INVALID", "SM2_KEY_MISSING", `key ${a.key} has no SM2 public key registered: its SM2 batch signature cannot be trusted`, { key: a.key });
        }
        const chainId = compact ? deployment.chain_id : anchor.chainId;
        const registry = compact ? deployment.certificate_registry : anchor.registry;
        if (!sm2BatchSignatureOk(key.sm2PublicKey, sm2Signature, a.root, a.certType, a.agency, chainId, registry, a.tagsHash)) {
          return fail("key_valid", "INVALID", "FORGED_SM2_SIGNATURE", `the SM2 batch signature does not verify under the SM2 key registered with ${a.key}`, { key: a.key });
        }
      }
      if (key.compromisedSince && a.anchoredAt >= key.compromisedSince) {
        const since = isoTime(key.compromisedSince);
        return fail("key_valid", "INVALID", "KEY_COMPROMISED", `key ${a.key} is reported compromised since ${since}, before this anchor`, { key: a.key, since });
      }
      return pass("key_valid", "OK", `signed by ${a.key}${sm2Checked ? " (EIP-712 and SM2)" : ""}, valid at anchoring time`, { key: a.key });
    }],
    ["status", () => {
      const a = c.anchor;
      if (!a) return notAnchored("status");
      const st = q.status(unhex(cert.hash), a.agency, a.root);
      const ev = st.event;
      const role = ev ? ev.role : null;
      const params = { scope: ev ? ev.scope : null, reason: ev ? ev.reason : null, time: ev ? isoTime(ev.time) : null, role };
      const how = ev ? ` (${ev.scope}, reason ${ev.reason}, ${isoTime(ev.time)})` : "";
      const by = role ? ` by the ${role.toLowerCase().replace(/_/g, " ")}` : "";
      if (st.status === 2) return fail("status", "REVOKED", "REVOKED", `revoked${by}${how}`, params);
      if (st.status === 1) return fail("status", "SUSPENDED", "SUSPENDED", `suspended${by}${how}`, params);
      if (ev) return pass("status", "REINSTATED", `active, reinstated${by}${how}`, params);
      return pass("status", "OK", "active");
    }],
    ["validity_period", () => {
      const today = cstToday(now);
      if (today < cert.validFrom) return fail("validity_period", "EXPIRED", "NOT_YET_VALID", `not valid before ${cert.validFrom}`, { valid_from: cert.validFrom });
      if (cert.validUntil && today > cert.validUntil) return fail("validity_period", "EXPIRED", "EXPIRED", `expired on ${cert.validUntil}`, { valid_until: cert.validUntil });
      const until = cert.validUntil ? ` until ${cert.validUntil}` : ", no end date";
      return pass("validity_period", "OK", `valid from ${cert.validFrom}${until}`, { valid_from: cert.validFrom, valid_until: cert.validUntil });
    }],
    ["recognition", () => {
      const a = c.anchor;
      if (!a) return notAnchored("recognition");
      if (verifierRegion === null) return skip("recognition", "NO_VERIFIER_REGION", "not checked: no verifier region given");
      if (a.issuerRegion === null) return error("recognition", "UNKNOWN_ISSUER_REGION", `the region of ${a.agency} is not known`, { agency: a.agency });
      const v = verifierRegion, t = a.certType, i = a.issuerRegion;
      if (v === i) return pass("recognition", "OWN_REGION", `${v} recognises its own certificates`, { region: v });
      if (q.recognises(v, t, i, now)) return pass("recognition", "OK", `${v} recognises ${t} from ${i}`, { verifier_region: v, type: t, issuer_region: i });
      return fail("recognition", "NOT_RECOGNIZED", "NO_RULE", `${v} has no rule recognising ${t} issued in ${i}`, { verifier_region: v, type: t, issuer_region: i });
    }],
  ];
  for (const [name, run] of units) {
    if (headError !== null && name !== "integrity") {
      checks.push(error(name, "UNAVAILABLE", `could not check: ${headError}`, { reason: headError }));
      continue;
    }
    try {
      checks.push(run());
    } catch (e) {
      checks.push(error(name, "UNAVAILABLE", `could not check: ${e && e.message}`, { reason: String(e && e.message) }));
    }
  }
  return { checks, anchor: c.anchor };
}

function combine(checks) {
  for (const c of checks) if ((c.outcome === "FAIL" || c.outcome === "ERROR") && c.verdict) return c.verdict;
  if (checks.some((c) => c.outcome === "SKIPPED" && (c.name === "integrity" || c.name === "validity_period"))) return "INCOMPLETE";
  return "VALID";
}

/** The snapshot's age in seconds at ``now``, and the ERROR reason when it is past ``maxAge``. */
export function snapshotAge(snap, now, maxAge = DEFAULT_MAX_AGE) {
  const m = snap.manifest;
  const age = Math.max(0, Math.floor(now) - Number(m.block_time));
  const problem =
    age > maxAge
      ? `the trust snapshot is ${describeAge(age)} old (block ${m.block}, ${isoTime(m.block_time)}), more than the ` +
        `${describeAge(Math.floor(maxAge))} allowed: revocations since are unknown; fetch a newer snapshot`
      : null;
  return { age, problem };
}

/**
 * Verify a payload or a document offline. input: {kind: "payload", payload} | {kind: "document", document}.
 * Resolves to the API's verification answer (verdict, checks, certificate, source...), with
 * source.kind "snapshot"; rejects with OfflineUnsupported or OfflineBadInput.
 */
export async function verifyOffline(input, snap, { verifierRegion = null, now = Date.now() / 1000, maxAge = snap.maxAge || DEFAULT_MAX_AGE } = {}) {
  let data;
  if (input.kind === "payload") {
    const text = String(input.payload || "").trim();
    if (text.startsWith("CLF2:") || text.startsWith("CLF1:")) data = await decodeFull(text);
    else if (text.startsWith("CLC3:")) data = { compact: await decodeCompact(text) };
    else if (/^CL[A-Z][0-9]+:/.test(text)) {
      throw new OfflineUnsupported("OFFLINE_FULL_ONLY", "offline, only a current QR code (CLC3:, CLF2:) or a certificate file can be verified");
    } else throw new OfflineBadInput("not a CertLedger payload");
  } else if (input.kind === "document") {
    data = input.document;
  } else {
    throw new OfflineUnsupported("OFFLINE_FULL_ONLY", "offline, only a current QR code (CLC3:, CLF2:) or a certificate file can be verified");
  }
  if (data && typeof data === "object" && data.document && Object.keys(data).length === 1) data = data.document;
  const compact = !!(data && data.compact);
  let cert;
  let stated = false;
  if (compact) cert = data.compact;
  else {
    try {
      cert = await readDocument(data);
    } catch (e) {
      if (!(e instanceof DocumentError)) throw e;
      if (e.code !== "mismatch") throw new OfflineBadInput(e.message);
      stated = true;
      cert = await readDocument({ ...data, hash: null });
    }
  }
  let anchor = null;
  const a = compact ? null : data.anchor;
  if (a && typeof a === "object") {
    const hex32 = /^0x[0-9a-fA-F]{64}$/;
    if (
      !hex32.test(a.root) || !Array.isArray(a.proof) || !a.proof.every((p) => hex32.test(p)) || !/^0x[0-9a-fA-F]{130}$/.test(a.signature) ||
      !/^0x[0-9a-fA-F]{40}$/.test(a.registry) || (a.sm2Signature !== undefined && !/^0x[0-9a-fA-F]{128}$/.test(a.sm2Signature))
    ) {
      throw new OfflineBadInput("the document's anchor is malformed");
    }
    anchor = {
      chainId: Number(a.chainId), registry: a.registry, root: unhex(a.root), proof: a.proof.map(unhex), signature: unhex(a.signature),
      sm2Signature: a.sm2Signature === undefined ? null : unhex(a.sm2Signature),
    };
  }
  const q = new Queries(snap.db);
  const { age, problem } = snapshotAge(snap, now, maxAge);
  const region = verifierRegion === null || verifierRegion === undefined || verifierRegion === "" ? null : Number(verifierRegion);
  const { checks, anchor: facts } = runChecks(q, snap.deployment, cert, anchor, stated, Math.floor(now), region, problem, compact);
  const certificate = {
    hash: cert.hash,
    type: facts ? facts.certType : cert.type,
    issuer_region: facts ? facts.issuerRegion : cert.region,
    agency: facts ? facts.agency : cert.agency,
    batch_root: facts ? "0x" + hex(facts.root) : anchor ? "0x" + hex(anchor.root) : null,
    anchored_at: facts ? { block: facts.block, tx: facts.tx ? "0x" + hex(facts.tx) : null, time: isoTime(facts.anchoredAt) } : null,
    valid_from: cert.validFrom,
    valid_until: cert.validUntil,
  };
  if (cert.identifier) certificate.identifier = cert.identifier;
  if (cert.version === 2) certificate.suite = cert.suite;
  const source = { kind: "snapshot", block: Number(snap.manifest.block), lag_blocks: 0, age_seconds: age };
  if (problem) source.error = problem;
  return {
    verdict: combine(checks),
    checks: checks.map(({ verdict, ...rest }) => rest),
    certificate,
    verifier_region: region,
    as_of: isoTime(Math.floor(now)),
    source,
    ...(compact ? {} : { disclosed_fields: cert.fields, hidden_fields: Object.keys(cert.hidden).sort() }),
    offline: { max_age_seconds: Math.floor(maxAge), block: Number(snap.manifest.block), block_time: isoTime(Number(snap.manifest.block_time)), age_seconds: age, signed_by_regions: snap.signedBy, digest: snap.digest },
  };
}

// ------------------------------------------------------------------ the page's snapshot

let opened = null; // {etag, snap}

/** The trusted snapshot: fetched (from the network, else the service worker's cache), checked
 * against the pinned consortium, opened once per snapshot. Rejects with SnapshotProblem. */
export async function trustedSnapshot() {
  let trustRes, snapRes;
  try {
    [trustRes, snapRes] = await Promise.all([fetch(TRUST_URL), fetch(SNAPSHOT_URL)]);
  } catch {
    throw new SnapshotProblem("NO_SNAPSHOT", "no trust snapshot is stored on this device: open this page once while online");
  }
  if (!trustRes.ok || !snapRes.ok) {
    throw new SnapshotProblem("NO_SNAPSHOT", "no trust snapshot is stored on this device: open this page once while online");
  }
  const trust = await trustRes.json();
  const zip = new Uint8Array(await snapRes.arrayBuffer());
  const tag = (snapRes.headers.get("etag") || "") + "|" + JSON.stringify(trust) + "|" + zip.length;
  if (opened && opened.tag === tag) return opened.snap;
  const snap = await openSnapshot(zip, trust);
  if (opened) opened.snap.db.close();
  opened = { tag, snap };
  return snap;
}
