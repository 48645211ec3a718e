"""CertLedger's REST API and verification web page (FastAPI), thin over ``ledger``."""
