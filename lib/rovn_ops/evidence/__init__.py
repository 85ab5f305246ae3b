"""The evidence archive: what auditors sample months later (SOC 2 CC8.1).

Per run, <evidence>/<YYYY-MM-DD>/<run id>/ holds the executed notebook (scrubbed),
its HTML copy, any artifacts, manifest.json and signature.json. Every manifest is
appended to ledger.jsonl, a hash chain whose entries are signed with Ed25519; the
public key sits beside it. `rovn-ops evidence verify` checks all of it, the
audit_log rows the manifests name, and the Object Lock copies in the archive bucket.
"""
