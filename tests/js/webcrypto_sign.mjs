// Signs as the wallet page does, with Node's WebCrypto (the same API as the browser's): a
// non-extractable ECDSA P-256 key, SHA-256, the signature raw r || s (IEEE P1363).
// Reads hex lines (messages) on stdin; prints one JSON line: the raw public key and the
// signatures, all hex.
import { webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";

const { subtle } = webcrypto;
const keys = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
const publicKey = Buffer.from(await subtle.exportKey("raw", keys.publicKey)).toString("hex");
let exported = true;
try {
  await subtle.exportKey("pkcs8", keys.privateKey);
} catch {
  exported = false; // as the wallet relies on: the private key cannot be read out
}
const messages = readFileSync(0, "utf8").split("\n").filter(Boolean);
const signatures = [];
for (const hex of messages) {
  const sig = await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, Buffer.from(hex, "hex"));
  signatures.push(Buffer.from(sig).toString("hex"));
}
console.log(JSON.stringify({ publicKey, signatures, privateKeyExportable: exported }));
