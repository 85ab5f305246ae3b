"""The population of a period sent to Drata as custom evidence (issue 27, build 6): the
overview names Drata for SOC 2 evidence collection, so `evidence export --drata` files the
export (JSON, the completeness statement inside) as one evidence item whose description is
the completeness statement.

Not through the protocol: it changes nothing in production (no AWS, database or DNS
write) and adds to Drata a copy of what the archive already holds, which the auditor checks
against the archive (`verify` in the statement). It is idempotent instead: the item is named
by the environment, the period and the checkpoint hash that covers it, and a name Drata
already holds is not sent again, so a re-run after a crash files nothing twice.

Where it goes is read from parameters/<env>.yaml `drata:` only (api_url, workspace_id,
token_secret); the API key is read from Secrets Manager here and travels only to api_url,
in the Authorization header.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from rovn_ops.core.errors import BadInput

NAME_MAX, DESCRIPTION_MAX = 191, 30000  # createEvidence's limits


def title(data: dict) -> str:
    p, c = data["period"], data["completeness"]
    return (f"Rovn change population {p['environment']} {p['from']}..{p['to']} "
            f"checkpoint {(c.get('checkpoint_hash') or 'none')[:16]}")[:NAME_MAX]


def statement(data: dict) -> str:
    """The completeness statement, as lines an auditor reads in Drata."""
    c = data["completeness"]
    seqs = f"{c['ledger_seq_from']}..{c['ledger_seq_to']}" if c["ledger_seq_from"] is not None else "none"
    lines = [f"complete: {str(c['complete']).lower()}", f"runs: {c['runs']} ({c['changes']} changes)",
             f"ledger sequence: {seqs}; gaps: {', '.join(map(str, c['gaps'])) or 'none'}",
             f"checkpoint hash: {c['checkpoint_hash'] or 'none'}", f"statuses from: {c['statuses_from']}",
             f"verify: {c['verify']}"]
    lines += [f"problem: {p}" for p in c["problems"]]
    return "\n".join(lines)[:DESCRIPTION_MAX]


def settings(env: str) -> dict:
    from rovn_ops.safety import params

    spec = params.environment_section(env, "drata")
    missing = [k for k in ("api_url", "workspace_id", "token_secret") if not spec.get(k)]
    if missing:
        raise BadInput(f"--drata: parameters/{env}.yaml names no drata.{missing[0]}: expected Drata's API URL, "
                       "workspace id and the secret:NAME of its API key")
    if not str(spec["token_secret"]).startswith("secret:"):
        raise BadInput(f"parameters/{env}.yaml drata.token_secret: expected secret:NAME, never a value")
    return spec


def send(data: dict, env: str) -> str:
    """File the export in Drata; one line saying what Drata holds now."""
    from rovn_ops.clients import drata
    from rovn_ops.core import aws
    from rovn_ops.core.environment import prepare_environment
    from rovn_ops.evidence import signing
    from rovn_ops.safety import secret_values

    spec = settings(env)
    prepare_environment(env)
    sm = aws.client("secretsmanager", env=env, region=signing.key_region(env))  # the environment's region
    token = secret_values.read(sm, str(spec["token_secret"]).removeprefix("secret:"))
    client = drata.Client(str(spec["api_url"]), int(spec["workspace_id"]), token)
    name = title(data)
    found = client.find(name)
    if found is not None:
        return f"Drata: evidence {found['id']} already holds this population ({name}); nothing sent"
    p = data["period"]
    filename = f"rovn-population-{p['environment']}-{p['from']}-{p['to']}.json".replace(":", "")
    key = client.upload(filename, (json.dumps(data, indent=2, default=str) + "\n").encode(), "application/json")
    item = client.create(name, statement(data), key, filename,
                         datetime.now(timezone.utc).date().isoformat())
    return f"Drata: custom evidence {item['id']} filed ({name}), file {key}"
