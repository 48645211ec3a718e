#!/usr/bin/env node
// Copies the browser QR decoder (jsQR, for /verify) and QR encoder (qrcode-generator, for the
// wallet's presentations on /wallet), and the offline mode's secp256k1 (@noble/secp256k1: the
// snapshot's and batches' signatures), short Weierstrass curve arithmetic (@noble/curves'
// abstract modules: the sm suite's SM2 batch signatures on sm2p256v1) and SQLite (sql.js,
// WebAssembly: the snapshot's database), from npm, into api/static/vendor/ so that the API serves every asset of its pages itself (no CDN).
//
//   node scripts/vendor_assets.mjs           write api/static/vendor/ (byte-for-byte copies + MANIFEST.json)
//   node scripts/vendor_assets.mjs --check   exit 1 if api/static/vendor/ differs from what node_modules gives
//
// Deterministic: the output depends only on the files in node_modules (no dates, sorted keys).
// Exit codes: 0 ok / up to date, 1 vendored copy differs (--check), 2 cannot run (node_modules
// missing, wrong package version, bad arguments). VENDOR_NODE_MODULES=DIR reads the packages
// from another node_modules (a scratch install) instead of the project's.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const VENDOR = join(ROOT, "api", "static", "vendor");
const NODE_MODULES = process.env.VENDOR_NODE_MODULES || join(ROOT, "node_modules");

// package -> pinned version and the files served from /static/vendor/<target>
const ASSETS = [
  {
    package: "jsqr",
    version: "1.4.0",
    license: "Apache-2.0",
    files: [
      { source: "dist/jsQR.js", target: "jsQR.js" },
      { source: "LICENSE", target: "jsQR.LICENSE.txt" },
    ],
  },
  {
    // an ES module (export qrcode); the package ships no LICENSE file: its MIT notice heads the file
    package: "qrcode-generator",
    version: "2.0.4",
    license: "MIT",
    files: [{ source: "dist/qrcode.mjs", target: "qrcode.esm.js" }], // .js: served as JavaScript by any server
  },
  {
    // an ES module importing node's "crypto" (for random bytes only, unused here): the page's
    // import map points that name at /static/no-node-crypto.js
    package: "@noble/secp256k1",
    version: "1.7.1",
    license: "MIT",
    files: [
      { source: "lib/esm/index.js", target: "noble-secp256k1.js" },
      { source: "LICENSE", target: "noble-secp256k1.LICENSE.txt" },
    ],
  },
  {
    // ES modules importing one another by relative path: kept together in their own directory
    package: "@noble/curves",
    version: "1.8.2",
    license: "MIT",
    files: [
      ...["curve.js", "modular.js", "utils.js", "weierstrass.js"].map((f) => ({ source: `esm/abstract/${f}`, target: `noble-curves/${f}` })),
      { source: "LICENSE", target: "noble-curves/LICENSE.txt" },
    ],
  },
  {
    package: "sql.js",
    version: "1.13.0",
    license: "MIT",
    files: [
      { source: "dist/sql-wasm.js", target: "sql-wasm.js" },
      { source: "dist/sql-wasm.wasm", target: "sql-wasm.wasm" },
      { source: "LICENSE", target: "sql.js.LICENSE.txt" },
    ],
  },
];

function die(message, code = 2) {
  process.stderr.write(`vendor_assets: ${message}\n`);
  process.exit(code);
}

function sha256(buf) {
  return createHash("sha256").update(buf).digest("hex");
}

/** The exact contents api/static/vendor/ should have: Map(file name -> Buffer). */
function expected() {
  const out = new Map();
  const manifest = {};
  for (const asset of ASSETS) {
    const dir = join(NODE_MODULES, asset.package);
    const pkgFile = join(dir, "package.json");
    if (!existsSync(pkgFile)) die(`${relative(ROOT, dir)} is missing: run 'npm ci' first`);
    const pkg = JSON.parse(readFileSync(pkgFile, "utf8"));
    if (pkg.version !== asset.version) {
      die(`${asset.package} in node_modules is ${pkg.version}, expected ${asset.version} (package.json pins it): run 'npm ci'`);
    }
    const files = {};
    for (const f of asset.files) {
      const src = join(dir, f.source);
      if (!existsSync(src)) die(`${relative(ROOT, src)} is missing`);
      const buf = readFileSync(src);
      out.set(f.target, buf);
      files[f.target] = { from: `${asset.package}/${f.source}`, sha256: sha256(buf) };
    }
    manifest[asset.package] = { files, license: asset.license, version: asset.version };
  }
  const text =
    JSON.stringify(
      { generated_by: "scripts/vendor_assets.mjs", note: "copied byte for byte from node_modules; do not edit", packages: manifest },
      null,
      2,
    ) + "\n";
  out.set("MANIFEST.json", Buffer.from(text, "utf8"));
  return out;
}

function current(dir = VENDOR, prefix = "", out = new Map()) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const name = prefix + entry.name;
    if (entry.isFile()) out.set(name, readFileSync(join(dir, entry.name)));
    else if (entry.isDirectory()) current(join(dir, entry.name), name + "/", out);
    else out.set(name, null); // anything else does not belong here
  }
  return out;
}

function diff(want, have) {
  const problems = [];
  for (const [name, buf] of want) {
    const got = have.get(name);
    if (!got) problems.push(`missing: ${name}`);
    else if (!got.equals(buf)) problems.push(`differs: ${name}`);
  }
  for (const name of have.keys()) if (!want.has(name)) problems.push(`unexpected: ${name}`);
  return problems.sort();
}

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--check");
if (unknown.length) die(`unknown argument(s): ${unknown.join(" ")} (usage: vendor_assets.mjs [--check])`);
const check = args.includes("--check");

const want = expected();
const problems = diff(want, current());
const where = relative(ROOT, VENDOR);

if (check) {
  if (problems.length) {
    process.stderr.write(`vendor_assets: ${where} is out of date:\n`);
    for (const p of problems) process.stderr.write(`  ${p}\n`);
    process.stderr.write("run: node scripts/vendor_assets.mjs\n");
    process.exit(1);
  }
  process.stdout.write(`vendor_assets: ${where} matches node_modules (${want.size} files)\n`);
  process.exit(0);
}

mkdirSync(VENDOR, { recursive: true });
for (const name of current().keys()) {
  if (!want.has(name)) rmSync(join(VENDOR, name), { recursive: true, force: true });
}
for (const [name, buf] of want) {
  const path = join(VENDOR, name);
  mkdirSync(dirname(path), { recursive: true });
  if (!existsSync(path) || !readFileSync(path).equals(buf)) writeFileSync(path, buf);
}
process.stdout.write(
  problems.length ? `vendor_assets: updated ${where} (${problems.join(", ")})\n` : `vendor_assets: ${where} already up to date\n`,
);
