"""An approval as the approver's own act (issue 27, build 1).

`rovn-ops approve PLAN_HASH [--ticket T]` is run by the approver, under their own
credentials: STS GetCallerIdentity names them (in the sandbox each person of the
rotation has their own IAM access key). The identity must be one of the committed
environment file's `approvers`; the record (approver, the STS identity as proof, the
full plan hash, the time, the ticket, the preview run it approves) is appended to
audit_log (hash-chained: action `approve`, outcome `approved`) and lands in the
evidence of the run that executes it. The record is signed by the approver's own
Ed25519 key, registered in the environment file's `approval_keys`
(approval_signature.py): a row anyone wrote with the database credential, or an
`approve` run under an IAM key someone minted for the approver, carries no valid
signature and never counts, at execute or in `evidence verify` (`problems`).

Execute (protocol.Change.confirm) counts the records of exactly the plan it re-derives:
a record by the operator's own identity never counts, and the plan hash executes once
(protocol.executed), so an approval covers one plan, once.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone

from rovn_ops.audit import log as audit
from rovn_ops.protocol import approval_signature as signature
from rovn_ops.safety import scrub
from rovn_ops.protocol.authorization import Lists, account_of, human_names, normalize, same_identity
from rovn_ops.core.errors import BadInput, Refused

ACTION, OUTCOME = "approve", "approved"
FULL_HASH = re.compile(r"^[0-9a-f]{64}$")


def approver_of(lists: Lists, arn: str) -> str | None:
    """The approvers-list name whose principal is this STS identity, or None."""
    partition, account = account_of(arn)
    me = normalize(arn)
    for name, principal in lists.approvers.items():
        if same_identity(normalize(principal, account, partition), me):
            return name
    return None


def full_hash(text: str) -> str:
    """The plan hash as given, lower-case; bad input (one line) unless it is the full 64 hex."""
    plan_hash = text.strip().lower()
    if not FULL_HASH.match(plan_hash):
        raise BadInput(f"PLAN_HASH {plan_hash[:80]!r}: expected the full 64-hex plan hash the preview printed")
    return plan_hash


def registered_keys(lists: Lists) -> dict:
    """name → the approver's registered public key (the protected branch's approval_keys)."""
    return {name: signature.parse_public(text, f"{lists.source or lists.env} approval_keys.{name}")
            for name, text in lists.approval_keys}


def approve(conn, env: str, plan_hash: str, caller: dict, ticket: str = "", preview: dict | None = None,
            key=None, access_key_id: str = "") -> dict:
    """Append the approval record of `caller` (a GetCallerIdentity answer) for plan_hash,
    signed with `key` (the approver's Ed25519 private key; must be the registered one).
    `preview` is the run that printed plan_hash (evidence/previews.py): none, refused."""
    plan_hash = full_hash(plan_hash)
    if key is None:
        raise BadInput("--key: expected your approval signing key: an approval is signed by the approver's own key")
    lists = Lists.of(env)
    arn = caller["Arn"]
    name = approver_of(lists, arn)
    if name is None:
        audit.append(conn, actor=arn, action=ACTION, target=plan_hash, outcome="refused",
                     details={"plan_hash": plan_hash, "reason": "not an approver"})
        raise Refused(f"{arn} is not on the approvers list of {lists.source} "
                      f"({', '.join(sorted(lists.approvers)) or 'none'}): only an approver can approve, under "
                      "their own credentials")
    public = registered_keys(lists).get(name)
    if public is None or signature.key_id(public) != signature.key_id(key.public_key()):
        audit.append(conn, actor=arn, action=ACTION, target=plan_hash, outcome="refused",
                     details={"plan_hash": plan_hash, "reason": "not the approver's registered key"})
        raise Refused(f"the signing key given ({signature.key_id(key.public_key())}) is not {name}'s registered "
                      f"approval key ({signature.key_id(public) if public else 'none registered'}) in "
                      f"{lists.source} approval_keys: an approval is signed with the approver's own key")
    if not preview:
        audit.append(conn, actor=arn, action=ACTION, target=plan_hash, outcome="refused",
                     details={"plan_hash": plan_hash, "reason": "no preview produced this plan hash"})
        raise Refused(f"plan {plan_hash[:12]}: no archived preview printed this plan hash (audit_log's ledger "
                      "holds none whose manifest names it): run the preview, then approve the hash it printed")
    ticket = _plan_ticket(ticket, preview)
    record = {"plan_hash": plan_hash, "approver": name, "ticket": ticket, "env": env,
              "signed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "identity": {"arn": arn, "user_id": caller.get("UserId", ""), "account": caller.get("Account", ""),
                           # a digest: the scrubber masks AKIA… ids, and this is enough to find the key
                           "access_key_sha256": hashlib.sha256(access_key_id.encode()).hexdigest()
                           if access_key_id else "", "proof": "sts:GetCallerIdentity"},
              "lists_from": lists.source}
    if preview:
        record["preview"] = preview
    record = scrub.current().tree(json.loads(json.dumps(record)))  # sign exactly what audit_log will hold
    record["signature"] = signature.sign(record, key)
    entry = audit.append(conn, actor=arn, action=ACTION, target=(preview or {}).get("target") or plan_hash,
                         outcome=OUTCOME, details=record)
    return {**record, "id": entry.id, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _plan_ticket(given: str, preview: dict) -> str:
    """The ticket an approval is for is the plan's (its preview's): taken from the preview when
    --ticket is not given; another is bad input here, before a record that execute would not count."""
    planned = preview.get("ticket") or ""
    if given and planned and given.strip() != planned:
        raise BadInput(f"--ticket {given.strip()[:80]!r}: expected the plan's ticket {planned!r} "
                       f"(preview run {preview.get('run_id', '?')}), or no --ticket to take it from the preview")
    return given.strip() or planned


def records(conn, plan_hash: str) -> list[dict]:
    """Every approval record of this exact plan hash, oldest first."""
    if conn is None or not plan_hash:
        return []
    rows = conn.execute("SELECT id, occurred_at, actor, details FROM audit_log WHERE action = %s AND outcome = %s "
                        "AND details->>'plan_hash' = %s ORDER BY id", [ACTION, OUTCOME, plan_hash]).fetchall()
    return [{**d, "id": i, "at": at.isoformat(timespec="seconds"), "actor": actor} for i, at, actor, d in rows]


def problems(conn, lists: Lists) -> list[tuple[int, str]]:
    """(audit_log row id, why) for every approval record in audit_log whose signature does
    not verify with its approver's registered key: what `evidence verify` reports."""
    rows = conn.execute("SELECT id, details FROM audit_log WHERE action = %s AND outcome = %s ORDER BY id",
                        [ACTION, OUTCOME]).fetchall()
    keys = registered_keys(lists)
    found = []
    for i, d in rows:
        why = signature.problem(d if isinstance(d, dict) else {}, keys, lists.env)
        if why:
            found.append((i, f"approval record by {(d or {}).get('approver', '?')} for plan "
                             f"{str((d or {}).get('plan_hash', ''))[:12]}: {why}"))
    return found


def fresh_key(iam, rec: dict) -> str | None:
    """Why the IAM access key the approver signed in with does not count, or None: a key
    created after the plan's preview (someone made it for this approval) never does.
    ListAccessKeys' CreateDate, https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListAccessKeys.html"""
    digest, arn = rec["identity"].get("access_key_sha256"), rec["identity"]["arn"]
    run_id = str((rec.get("preview") or {}).get("run_id") or "")
    if iam is None or not digest or ":user/" not in arn or not re.match(r"^[0-9]{8}T[0-9]{6}Z", run_id):
        return None  # a role session's keys are temporary; no preview run recorded: nothing to compare
    previewed = datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    for key in iam.list_access_keys(UserName=arn.rsplit("/", 1)[-1]).get("AccessKeyMetadata", []):
        if hashlib.sha256(key["AccessKeyId"].encode()).hexdigest() == digest and key["CreateDate"] > previewed:
            return f"{rec['approver']}'s access key was created {key['CreateDate']:%Y-%m-%d %H:%M:%S}, after the preview"
    return None


def approvers_from_records(conn, lists: Lists, plan_hash: str, operator_arn: str, needed: int, why: str = "",
                           local_user: str = "", iam=None, ticket: str = "") -> list[dict]:
    """The distinct approval records that count for this plan: each by an identity still on
    the approvers list, none the operator (by IAM identity or by name), signed by the
    approver's registered key, with an access key older than the preview. Raises Refused."""
    partition, account = account_of(operator_arn)
    me, mine = normalize(operator_arn), human_names(operator_arn, local_user)
    counted: dict[str, dict] = {}
    own, unsigned, young, other_ticket = False, 0, [], 0
    keys = registered_keys(lists)
    for rec in records(conn, plan_hash):
        if signature.problem(rec, keys, lists.env) or rec.get("plan_hash") != plan_hash:
            unsigned += 1  # a row, not an act: no valid signature of the approver's registered key
            continue
        arn = rec["identity"]["arn"]
        if same_identity(normalize(arn, account, partition), me) or human_names(arn, rec["approver"]) & mine:
            own = True  # the operator approving their own change: never counts
            continue
        if approver_of(lists, arn) != rec["approver"]:
            continue  # no longer (or never) this approver's principal on the committed list
        if ticket and (rec.get("ticket") or "") != ticket:
            other_ticket += 1  # an approval is for one change: its ticket is the plan's (issue 27 build 2)
            continue
        late = fresh_key(iam, rec)
        if late:
            young.append(late)
            continue
        counted.setdefault(rec["approver"], rec)
    if len(counted) >= needed:
        return list(counted.values())
    got = ", ".join(counted) or "none"
    raise Refused(f"plan {plan_hash[:12]} needs {needed} approval record(s) by approvers other than the operator"
                  + (f" ({why})" if why else "") + f"; found {got}"
                  + ("; an approval by the operator never counts" if own else "")
                  + (f"; {unsigned} record(s) without a valid signature of their approver's registered key "
                     "ignored (forged or altered?)" if unsigned else "")
                  + "".join(f"; {y}: not counted" for y in young)
                  + (f"; {other_ticket} record(s) for another ticket than the plan's {ticket} not counted"
                     if other_ticket else "")
                  + f". Next: an approver runs `rovn-ops approve {plan_hash} --ticket {ticket or 'T'}` under their own "
                  "credentials, then run the same command again")
