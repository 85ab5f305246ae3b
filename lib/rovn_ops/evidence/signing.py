"""The evidence signing key (Ed25519, cryptography). In prod it is read from Secrets
Manager; in the sandbox it is generated on first use and stored there. The public
key is exported beside the ledger for auditors; its id is a hash of its bytes."""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import RovnError

PUBLIC_KEY_FILE = "ledger-public-key.pem"


def _serialization():
    from cryptography.hazmat.primitives import serialization

    return serialization


def private_key(sm, secret_name: str, env: str):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from .. import secret_values

    s = _serialization()
    try:
        pem = secret_values.read(sm, secret_name)
    except sm.exceptions.ResourceNotFoundException:
        if env != "sandbox":
            raise RovnError(f"evidence signing key {secret_name} not found in Secrets Manager: "
                            f"create it (Ed25519, PKCS8 PEM) before running in {env}") from None
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()
        sm.create_secret(Name=secret_name, SecretString=pem,
                         Tags=[{"Key": "purpose", "Value": "evidence-signing"}])
        secret_values.wrap(pem, secret_name)  # registered for redaction like a read one
        return key
    return s.load_pem_private_key(pem.reveal().encode(), password=None)


def public_pem(key) -> bytes:
    s = _serialization()
    pub = key.public_key() if hasattr(key, "public_key") else key
    return pub.public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo)


def key_id(public_key) -> str:
    s = _serialization()
    raw = public_key.public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def export_public(key, root: Path) -> Path:
    path = root / PUBLIC_KEY_FILE
    pem = public_pem(key)
    if not path.exists() or path.read_bytes() != pem:
        path.write_bytes(pem)
    return path


def load_public(path: Path):
    if not path.is_file():
        raise RovnError(f"public key {path}: not found")
    return _serialization().load_pem_public_key(path.read_bytes())
