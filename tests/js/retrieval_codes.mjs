// Runs the wallet's retrieval-code functions (api/static/wallet-core.js) in Node, which has the
// browser's WebCrypto: reads one JSON object of cases on stdin, prints one JSON object of what
// the wallet makes of them (tests/test_wallet_codes.py compares it with ledger/content).
import { readFileSync } from "node:fs";

const core = await import(new URL("../../api/static/wallet-core.js", import.meta.url));
const cases = JSON.parse(readFileSync(0, "utf8"));
const { unhex, hex } = core;

const codes = cases.codes.map((text) => {
  try {
    const c = core.parseRetrievalCode(text);
    return { suite: c.suite, key: hex(c.key), cid: c.cid.text, codec: c.cid.codec };
  } catch (e) {
    return { error: e instanceof core.RetrievalError ? e.code : `unexpected ${e}` };
  }
});
const cids = [];
for (const h of cases.cids) cids.push(await core.rawCid(unhex(h)));
const opened = [];
for (const s of cases.sealed) {
  try {
    opened.push(hex(await core.openSealed(unhex(s.data), unhex(s.key), s.suite)));
  } catch (e) {
    opened.push({ error: e instanceof core.RetrievalError ? e.code : `unexpected ${e}` });
  }
}
const checked = [];
for (const s of cases.checked) {
  try {
    await core.checkContent(core.parseRetrievalCode(s.code), unhex(s.data));
    checked.push("ok");
  } catch (e) {
    checked.push(e instanceof core.RetrievalError ? e.code : `unexpected ${e}`);
  }
}
const sm4 = cases.sm4.map((v) => hex(core.sm4Gcm(unhex(v.key), unhex(v.nonce), unhex(v.data), unhex(v.aad), true)));
const base32 = cases.base32.map((h) => core.base32(unhex(h)));
console.log(JSON.stringify({ codes, cids, opened, checked, sm4, base32 }));
