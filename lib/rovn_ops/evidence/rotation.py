"""`rovn-ops evidence rotate-key`: the signing key changes only here, explicitly and logged.

A new Ed25519 key is generated; a statement naming both keys, signed by the old key
and the new, is written into audit_log (action `evidence-key-rotation`), to the bucket
(keys/rotations/<new id>.json, Object Lock) and beside the local ledger; then the new
key becomes the secret's AWSCURRENT. Runs refuse to sign until the new id is pinned
in parameters/<env>.yaml through review; verify, trusting the new pin, follows the
statement back and still trusts the runs the old key signed.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from psycopg.types.json import Jsonb

from rovn_ops.core import aws, paths
from rovn_ops.evidence import archive, bucket, signing

ACTION = "evidence-key-rotation"


def rotate(env: str, operator: str) -> dict:
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    settings = archive.Settings.of(env)
    sm = aws.client("secretsmanager", env=env, region=settings.region)
    old = signing.private_key(sm, settings.signing_key_secret, env)  # only the pinned key may hand over
    new = Ed25519PrivateKey.generate()
    statement = signing.rotation_statement(old, new, datetime.now(timezone.utc).isoformat())
    with archive.connect(env) as conn:
        conn.execute("INSERT INTO audit_log (actor, action, target, outcome, details) VALUES (%s, %s, %s, %s, %s)",
                     (operator, ACTION, settings.signing_key_secret, "success", Jsonb(statement)))
    if settings.bucket:
        plan = bucket.plan(settings.bucket, "-", settings.retention_days)
        s3 = aws.client("s3", env=env, region=settings.region)
        bucket.put(s3, plan, f"{bucket.ROTATIONS_PREFIX}{statement['new_key_id']}.json",
                   (json.dumps(statement, sort_keys=True) + "\n").encode())
        bucket.put(s3, plan, f"{bucket.KEYS_PREFIX}{statement['new_key_id']}.pem", signing.public_pem(new))
    root = paths.evidence()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / signing.ROTATIONS_FILE, "a") as f:
        f.write(json.dumps(statement, sort_keys=True) + "\n")
    pem = new.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()
    sm.put_secret_value(SecretId=settings.signing_key_secret, SecretString=pem)  # AWSCURRENT moves
    return statement
