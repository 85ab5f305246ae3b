"""Personal data and credentials in free text (log lines, error titles, a post-mortem):
shown only after `redact`. The evidence scrubber (scrub.py) removes secret values
and secret-shaped strings from everything archived; this goes further for text that
quotes users: emails, phone numbers (US and international), SSN-like numbers (dashed,
spaced, or nine digits after an `ssn` label), labelled identifiers (patient, name, DOB,
address, MRN), key=value credentials, AWS secret access keys and long random tokens,
each replaced by a marker naming what was there.

Order matters: a key=value credential is caught whole before its value could look
like anything else, and an SSN before a phone number."""
from __future__ import annotations

import re

from rovn_ops.safety.scrub import redact as redact_secrets

PATTERNS = [
    ("credential", re.compile(r"(?i)\b((?:access|api|auth|refresh|session|secret)?[_-]?(?:token|key|secret|password"
                              r"|passwd|authorization))(\"?\s*[:=]\s*\"?)(?:bearer\s+)?[^\s\"',;}&]+")),
    # HIPAA identifiers named by a label: the value runs to the next delimiter or label.
    # `patient` and `DOB` need no separator ("patient John Q Public DOB 1980-02-03");
    # the commoner words need one, so "invalid name given" stays readable.
    ("identifier", re.compile(r"(?i)\b(patient|dob|date_?of_?birth|birth_?date|mrn"
                              r"|(?:full_?|first_?|last_?|patient_?)?name(?=\"?\s*[:=])|address(?=\"?\s*[:=]))\b"
                              r"(\"?\s*[:=]?\s*\"?)(?!\[REDACTED)[^\s\",;}&=][^\",;}&=\n]*?"
                              r"(?=\s+\w+\s*[:=]|\s+(?:dob|ssn|mrn|phone|email)\b|[\",;}&\n]|$)")),
    ("ssn", re.compile(r"(?i)(?<=ssn)[\"'\s:=#]*\d{9}(?!\d)")),
    ("npi", re.compile(r"(?i)(?<=npi)[\"'\s:=#]*\d{10}(?!\d)")),
    ("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    ("ssn", re.compile(r"(?<![\w-])\d{3}([- .])\d{2}\1\d{4}(?![\w-])")),
    # international (E.164-style): a +country code, then 7 to 13 more digits in groups
    ("phone", re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?!\w)")),
    ("phone", re.compile(r"(?<![\w+])(?:\+?1[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}(?!\w)")),
    # 40 characters of base64 with both cases and a digit or symbol, standing alone
    ("aws secret key", re.compile(r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]{0,39}[a-z])(?=[A-Za-z0-9/+]{0,39}[A-Z])"
                                  r"(?=[A-Za-z0-9/+]{0,39}[0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")),
    # a long random-looking run: one part (between - and _) of 20+ letters and digits mixed
    ("token", re.compile(r"(?<![\w-])[A-Za-z0-9_-]*(?=[A-Za-z0-9]{0,200}?\d)(?=[A-Za-z0-9]{0,200}?[A-Za-z])"
                         r"[A-Za-z0-9]{20,}[A-Za-z0-9_-]*(?![\w-])")),
]


def redact(text: str) -> str:
    text = redact_secrets(text)
    for kind, pattern in PATTERNS:
        if kind in ("credential", "identifier"):
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}[REDACTED:{kind}]", text)
        else:
            text = pattern.sub(f"[REDACTED:{kind}]", text)
    return text


# PHI-shaped data in a line the app logged (§5: logs are PHI-scrubbed before write, so
# any such line is the scrubber failing, and §6 makes suspected PHI exposure a P0).
# What is found is named by kind only: the value never leaves this function.
_NPI = re.compile(r"(?<!\d)[12]\d{9}(?!\d)")
_NPI_WORD = re.compile(r"(?i)npi")
_SSN = [p for kind, p in PATTERNS if kind == "ssn"]
_DOB = re.compile(r"(?i)\b(?:dob|date_?of_?birth|birth_?date)\b[\"'\s:=]*(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4})")
_NAME = re.compile(r"(?i)\b(?:patient(?:_?name)?|(?:full|first|last|given|family)_?name|name)\b[\"'\s]*[:=]?[\"'\s]*"
                   r"[A-Za-z][A-Za-z.'-]+")


def npi_valid(digits: str) -> bool:
    """The NPI's check digit: Luhn over the 9 digits prefixed with 80840 (CMS, "NPI
    check digit", https://www.cms.gov/Regulations-and-Guidance/Administrative-Simplification/NationalProvIdentStand/Downloads/NPIcheckdigit.pdf)."""
    body = "80840" + digits[:9]
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10 == int(digits[9])


def phi_kinds(text: str) -> set[str]:
    """The kinds of PHI-shaped data in `text`: an NPI (a check-digit-valid 10-digit
    number in a line that says NPI; a bare 10-digit number is as likely a timestamp),
    an SSN, a date of birth with a name beside it."""
    found = set()
    if _NPI_WORD.search(text) and any(npi_valid(m.group()) for m in _NPI.finditer(text)):
        found.add("npi")
    if any(p.search(text) for p in _SSN):
        found.add("ssn")
    if _DOB.search(text) and _NAME.search(text):
        found.add("dob with name")
    return found
