"""Secret detection and redaction: parameters must name secrets, never carry them,
and nothing that looks like one is archived.

Redaction is the second net (the first is secret_values.Secret, masked by
construction). Every value the library reads is registered here (`register`); the
Redactor then removes each registered value *and its derived forms* from the
evidence: JSON-escaped, HTML-escaped, repr-escaped, URL-encoded, base64 and
base64url (at every byte alignment), hex, in any letter case. A JSON secret
registers each leaf string too. Values shorter than MIN_SECRET_LEN are not matched
(redacting a short string everywhere would both spoil the evidence and reveal the
value by what went missing): `register` returns them so the reader can say so.

A headless run's kernel hands its registered values to the runner sealed (Fernet,
with a per-run key the runner passes in ROVN_REDACT_KEY): the result file on disk
never holds a value in the clear.
"""
from __future__ import annotations

import base64
import html
import json
import os
import re
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"
MIN_SECRET_LEN = 8
REDACT_KEY_ENV = "ROVN_REDACT_KEY"

# Shapes that are secrets wherever they appear: redacted from the evidence, refused
# as parameter values. None crosses a JSON string's quote, so the Redactor can run
# them over a serialized notebook. Each names the lower-case literals without which
# it cannot match, checked first on the lowered bytes (a fast substring test), so a
# 5 MB notebook pays for a regex scan only where its literal occurs.
SHAPES: list[tuple[re.Pattern, tuple[str, ...], str]] = [
    (re.compile(r"A[KS]IA(?<=\bA[KS]IA)[A-Z0-9]{16}\b"), ("akia", "asia"), REDACTED),       # AWS access key id
    (re.compile(r"(?i)aws_?secret_?access_?key[\"']?\s*[=:]\s*[\"']?[A-Za-z0-9/+]{40}"),
     ("secret_access", "secretaccess"), REDACTED),
    # a PEM private key, with or without its footer (a truncated paste is still a key)
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:[A-Za-z0-9+/=\s]|\\[nr])*"
                r"(?:-----END [A-Z ]*PRIVATE KEY-----)?"), ("-----begin",), REDACTED),
    (re.compile(r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), ("eyj",), REDACTED),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}"), ("bearer",), REDACTED),
    (re.compile(r"://[^:/@\s\"\\]+:[^@/\s\"\\]+@"), ("://",), f"://{REDACTED}@"),  # user:password@ in URLs
    (re.compile(r"(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,}"), ("xox", "xapp-"), REDACTED),  # Slack tokens
    (re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"), ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), REDACTED),              # GitHub tokens
    (re.compile(r"github_pat_[A-Za-z0-9_]{30,}"), ("github_pat_",), REDACTED),
    (re.compile(r"sk_live_[A-Za-z0-9]{16,}"), ("sk_live_",), REDACTED),                # Stripe
    (re.compile(r"sk-ant-[A-Za-z0-9_-]{16,}"), ("sk-ant-",), REDACTED),               # Anthropic
    (re.compile(r"(?i)hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{8,}"),
     ("hooks.slack.com",), REDACTED),
    (re.compile(r"(?i)events\.(?:eu\.)?pagerduty\.com/(?:integration|x-ere)/[A-Za-z0-9]{16,}"),
     ("pagerduty.com",), REDACTED),
]
PATTERNS = [pattern for pattern, _, _ in SHAPES]
# An AWS secret access key standing alone: 40 characters of base64 with both cases
# and a digit or symbol (a lower-case git SHA is not one). Refused as a parameter
# value; too common a shape to redact from free text without its label.
AWS_SECRET_KEY = re.compile(r"(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9/+])[A-Za-z0-9/+]{40}")

_SECRET_NAMES = re.compile(r"(?i)(password|passwd|secret_value|private_key|api_key|access_key|token$)")
# Environment variable names that hold secrets (set_env items, task definitions).
_SECRET_ENV_NAMES = re.compile(r"(?i)(passw|passphrase|secret|token|credential|private|api_?key|"
                               r"access_?key|_key$|^key$|_pwd$|^pwd$|auth)")

_REGISTERED: set[str] = set()


def looks_secret_value(value) -> bool:
    if isinstance(value, (list, tuple)):
        return any(looks_secret_value(v) for v in value)
    if isinstance(value, dict):
        return any(looks_secret_value(v) or looks_secret_value(k) for k, v in value.items())
    if not isinstance(value, str):
        return False
    return any(p.search(value) for p in PATTERNS) or bool(AWS_SECRET_KEY.fullmatch(value.strip()))


def looks_secret_name(name: str) -> bool:
    return bool(_SECRET_NAMES.search(name))


def looks_secret_env_name(name: str) -> bool:
    """A variable name that says it holds a secret (DB_PASSWORD, STRIPE_KEY …)."""
    return bool(_SECRET_ENV_NAMES.search(name))


# registration ----------------------------------------------------------------------

def leaves(value: str) -> list[str]:
    """The value, each leaf inside it when it is JSON (a password field), and the path
    and query of each URL among them (a webhook's credential is its path; an HTTP
    client's error prints "url: /hooks/…" without the host)."""
    return [*(found := _json_leaves(value)), *(part for v in found for part in _url_parts(v))]


def _url_parts(value: str) -> list[str]:
    from urllib.parse import urlsplit

    if "://" not in value:
        return []
    try:
        url = urlsplit(value.strip())
    except ValueError:
        return []
    if url.scheme not in ("http", "https") or not url.netloc:
        return []
    return [p for p in (url.path + (f"?{url.query}" if url.query else ""), url.path, url.query) if p.strip("/")]


def _json_leaves(value: str) -> list[str]:
    try:
        parsed = json.loads(value)
    except ValueError:
        return [value]
    found = [value]
    stack = [parsed]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            found.append(str(node))  # a PIN or numeric token prints as its digits
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def register(value: str) -> list[str]:
    """Redact `value` (and its JSON leaves) from this process's output and, in a
    headless run, from the run's evidence. Returns the parts too short to redact:
    the value itself, or a JSON leaf under a secret-sounding key (a password; a
    short user name or port is no secret)."""
    parts = leaves(value)
    new = [p for p in parts if len(p) >= MIN_SECRET_LEN and p not in _REGISTERED]
    _REGISTERED.update(new)
    if new:
        _seal(new)
    return [p for p in [value, *_secret_leaves(value)] if p and len(p) < MIN_SECRET_LEN]


# What the operator brings: credentials in this process's environment and files ---------

# Names that say secret but hold an identifier, a path or a switch, not a credential.
# Names that look secret but hold none: PWD/OLDPWD are the shell's working directories
# ("pwd" reads as password), not a credential; registering them redacted every path.
_NOT_CREDENTIALS = re.compile(r"(?i)(^AWS_ACCESS_KEY_ID$|_(FILE|PATH|DIR|SOCK|SOCKET|ID|URI_PREFIX)$|^SSH_AUTH_SOCK$"
                              r"|^(OLD)?PWD$)")


def operator_credentials(environ=None) -> list[str]:
    """Every credential this process can see: each environment variable whose name says
    secret (AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, PGPASSWORD, GITHUB_TOKEN …), the
    password of each URL or libpq conninfo in the environment (DATABASE_URL), the
    secret keys and session tokens of the AWS shared credentials file's profiles, and
    the passwords of ~/.pgpass. Registered at start, so nothing a draft prints of them
    reaches the evidence."""
    environ = os.environ if environ is None else environ
    found = [v for k, v in environ.items() if looks_secret_env_name(k) and not _NOT_CREDENTIALS.search(k)]
    found += [pw for v in environ.values() for pw in _passwords_in(v)]
    found += _aws_file_secrets(environ) + _pgpass_passwords(environ)
    return sorted({v.strip() for v in found if v and v.strip()})


def register_operator(environ=None) -> None:
    for value in operator_credentials(environ):
        register(value)


def _passwords_in(value: str) -> list[str]:
    """The password of a URL (the userinfo before its host) or a conninfo (password=…)."""
    from urllib.parse import unquote, urlsplit

    out = []
    if "://" in value and "@" in value:
        try:
            password = urlsplit(value.strip()).password
        except ValueError:
            password = None
        out += [password, unquote(password)] if password else []
    out += [m.group(1) or m.group(2) for m in re.finditer(r"\bpassword\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))", value)]
    return [p for p in out if p]


def _aws_file_secrets(environ) -> list[str]:
    import configparser

    path = environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.expanduser("~/.aws/credentials")
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return []
    return [v for section in parser.sections() for k, v in parser.items(section)
            if k in ("aws_secret_access_key", "aws_session_token", "aws_security_token")]


def _pgpass_passwords(environ) -> list[str]:
    path = environ.get("PGPASSFILE") or os.path.expanduser("~/.pgpass")
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    # host:port:database:user:password, with \: and \\ escaped
    fields = [re.split(r"(?<!\\):", line, maxsplit=4) for line in lines if line.strip() and not line.startswith("#")]
    return [f[4].replace("\\:", ":").replace("\\\\", "\\") for f in fields if len(f) == 5]


def _secret_leaves(value: str) -> list[str]:
    try:
        parsed = json.loads(value)
    except ValueError:
        return []
    found, stack = [], [parsed]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, v in items:
            if isinstance(v, str) and looks_secret_env_name(str(key)):
                found.append(v)
            elif isinstance(v, (dict, list)):
                stack.append(v)
    return found


def registered() -> frozenset[str]:
    return frozenset(_REGISTERED)


def _seal(values: list[str]) -> None:
    key = os.environ.get(REDACT_KEY_ENV)
    if not key or not os.environ.get("ROVN_RESULT_FILE"):
        return
    from cryptography.fernet import Fernet

    from rovn_ops.core import record

    f = Fernet(key.encode())
    record.record(redact_sealed=[f.encrypt(v.encode()).decode() for v in values])


def new_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def unseal(tokens: list[str], key: str) -> list[str]:
    """The values a kernel registered, from the result file's sealed copies."""
    from cryptography.fernet import Fernet, InvalidToken

    f, out = Fernet(key.encode()), []
    for t in tokens:
        try:
            out.append(f.decrypt(t.encode()).decode())
        except (InvalidToken, ValueError):
            continue  # not sealed with this run's key: nothing of ours to redact
    return out


# derived forms ---------------------------------------------------------------------

def _base64_forms(data: bytes) -> set[str]:
    """base64 of `data` wherever it sits in a longer byte string: for each of the
    three alignments, the characters that depend on `data` alone."""
    out = set()
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + data).decode()
        start = 4 if shift else 0
        end = 4 * ((shift + len(data)) // 3)
        core = enc[start:end]
        out.add(core)
        if shift == 0:
            out.add(enc)  # standalone, with its padding
    return out | {s.replace("+", "-").replace("/", "_") for s in out}


def forms(value: str, encoded: bool = True) -> set[str]:
    """The ways a value is commonly printed or encoded (`encoded`: base64 and hex too)."""
    escaped = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
               repr(value)[1:-1], value.encode("unicode_escape").decode()}
    out = set(escaped)
    for e in escaped:
        out |= {html.escape(e), html.escape(e, quote=False)}
    out |= {quote(value, safe=""), quote(value), quote_plus(value, safe="")}
    if encoded:
        data = value.encode()
        out |= _base64_forms(data)
        out.add(data.hex())
    return {f for f in out if len(f) >= MIN_SECRET_LEN}


# redaction -------------------------------------------------------------------------

class Redactor:
    """Registered values (this process's, plus `values`) in every derived form, then
    the secret-shaped SHAPES. Matching is one Aho-Corasick pass (ahocorasick-rs) over
    the UTF-8 bytes, ASCII-case-insensitive; the forms include each value upper- and
    lower-cased, which covers non-ASCII letters too."""

    def __init__(self, values=()):
        known = {v for v in values if len(v) >= MIN_SECRET_LEN} | _REGISTERED
        # matching ignores ASCII case; the upper- and lower-cased texts cover other letters
        base = {f for v in known for v in leaves(v) if len(v) >= MIN_SECRET_LEN
                for f in forms(v) | forms(v.upper(), False) | forms(v.lower(), False)}
        self.needles = sorted({f.encode().lower() for f in base}, key=len, reverse=True)
        # the same forms as they appear inside a JSON document's strings
        self.doc_needles = sorted({json.dumps(f.decode(), ensure_ascii=False)[1:-1].encode()
                                   for f in self.needles}, key=len, reverse=True)
        self._text = _automaton(self.needles)
        self._doc = _automaton(self.doc_needles)

    def __bool__(self) -> bool:
        return bool(self.needles)

    def text(self, text: str) -> str:
        return _patterns(*_replace(text, self._text))

    def tree(self, node):
        """Every string in a JSON-like tree (a manifest, audit details), scrubbed."""
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, list):
            return [self.tree(v) for v in node]
        if isinstance(node, dict):
            return {k: self.tree(v) for k, v in node.items()}
        return node

    def document(self, doc: str) -> str:
        """A serialized JSON document (ensure_ascii=False), scrubbed in one pass over
        its text; falls back to string by string should a match cross a quote."""
        out = _patterns(*_replace(doc, self._doc))
        if out == doc:
            return doc
        try:
            json.loads(out)
            return out
        except ValueError:
            return json.dumps(self.tree(json.loads(doc)), ensure_ascii=False)


_CURRENT: list = []


def current() -> "Redactor":
    """This process's registered values, as one Redactor (rebuilt when one is added)."""
    if not _CURRENT or _CURRENT[0][0] != len(_REGISTERED):
        _CURRENT[:] = [(len(_REGISTERED), Redactor())]
    return _CURRENT[0][1]


def _automaton(needles: list[bytes]):
    if not needles:
        return None
    import ahocorasick_rs

    return ahocorasick_rs.BytesAhoCorasick(needles)


def _replace(text: str, automaton) -> tuple[str, bytes]:
    """Every needle occurrence (overlaps merged) replaced by REDACTED; returns the
    text and its lowered bytes as they were before (for the SHAPES' literal checks)."""
    data = text.encode("utf-8", "surrogatepass")
    low = data.lower()
    if automaton is None:
        return text, low
    spans = automaton.find_matches_as_indexes(low, overlapping=True)
    if not spans:
        return text, low
    merged: list[list[int]] = []
    for _, start, end in sorted(spans, key=lambda m: m[1]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, last, mark = [], 0, REDACTED.encode()
    for start, end in merged:
        out += [data[last:start], mark]
        last = end
    out.append(data[last:])
    return b"".join(out).decode("utf-8", "surrogatepass"), low


_TRIGGERS: list = []


def _present(low: bytes) -> set[str]:
    """Which SHAPES literals occur, in one Aho-Corasick pass (faster than a substring
    test per literal on a large document)."""
    if not _TRIGGERS:
        import ahocorasick_rs

        literals = sorted({t for _, needs, _ in SHAPES for t in needs})
        _TRIGGERS[:] = [literals, ahocorasick_rs.BytesAhoCorasick([t.encode() for t in literals])]
    literals, automaton = _TRIGGERS
    return {literals[i] for i, _, _ in automaton.find_matches_as_indexes(low, overlapping=True)}


def _patterns(text: str, low: bytes) -> str:
    """The secret shapes; `low` is the text's bytes lowered before any redaction (a
    superset of what remains), to skip the shapes whose literals it lacks."""
    present = _present(low)
    for pattern, needs, replacement in SHAPES:
        if present.intersection(needs):
            text = pattern.sub(replacement, text)
    return text


def redact(text: str, known=()) -> str:
    """Known values (and this process's registered ones) and secret-shaped strings."""
    return (Redactor(known) if known else current()).text(text)

