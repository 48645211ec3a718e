"""SM2/SM3 cost on this machine, against the secp256k1/keccak the ledger uses today.

    .venv/bin/python bench/sm_crypto.py [--scale 1.0]

Measures, in one run, per operation (median of 5 rounds):
  * SM2 sign / verify through ledger.crypto.sm (Tongsuo), of a 140-byte message (Z + SM3 + sign)
    and of a ready 32-byte digest; key generation;
  * the same with the other Python SM2 libraries (gmssl-pyx = GmSSL 3, gmssl = pure Python);
  * secp256k1 as the ledger signs today: eth_account ``unsafe_sign_hash`` of a 32-byte digest and
    its recovery, and coincurve (the C library under eth_keys) sign/verify;
  * SM3 of 32 B, 1 KiB and 1 MiB (hashlib/OpenSSL and Tongsuo), against SHA-256 and keccak-256.
Writes bench/results/sm_crypto.json with the ratios SM2/secp256k1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from _common import ROOT, provenance

from ledger.crypto import sm

ROUNDS = 5


def per_op_ms(fn: Callable[[], Any], n: int) -> float:
    """Median over ROUNDS rounds of the mean time of one call, in ms."""
    fn()  # warm up
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - started) / n * 1e3)
    return statistics.median(samples)


def tongsuo_sm3(data: bytes) -> bytes:
    return sm._TongsuoSM3(data).digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def r4(x: float) -> float:
    return float(f"{x:.4g}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply iteration counts (0.1 for a quick look)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sm_crypto.json")
    args = parser.parse_args(argv)

    def n(count: int) -> int:
        return max(1, int(count * args.scale))

    message = os.urandom(140)
    digest = os.urandom(32)
    results: dict[str, Any] = {}

    # ---- SM2 through ledger.crypto.sm (Tongsuo)
    key = sm.SM2PrivateKey.generate()
    public = key.public_key
    sig = key.sign(message)
    e = public.message_digest(message)
    sig_e = key.sign_digest(digest)
    fresh_public = sm.SM2PublicKey.from_bytes(public.to_bytes())
    ours = {
        "sign_message_ms": per_op_ms(lambda: key.sign(message), n(3000)),
        "verify_message_ms": per_op_ms(lambda: public.verify(message, sig), n(3000)),
        "sign_digest_ms": per_op_ms(lambda: key.sign_digest(digest), n(3000)),
        "verify_digest_ms": per_op_ms(lambda: public.verify_digest(digest, sig_e), n(3000)),
        # cold path: parse the key, new Tongsuo key object, Z not cached (a fresh ID each call)
        "verify_cold_key_and_signer_id_ms": per_op_ms(
            lambda: sm.verify(public.to_bytes(), message, sig, signer_id=os.urandom(4)), n(2000)
        ),
        "keygen_ms": per_op_ms(sm.SM2PrivateKey.generate, n(2000)),
        "z_and_e_ms": per_op_ms(lambda: sm.sm3(public.z() + message), n(20000)),
    }
    assert public.verify_digest(e, key.sign_digest(e)) and fresh_public.verify(message, sig)
    results["sm2_ledger_crypto_sm_tongsuo"] = {k: r4(v) for k, v in ours.items()}

    # ---- the same with tongsuopy's public API (default signer ID only)
    from tongsuopy.crypto import hashes as ts_hashes
    from tongsuopy.crypto.asymciphers import ec as ts_ec

    ts_key = ts_ec.derive_private_key(int.from_bytes(key.to_bytes(), "big"), ts_ec.SM2())
    ts_sig = ts_key.sign(message, ts_ec.ECDSA(ts_hashes.SM3()))
    ts_pub = ts_key.public_key()
    results["sm2_tongsuopy_public_api"] = {
        "sign_message_ms": r4(per_op_ms(lambda: ts_key.sign(message, ts_ec.ECDSA(ts_hashes.SM3())), n(3000))),
        "verify_message_ms": r4(
            per_op_ms(lambda: ts_pub.verify(ts_sig, message, ts_ec.ECDSA(ts_hashes.SM3())), n(3000))
        ),
    }

    # ---- other SM2 libraries
    import gmssl_pyx

    bare = public.to_bytes()[1:]
    der = sm.signature_to_der(sig)
    results["sm2_gmssl_pyx"] = {
        "sign_message_ms": r4(per_op_ms(lambda: gmssl_pyx.sm2_sign(key.to_bytes(), bare, message), n(300))),
        "verify_message_ms": r4(per_op_ms(lambda: gmssl_pyx.sm2_verify(bare, message, der), n(1000))),
    }
    from gmssl import sm2 as gmssl_sm2

    pure = gmssl_sm2.CryptSM2(private_key=key.to_bytes().hex(), public_key=bare.hex())
    results["sm2_gmssl_pure_python"] = {
        "sign_message_ms": r4(per_op_ms(lambda: pure.sign_with_sm3(message), n(30))),
        "verify_message_ms": r4(per_op_ms(lambda: pure.verify_with_sm3(sig.hex(), message), n(15))),
    }

    # ---- secp256k1 as the ledger signs today
    import coincurve
    from eth_account import Account

    account = Account.create()
    signed = Account.unsafe_sign_hash(digest, account.key)
    eth = {
        "sign_digest_ms": per_op_ms(lambda: Account.unsafe_sign_hash(digest, account.key), n(3000)),
        "recover_digest_ms": per_op_ms(lambda: Account._recover_hash(digest, signature=signed.signature), n(3000)),
    }
    assert Account._recover_hash(digest, signature=signed.signature) == account.address
    cc_key = coincurve.PrivateKey(bytes(account.key))
    cc_sig = cc_key.sign(digest, hasher=None)
    cc_pub = coincurve.PublicKey(cc_key.public_key.format())
    eth.update(
        {
            "coincurve_sign_digest_ms": per_op_ms(lambda: cc_key.sign(digest, hasher=None), n(5000)),
            "coincurve_verify_digest_ms": per_op_ms(lambda: cc_pub.verify(cc_sig, digest, hasher=None), n(5000)),
        }
    )
    results["secp256k1"] = {k: r4(v) for k, v in eth.items()}

    # ---- hashes
    from eth_utils import keccak

    hashes: dict[str, Any] = {"sm3_provider": sm.SM3_PROVIDER}
    for label, size, count in (("32B", 32, 50000), ("1KiB", 1024, 20000), ("1MiB", 1 << 20, 20)):
        data = os.urandom(size)
        row = {
            "sm3_ms": per_op_ms(partial(sm.sm3, data), n(count)),
            "sm3_tongsuo_ms": per_op_ms(partial(tongsuo_sm3, data), n(count)),
            "sha256_ms": per_op_ms(partial(sha256, data), n(count)),
            "keccak256_ms": per_op_ms(partial(keccak, data), n(count)),
        }
        hashes[label] = {k: r4(v) for k, v in row.items()}
    hashes["sm3_MiB_per_s"] = r4(1e3 / hashes["1MiB"]["sm3_ms"])
    results["hashes"] = hashes

    results["ratios"] = {
        "sm2_sign_message_vs_eth_account_sign_digest": r4(ours["sign_message_ms"] / eth["sign_digest_ms"]),
        "sm2_sign_digest_vs_eth_account_sign_digest": r4(ours["sign_digest_ms"] / eth["sign_digest_ms"]),
        "sm2_verify_message_vs_eth_account_recover": r4(ours["verify_message_ms"] / eth["recover_digest_ms"]),
        "sm2_sign_digest_vs_coincurve_sign": r4(ours["sign_digest_ms"] / eth["coincurve_sign_digest_ms"]),
        "sm2_verify_digest_vs_coincurve_verify": r4(ours["verify_digest_ms"] / eth["coincurve_verify_digest_ms"]),
        "gmssl_pyx_sign_vs_ledger_sm2_sign": r4(results["sm2_gmssl_pyx"]["sign_message_ms"] / ours["sign_message_ms"]),
        "sm3_vs_sha256_1KiB": r4(hashes["1KiB"]["sm3_ms"] / hashes["1KiB"]["sha256_ms"]),
        "sm3_vs_keccak256_1KiB": r4(hashes["1KiB"]["sm3_ms"] / hashes["1KiB"]["keccak256_ms"]),
    }

    from importlib.metadata import version

    out = {
        "benchmark": "SM2/SM3 (ledger.crypto.sm) against secp256k1/keccak, per operation, median of 5 rounds",
        "message_bytes": len(message),
        "signer_id": sm.DEFAULT_SIGNER_ID.decode(),
        "libraries": {
            **{name: version(name) for name in ("tongsuopy", "gmssl-pyx", "gmssl", "eth-account", "coincurve")},
            "tongsuo_reports": sm._tongsuo.openssl_version_text(),
        },
        "scale": args.scale,
        **provenance(),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
