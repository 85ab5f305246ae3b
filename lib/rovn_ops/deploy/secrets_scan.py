"""No secrets in source (§8): every file of the source is scanned with detect-secrets
(Yelp's scanner: AWS keys, private keys, JWTs, Slack and Stripe tokens, high-entropy
strings, keywords like password=) before anything is uploaded.

A finding names the file, the line and the kind of secret, never the value: the
refusal goes to audit_log, Slack and the archived notebook."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)  # sorted by file, line, kind: two findings in one file compare
class Finding:
    path: str
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}"


def scan(root: Path, files: list[Path]) -> list[Finding]:
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    found = SecretsCollection(root=str(root))
    with default_settings():
        for f in files:  # one process: detect-secrets' pool would fork a worker per CPU
            found.scan_file(str(f.relative_to(root)))
    # Only the location and type leave this function: never secret.secret_value.
    return sorted(Finding(Path(name).as_posix(), s.line_number, s.type) for name, s in found)


def problems(root: Path, files: list[Path], limit: int = 10) -> list[str]:
    found = scan(root, files)
    more = [f"and {len(found) - limit} more"] if len(found) > limit else []
    return [f"{f} (remove it, rotate it, read it from Secrets Manager)" for f in found[:limit]] + more
