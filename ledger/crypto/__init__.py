"""Cryptographic suites beyond the EVM's own secp256k1/keccak: ``ledger.crypto.sm`` holds the
Chinese commercial algorithms SM2 (signatures) and SM3 (hash) for the national profile."""
