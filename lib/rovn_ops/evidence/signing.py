"""The evidence signing key (Ed25519, cryptography): one per environment, pinned.

The private key lives in Secrets Manager in the environment's home region
(`evidence.region`, else the environment's `region` parameter); nothing ever
generates one on the fly, so no parameter (a run's `region`, say) can mint a key.
Its id, the SHA-256 of the raw public key, is pinned in the committed, reviewed
`parameters/<env>.yaml` (`evidence.signing_key_id`): a key that is not the pinned
one signs nothing, and `verify` trusts nothing else (or the key an auditor passes).
The public key is exported beside the ledger and to the bucket for convenience only.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from rovn_ops.core.errors import BadInput, RovnError

PUBLIC_KEY_FILE = "ledger-public-key.pem"


def _serialization():
    from cryptography.hazmat.primitives import serialization

    return serialization


def pinned_id(env: str) -> str:
    from rovn_ops.safety import params

    pinned = (params.environment_section(env, "evidence").get("signing_key_id") or "").strip().lower()
    if not pinned:
        raise RovnError(f"parameters/{env}.yaml pins no evidence.signing_key_id: expected the id (SHA-256 of "
                        "the public key) of the environment's evidence signing key; `rovn-ops evidence key-id "
                        f"--env {env}` prints it (RUNBOOK: evidence signing key)")
    return pinned


def key_region(env: str) -> str:
    from rovn_ops.safety import params

    return (params.environment_section(env, "evidence").get("region")
            or params.environment_defaults(env).get("region") or "us-east-2")


def private_key(sm, secret_name: str, env: str, handover: bool = False):
    """The environment's signing key, refused unless it is the pinned one.
    handover: the rotation's own run (evidence/rotation.py), which signs with the key it
    hands over: the pinned one, at AWSPREVIOUS once its successor is current."""
    from rovn_ops.safety import secret_values

    try:
        pem = secret_values.read(sm, secret_name)  # masked, and registered for redaction
    except sm.exceptions.ResourceNotFoundException:
        raise RovnError(f"evidence signing key {secret_name} not found in Secrets Manager "
                        f"({sm.meta.region_name}): create it (Ed25519, PKCS8 PEM) and pin its id in "
                        f"parameters/{env}.yaml before running in {env}") from None
    key = load_private(pem.reveal().encode())
    pinned = pinned_id(env)
    if key_id(key.public_key()) != pinned and handover:
        previous = _at_previous(sm, secret_name)
        key = previous if previous is not None and key_id(previous.public_key()) == pinned else key
    if key_id(key.public_key()) != pinned:
        raise RovnError(f"evidence signing key {secret_name} has id {key_id(key.public_key())}, but "
                        f"parameters/{env}.yaml pins {pinned}: nothing is signed with an unpinned key")
    return key


def _at_previous(sm, secret_name: str):
    """The key at AWSPREVIOUS, or None."""
    from rovn_ops.safety import secret_values

    try:
        return load_private(secret_values.read(sm, secret_name, stage="AWSPREVIOUS").reveal().encode())
    except sm.exceptions.ResourceNotFoundException:
        return None


def load_private(pem: bytes):
    return _serialization().load_pem_private_key(pem, password=None)


def public_pem(key) -> bytes:
    s = _serialization()
    pub = key.public_key() if hasattr(key, "public_key") else key
    return pub.public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo)


def key_id(public_key) -> str:
    s = _serialization()
    raw = public_key.public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def export_public(key, root: Path) -> Path:
    path = root / PUBLIC_KEY_FILE
    pem = public_pem(key)
    if not path.exists() or path.read_bytes() != pem:
        path.write_bytes(pem)
    return path


def load_public(path: Path, label: str = "--public-key"):
    """The auditor's copy of the public key: a wrong file is bad input (exit 2)."""
    if not path.is_file():
        raise BadInput(f"{label} {path}: not found")
    return public_from_pem(path.read_bytes(), f"{label} {path}", BadInput)


def public_from_pem(pem: bytes, where: str, error: type[RovnError] = RovnError):
    """An Ed25519 public key in PEM; anything else (no key, an RSA key) is `error`."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = _serialization().load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise error(f"{where}: not a PEM public key; expected the Ed25519 key exported as "
                    f"{PUBLIC_KEY_FILE}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise error(f"{where}: a {type(key).__name__.removeprefix('_')} key; expected Ed25519")
    return key


def trusted(env: str, auditor_key: Path | None, exported: bytes | None):
    """The one key verify accepts: the auditor's own copy, else the exported key only if
    its id is the one pinned for the environment."""
    if auditor_key is not None:
        return load_public(auditor_key)
    pinned = pinned_id(env)
    if exported is None:
        raise RovnError(f"no exported public key to check against the pinned id {pinned}: "
                        "pass the auditor's copy with --public-key")
    key = public_from_pem(exported, PUBLIC_KEY_FILE)
    if key_id(key) != pinned:
        raise UntrustedKey(f"{PUBLIC_KEY_FILE} has key id {key_id(key)}, but parameters/{env}.yaml pins "
                           f"{pinned}: the archive was signed with a key that is not the environment's")
    return key


class UntrustedKey(RovnError):
    pass


# Rotation: explicit and logged. The statement names both keys and is signed by both:
# the old key vouches for its successor, the new one for its predecessor, so a verifier
# that trusts the key pinned today also trusts the runs its predecessors signed.
ROTATIONS_FILE = "key-rotations.jsonl"
ROTATION_FIELDS = ("old_key_id", "old_public_key", "new_key_id", "new_public_key", "at")


def rotation_statement(old, new, at: str) -> dict:
    import base64
    import json

    body = {"old_key_id": key_id(old.public_key()), "old_public_key": public_pem(old).decode(),
            "new_key_id": key_id(new.public_key()), "new_public_key": public_pem(new).decode(), "at": at}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return body | {"hash": digest, "sig_old": base64.b64encode(old.sign(bytes.fromhex(digest))).decode(),
                   "sig_new": base64.b64encode(new.sign(bytes.fromhex(digest))).decode()}


def _rotation_ok(r: dict) -> tuple | None:
    """(old public key, new public key) if the statement is intact and signed by both."""
    import base64
    import json

    from cryptography.exceptions import InvalidSignature

    try:
        body = {k: r[k] for k in ROTATION_FIELDS}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        old = public_from_pem(r["old_public_key"].encode(), "rotation")
        new = public_from_pem(r["new_public_key"].encode(), "rotation")
        if digest != r["hash"] or key_id(old) != r["old_key_id"] or key_id(new) != r["new_key_id"]:
            return None
        old.verify(base64.b64decode(r["sig_old"]), bytes.fromhex(digest))
        new.verify(base64.b64decode(r["sig_new"]), bytes.fromhex(digest))
        return old, new
    except (InvalidSignature, KeyError, ValueError, TypeError, RovnError):
        return None


def with_predecessors(key, rotations: list[dict]) -> dict:
    """{key id: public key}: the trusted key and, back through rotation statements signed
    by both sides, every key it succeeded."""
    keys = {key_id(key): key}
    grew = True
    while grew:
        grew = False
        for r in rotations:
            if r.get("new_key_id") in keys and r.get("old_key_id") not in keys:
                pair = _rotation_ok(r)
                if pair:
                    keys[r["old_key_id"]] = pair[0]
                    grew = True
    return keys
