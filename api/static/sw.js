// The service worker of /verify (served as /verify-sw.js, scope /verify): keeps the page, its
// scripts, styles, languages and vendored libraries, the register lists it shows, and the latest
// trust snapshot with the consortium it is checked against, so that /verify opens and verifies
// with the network gone (docs/offline-browser.md). Network first: online, every answer is fresh and the
// cache is refreshed; when the server cannot be reached, or does not answer within 4 s, the
// cached copy answers.
// Verification requests (POST /v1/verify) are never cached.

const CACHE = "certledger-verify-v1";
const LANGS = ["zh-CN", "en", "ug", "bo", "mn-Mong", "ko", "za"];
const PAGE = [
  "/verify",
  "/static/verify.css",
  "/static/verify.js",
  "/static/i18n.js",
  "/static/page-common.js",
  "/static/wallet-core.js",
  "/static/offline.js",
  "/static/sm2.js",
  "/static/no-node-crypto.js",
  "/static/vendor/jsQR.js",
  "/static/vendor/noble-secp256k1.js",
  "/static/vendor/noble-curves/curve.js",
  "/static/vendor/noble-curves/modular.js",
  "/static/vendor/noble-curves/utils.js",
  "/static/vendor/noble-curves/weierstrass.js",
  "/static/vendor/sql-wasm.js",
  "/static/vendor/sql-wasm.wasm",
  ...LANGS.map((l) => `/static/i18n/${l}.json`),
];
const DATA = ["/v1/snapshot/trust", "/v1/snapshot", "/v1/regions", "/v1/types"];
const KEPT = new Set([...PAGE, ...DATA]);
const NETWORK_WAIT_MS = 4000; // then the kept copy answers (the network's answer still refreshes it)

async function keep(cache, url) {
  try {
    const res = await fetch(url, { cache: "no-cache" });
    if (res.ok) await cache.put(url, res);
  } catch {
    /* offline while installing: kept when next seen */
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await Promise.all([...PAGE, ...DATA].map((url) => keep(cache, url)));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  // the page asks for the snapshot to be refreshed now (after loading online)
  if (event.data === "refresh-snapshot") {
    event.waitUntil(caches.open(CACHE).then((cache) => Promise.all(DATA.map((url) => keep(cache, url)))));
  }
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  const key = url.pathname === "/verify" || url.pathname === "/verify/" ? "/verify" : url.pathname;
  if (!KEPT.has(key)) return;
  const network = caches.open(CACHE).then(async (cache) => {
    const res = await fetch(req);
    if (res.ok) await cache.put(key, res.clone());
    return res;
  });
  network.catch(() => {}); // answered from the cache instead
  event.waitUntil(network.catch(() => {})); // a late answer still refreshes the cache
  event.respondWith(
    (async () => {
      const kept = await caches.match(key, { cacheName: CACHE });
      if (!kept) return network;
      // a poor connection: the kept copy when the network does not answer in time
      const late = new Promise((resolve) => setTimeout(() => resolve(null), NETWORK_WAIT_MS));
      try {
        return (await Promise.race([network, late])) || kept;
      } catch {
        return kept;
      }
    })(),
  );
});
