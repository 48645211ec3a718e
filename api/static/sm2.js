// SM2 signature verification (GB/T 32918.2-2016, GM/T 0003-2012) on the recommended curve
// sm2p256v1 (GB/T 32918.5-2017), with SM3 (wallet-core.js) as its hash: what the offline page
// needs to check an sm deployment's batch signatures as ledger/crypto/sm.py does. Verification
// only: the browser holds no SM2 private key.
//
//   ZA = SM3(ENTL || ID || a || b || xG || yG || xA || yA)   ENTL: the ID's bit length, 2 bytes BE
//   e  = SM3(ZA || M)
//   valid iff r, s in [1, n-1], t = (r + s) mod n != 0, (x1, y1) = [s]G + [t]PA, (e + x1) mod n = r
//
// The point arithmetic is @noble/curves' (short Weierstrass, audited; vendored by
// scripts/vendor_assets.mjs); the SM2 equations above are the standard's, written out here
// because no maintained browser library ships SM2 as an ES module.

import { Field } from "/static/vendor/noble-curves/modular.js";
import { weierstrassPoints } from "/static/vendor/noble-curves/weierstrass.js";
import { concat, sm3 } from "/static/wallet-core.js";

const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
const A = 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn;
const B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
const GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
const GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;

/** GM/T 0009-2012's default signer ID, "1234567812345678" (ledger/crypto/sm.py DEFAULT_SIGNER_ID). */
export const DEFAULT_SIGNER_ID = new TextEncoder().encode("1234567812345678");

const { ProjectivePoint: Point } = weierstrassPoints({ a: A, b: B, Fp: Field(P), n: N, h: 1n, Gx: GX, Gy: GY });

const be32 = (x) => {
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
};
const num = (bytes) => {
  let x = 0n;
  for (const b of bytes) x = (x << 8n) | BigInt(b);
  return x;
};
const CURVE = concat(be32(A), be32(B), be32(GX), be32(GY));

/** The public key as a curve point: 04 || X || Y (65 bytes) or X || Y (64 bytes), on the curve
 * and not the identity; throws otherwise. */
function publicPoint(key) {
  if (!(key instanceof Uint8Array)) throw new Error("an SM2 public key is bytes");
  const full = key.length === 64 ? concat(Uint8Array.of(4), key) : key;
  if (full.length !== 65 || full[0] !== 4) throw new Error("an SM2 public key is 04 || X || Y or X || Y");
  return Point.fromHex(full); // checks that the point is on the curve
}

/** ZA, the hash of the signer's ID, the curve and the public key. */
export function za(publicKey, signerId = DEFAULT_SIGNER_ID) {
  if (signerId.length > 0x1fff) throw new Error("an SM2 signer ID has at most 8191 bytes");
  const point = publicPoint(publicKey).toAffine();
  const entl = signerId.length * 8;
  return sm3(concat(Uint8Array.of(entl >> 8, entl & 0xff), signerId, CURVE, be32(point.x), be32(point.y)));
}

/** Whether signature (64 bytes r || s) is publicKey's SM2 signature of message under signerId.
 * False for anything malformed (a key off the curve, a short signature, r or s out of range). */
export function sm2Verify(publicKey, signature, message, signerId = DEFAULT_SIGNER_ID) {
  let pa;
  try {
    pa = publicPoint(publicKey);
  } catch {
    return false;
  }
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  const r = num(signature.subarray(0, 32));
  const s = num(signature.subarray(32));
  if (r < 1n || r >= N || s < 1n || s >= N) return false;
  const t = (r + s) % N;
  if (t === 0n) return false;
  const e = num(sm3(concat(za(publicKey, signerId), message)));
  const point = Point.BASE.multiplyAndAddUnsafe(pa, s, t); // [s]G + [t]PA
  if (!point) return false; // the identity
  return (e + point.toAffine().x) % N === r;
}
