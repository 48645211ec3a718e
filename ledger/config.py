"""Settings, from the environment (prefix ``CERTLEDGER_``) with embedded defaults.

| variable | default | meaning |
|---|---|---|
| CERTLEDGER_HOME | ~/.certledger | state directory: embedded chain, deployment file, keystore |
| CERTLEDGER_RPC_URL | (embedded node) | JSON-RPC endpoint, http(s):// or ws(s):// |
| CERTLEDGER_PORT | 8545 | port of the embedded node |
| CERTLEDGER_DEPLOYMENT | $HOME/deployment.json | deployment file written by ``deploy`` |
| CERTLEDGER_PASSWORD | (prompt) | keystore password |
| CERTLEDGER_KEYSTORE_SCRYPT_N | 262144 | scrypt cost of new keystore files |
| CERTLEDGER_GAS_PRICE | (auto) | gas price in wei; auto = 0 on free-gas chains |
| CERTLEDGER_DB_URL | sqlite:///$HOME/mirror.db | the mirror database (SQLite or postgresql://...) |
| CERTLEDGER_CONFIRMATIONS | 0 | blocks the indexer stays behind the head |
| CERTLEDGER_POLL_INTERVAL | 0.25 | seconds between head polls of the indexer |
| CERTLEDGER_INDEX_RANGE_CERTIFICATES | 1000000 | certificates the indexer reads and writes in one range at most (memory: ~250 bytes each) |
| CERTLEDGER_RPC_TIMEOUT | 10 | seconds any one call to the node may take; then it fails (no retries) |
| CERTLEDGER_TX_TIMEOUT | 60 | seconds a sent transaction may take to be mined |
| CERTLEDGER_MAX_LAG_BLOCKS | 5 | a mirror further behind the node answers ERROR |
| CERTLEDGER_MAX_STALENESS_SECONDS | 10 | ... as does one whose indexer last reached the node this long ago |
| CERTLEDGER_MAX_REORG_DEPTH | 64 | a reorganisation deeper than this stops the indexer instead of rewriting the mirror |
| CERTLEDGER_CHAIN_DUMP_INTERVAL | 1.0 | embedded chain: seconds between writes of new blocks to disk (the most a kill -9 loses, plus the write) |
| CERTLEDGER_CHAIN_GENERATIONS | 3 | embedded chain: full state dumps kept on disk |
| CERTLEDGER_SNAPSHOT_MAX_AGE | 86400 | offline verification: seconds a trust snapshot is trusted for (its block's age); then ERROR |
| CERTLEDGER_CHAIN_DUMP_BUDGET | 0.1 | embedded chain: largest share of the node's time full dumps may take (they stall mining) |
| CERTLEDGER_IPFS_URL | (embedded store) | RPC API of an IPFS node (Kubo or js-ipfs) for sealed documents, e.g. http://127.0.0.1:5001 |
| CERTLEDGER_CONTENT_DIR | $HOME/content | the embedded content-addressed store (used when no IPFS node is set) |
| CERTLEDGER_IPFS_TIMEOUT | 30 | seconds any one call to the IPFS node may take |
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CERTLEDGER_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".certledger")
    rpc_url: str | None = None
    port: int = 8545
    chain_id: int = 31337
    deployment: Path | None = None
    password: SecretStr | None = None
    keystore_scrypt_n: int = 2**18
    gas_price: int | None = None
    rpc_timeout: float = 10.0
    tx_timeout: float = 60.0
    db_url: str | None = None
    confirmations: int = 0
    poll_interval: float = 0.25
    max_lag_blocks: int = 5
    max_staleness_seconds: float = 10.0
    max_reorg_depth: int = 64
    index_range_certificates: int = Field(default=1_000_000, ge=1_000)
    chain_dump_interval: float = Field(default=1.0, gt=0)
    chain_generations: int = Field(default=3, ge=1)
    chain_dump_budget: float = Field(default=0.1, gt=0, le=1)
    snapshot_max_age: int = Field(default=86_400, gt=0)
    ipfs_url: str | None = None
    content_dir: Path | None = None
    ipfs_timeout: float = Field(default=30.0, gt=0)

    @property
    def mirror_url(self) -> str:
        return self.db_url or f"sqlite:///{self.home / 'mirror.db'}"

    @property
    def node_url(self) -> str:
        return self.rpc_url or f"http://127.0.0.1:{self.port}"

    @property
    def embedded(self) -> bool:
        return self.rpc_url is None

    @property
    def deployment_path(self) -> Path:
        return self.deployment or self.home / "deployment.json"

    @property
    def keystore_dir(self) -> Path:
        return self.home / "keys"

    @property
    def chain_dir(self) -> Path:
        return self.home / "chain"

    @property
    def content_store_dir(self) -> Path:
        return self.content_dir or self.home / "content"
