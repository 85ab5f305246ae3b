"""Least privilege around approvals (issue 20 break 2, issue 29 "IAMFull"): the operator
must not be able to mint an approver's credentials, nor lift the guard that says so.

Before an approved write counts its approval records, IAM itself is asked, with
SimulatePrincipalPolicy (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html:
the principal's identity policies, and its permissions boundary where it has one), whether
the operator's principal is allowed any action that makes a credential for an approver's
IAM user (an access key, a console password, MFA off, a renamed or recreated user …), or
to delete or overwrite its own inline guard policy. Any `allowed` refuses the write, naming
the actions. An explicit Deny (the sandbox's `ApproverGuard`, an SCP or a permissions
boundary in prod, §10 "trimmed to deploy-only at the SCP level") passes.

The approval itself does not rest on this: it is signed by a key no IAM action makes
(approval_signature.py). This keeps the approver's STS identity, recorded in the signed
statement, meaningful. What it cannot see: IAMFullAccess can still create a new principal
and grant it what it lacks; only an SCP or a boundary required on every new principal
closes that, and SimulatePrincipalPolicy does not evaluate SCPs.
"""
from __future__ import annotations

from rovn_ops.core.errors import Refused
from rovn_ops.protocol.authorization import Lists, account_of, normalize

MINT = ("iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
        "iam:DeactivateMFADevice", "iam:UpdateUser", "iam:DeleteUser", "iam:CreateServiceSpecificCredential",
        "iam:UploadSSHPublicKey", "iam:UploadSigningCertificate")
UNGUARD = ("iam:DeleteUserPolicy", "iam:PutUserPolicy")


def source_arn(operator_arn: str) -> str:
    """The IAM principal whose policies apply: an assumed-role session's role, else the user."""
    arn = normalize(operator_arn)
    if ":assumed-role/" in arn:
        from rovn_ops.protocol.authorization import role_of

        return role_of(arn)
    return arn


def reach(iam, operator_arn: str, lists: Lists) -> list[str]:
    """'ACTION on ARN' for every credential-making or guard-lifting action IAM allows the operator."""
    partition, account = account_of(operator_arn)
    source = source_arn(operator_arn)
    approvers = [normalize(p, account, partition) for p in lists.approvers.values()]
    users = [a for a in approvers if ":user/" in a]
    asks = [(MINT, users)] + ([(UNGUARD, [source])] if ":user/" in source else [])
    found = []
    for actions, resources in asks:
        if not resources:
            continue
        answer = iam.simulate_principal_policy(PolicySourceArn=source, ActionNames=list(actions),
                                               ResourceArns=resources)
        found += [f"{r['EvalActionName']} on {r.get('EvalResourceName', '*')}"
                  for r in answer.get("EvaluationResults", []) if r.get("EvalDecision") == "allowed"]
    return found


def check(iam, operator_arn: str, lists: Lists) -> None:
    """Refuses, in one line, when the operator could make an approver's credentials."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        found = reach(iam, operator_arn, lists)
    except (ClientError, BotoCoreError) as e:
        raise Refused(f"could not ask IAM whether the operator can make an approver's credentials "
                      f"(SimulatePrincipalPolicy: {type(e).__name__}); an approved write needs the answer") from None
    if found:
        shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
        raise Refused(f"the operator {operator_arn} can make an approver's credentials ({shown}): an approval by "
                      "them would prove nothing. Next: deny these to the deploy identity (an SCP or permissions "
                      "boundary; the sandbox's ApproverGuard), then run the same command again")
