#!/usr/bin/env node
// Compile contracts/ with the pinned npm solc (solcjs, no download) into the ABI + bytecode
// artifacts that the Python package loads at run time (ledger/artifacts/*.json).
//
//   node scripts/build_contracts.mjs          write the artifacts
//   node scripts/build_contracts.mjs --check  exit 1 if the committed artifacts are stale
//
// The build is deterministic: fixed settings, sources read in sorted order, JSON written with
// sorted keys. The standard-JSON input is kept in ledger/artifacts/build-input.json so that
// anyone can reproduce the bytecode with any solc of the same version.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT = path.join(ROOT, "ledger", "artifacts");
export const SETTINGS = {
  evmVersion: "paris", // no PUSH0: runs on the widest range of consortium chains (Besu, FISCO, ...)
  optimizer: { enabled: true, runs: 200 },
  metadata: { bytecodeHash: "ipfs" },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "devdoc", "userdoc"] } },
};
const DEPLOYABLE = ["Consortium", "AgencyRegistry", "CertificateRegistry"];

function listSources(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSources(p));
    else if (entry.name.endsWith(".sol")) out.push(p);
  }
  return out;
}

function findImport(importPath) {
  const candidates = [path.join(ROOT, "node_modules", importPath), path.join(ROOT, importPath)];
  for (const c of candidates) if (fs.existsSync(c)) return { contents: fs.readFileSync(c, "utf8") };
  return { error: `import not found: ${importPath}` };
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  }
  return value;
}

const dump = (obj) => JSON.stringify(sortKeys(obj), null, 1) + "\n";

export function build() {
  const sources = {};
  for (const file of listSources(path.join(ROOT, "contracts"))) {
    sources[path.relative(ROOT, file).split(path.sep).join("/")] = { content: fs.readFileSync(file, "utf8") };
  }
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
  if (errors.length) throw new Error(`solc: ${errors.length} error(s)`);

  // Record the full input, imported OpenZeppelin sources included, for reproducibility.
  const fullSources = { ...sources };
  for (const [name] of Object.entries(output.sources)) {
    if (!fullSources[name]) fullSources[name] = { content: findImport(name).contents };
  }
  const files = { "build-input.json": dump({ ...input, sources: fullSources }) };
  const version = solc.version();
  const errorAbi = new Map(); // every custom error any contract can raise, for decoding reverts
  for (const [file, contracts] of Object.entries(output.contracts)) {
    for (const [name, c] of Object.entries(contracts)) {
      for (const item of c.abi) if (item.type === "error") errorAbi.set(`${item.name}(${item.inputs.map((i) => i.type)})`, item);
      if (!DEPLOYABLE.includes(name)) continue;
      files[`${name}.json`] = dump({
        contractName: name,
        sourceName: file,
        compiler: version,
        abi: c.abi,
        bytecode: "0x" + c.evm.bytecode.object,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
        devdoc: c.devdoc,
        userdoc: c.userdoc,
      });
    }
  }
  files["errors.json"] = dump([...errorAbi.entries()].sort().map(([, item]) => item));
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = build();
  if (process.argv.includes("--check")) {
    const stale = Object.entries(files).filter(([name, text]) => {
      const p = path.join(OUT, name);
      return !fs.existsSync(p) || fs.readFileSync(p, "utf8") !== text;
    });
    if (stale.length) {
      console.error(`stale artifacts: ${stale.map(([n]) => n).join(", ")} — run: node scripts/build_contracts.mjs`);
      process.exit(1);
    }
    console.log(`artifacts up to date (${Object.keys(files).length} files, solc ${solc.version()})`);
  } else {
    fs.mkdirSync(OUT, { recursive: true });
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(OUT, name), text);
    for (const name of DEPLOYABLE) {
      const size = (JSON.parse(files[`${name}.json`]).deployedBytecode.length - 2) / 2;
      console.log(`${name}: ${size} bytes deployed`);
    }
  }
}
