"""No secrets in source (§8): every file of the source is scanned with detect-secrets
(Yelp's scanner: AWS keys, private keys, JWTs, Slack and Stripe tokens, high-entropy
strings, keywords like password=) before anything is uploaded.

A finding names the file, the line and the kind of secret, never the value: the
refusal goes to audit_log, Slack and the archived notebook."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# `name: secret:NAME` names a Secrets Manager secret (the suite's reference syntax), it
# does not hold one: only the keyword detector's finding on such a line is dropped, so a
# token behind the prefix is still caught by its own detector (Stripe, AWS, entropy…).
REFERENCE = re.compile(r"""^\s*[\w.-]+\s*:\s*(['"]?)secret:[A-Za-z0-9/_+=.@-]+\1\s*(#.*)?$""", re.ASCII)


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
    return sorted(Finding(Path(name).as_posix(), s.line_number, s.type) for name, s in found
                  if not (s.type == "Secret Keyword" and _reference(root / name, s.line_number)))


def _reference(path: Path, line: int) -> bool:
    try:
        text = path.read_text(errors="replace").splitlines()[line - 1]
    except (OSError, IndexError):
        return False
    return bool(REFERENCE.match(text))


def problems(root: Path, files: list[Path], limit: int = 10) -> list[str]:
    found = scan(root, files)
    more = [f"and {len(found) - limit} more"] if len(found) > limit else []
    return [f"{f} (remove it, rotate it, read it from Secrets Manager)" for f in found[:limit]] + more
