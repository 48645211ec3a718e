"""CertLedger core: identifiers, chain access, deployment, operator actions.

Data flows one way: document -> hash -> batch -> chain -> mirror -> verify.
"""

__version__ = "0.1.0"
