"""The proof in an approval record: the approver's own Ed25519 signature (issue 20, breaks 1-2).

An approval record is an audit_log row, and the runbooks' database credential
(`rovn_app`) can INSERT any row, so the row proves nothing by itself. Each approver
holds a private signing key no one else has (in the sandbox: lib/rovn_sandbox/people/,
test keys); its public half is registered in the committed environment file,
`approval_keys: {NAME: ed25519:BASE64}`, read like the approvers list from the protected
branch (authorization.protected), so changing it is a reviewed commit, out of the
operator's reach. The approver signs a canonical statement (environment, full plan
hash, approver, ticket, time, their STS identity and access key id, the preview run);
execute, `evidence verify` and the index check the signature against the registered
key, never the row.

Why a signature and not (only) a signed STS GetCallerIdentity request (the Vault AWS
auth pattern, https://developer.hashicorp.com/vault/docs/auth/aws: the client signs
the request, the verifier sends it to STS, which answers the signer's ARN): AWS takes a
SigV4-signed request only "within five minutes of the time stamp in the request"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_aws-signing.html), so it
can be checked once, at execute, by the very code the operator runs; an audit a month
later could not re-send it and would have to trust the row again. An Ed25519 signature
verifies offline forever: at execute, in `evidence verify` and in the index. And an IAM
access key is not the credential that approves, so an operator who can mint IAM keys
(claude-deploy's IAMFullAccess) still cannot approve as someone else. The STS identity is
still checked at approve time (the caller is that approver's principal) and recorded
inside the signed statement.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from rovn_ops.core.errors import BadInput, Refused

PREFIX = "ed25519:"
DOMAIN = b"rovn-approval-v1\n"  # a signature made for an approval is never valid for anything else
KEY_ENV = "ROVN_APPROVAL_KEY"  # path of the approver's private key (PEM, PKCS#8)


def statement(record: dict) -> bytes:
    """The exact bytes signed: the record without its signature, canonical JSON."""
    body = {k: v for k, v in record.items() if k not in ("signature", "id", "at", "actor")}
    return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_text(public: Ed25519PublicKey) -> str:
    """The form the environment file registers: ed25519:BASE64 (the 32 raw bytes)."""
    return PREFIX + base64.b64encode(_raw(public)).decode()


def parse_public(text: str, where: str) -> Ed25519PublicKey:
    try:
        if not str(text).startswith(PREFIX):
            raise ValueError
        raw = base64.b64decode(str(text)[len(PREFIX):], validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise Refused(f"{where}: expected an approval key as ed25519:BASE64 (32 bytes)") from None


def load_private(path: str | None) -> Ed25519PrivateKey:
    """The approver's private key from --key or $ROVN_APPROVAL_KEY; one line when it is not one."""
    path = path or os.environ.get(KEY_ENV, "")
    if not path:
        raise BadInput(f"--key: expected the path of your approval signing key (or ${KEY_ENV}): an approval "
                       "is signed by the approver's own key, registered in parameters/<env>.yaml approval_keys")
    try:
        key = serialization.load_pem_private_key(Path(path).expanduser().read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise BadInput(f"--key {path[:120]}: expected a readable, unencrypted PEM Ed25519 private key "
                       f"({type(e).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BadInput(f"--key {path[:120]}: expected an Ed25519 private key, got {type(key).__name__}")
    return key


def sign(record: dict, key: Ed25519PrivateKey) -> dict:
    sig = key.sign(statement(record))
    return {"alg": "ed25519", "key_id": key_id(key.public_key()), "value": base64.b64encode(sig).decode()}


def problem(record: dict, registered: dict, env: str) -> str | None:
    """None if the record carries a valid signature of its approver's registered key for
    this environment; else why not, in a few words."""
    name = str(record.get("approver") or "")
    sig = record.get("signature")
    if not isinstance(sig, dict) or not sig.get("value"):
        return f"no signature (an approval record is signed by its approver's own key; this one was not)"
    if record.get("env") != env:
        return f"signed for environment {record.get('env')!r}, not {env!r}"
    public = registered.get(name)
    if public is None:
        return f"{name or '?'} has no approval key registered in parameters/{env}.yaml"
    try:
        public.verify(base64.b64decode(str(sig["value"]), validate=True), statement(record))
    except (InvalidSignature, ValueError):
        return f"the signature does not verify with {name}'s registered key {key_id(public)} (forged or altered)"
    return None
