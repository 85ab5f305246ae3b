"""Digits and words in our patterns are ASCII (issue 20, break 4): Python's `\\d` and `\\w`,
and pydantic-core's (Rust regex: Unicode by default), match full-width `２` and Arabic-Indic
`٢`, so `image_tag=prod-２０２６…` passed validation and failed later, in ECR.

The rule, held for the whole library: a regex with `\\d`, `\\w` or `\\b` is compiled with
re.ASCII; a pydantic `pattern=` spells its classes ([0-9], [A-Za-z0-9_]). The detectors
of personal data and secrets in the world's text (safety/personal_data.py, scrub.py) are
the exception: there a Unicode digit is still a digit of an SSN, and wider is safer.
"""
import ast
import re
from pathlib import Path

import pytest

from rovn_ops.core.errors import BadInput
from rovn_ops.safety import params

LIB = Path(__file__).resolve().parents[2] / "lib" / "rovn_ops"
DETECTORS = {"safety/personal_data.py", "safety/scrub.py"}
UNICODE_CLASS = re.compile(r"(?<!\\)(?:\\\\)*\\[dwbDWB]")
RE_CALLS = {"compile", "fullmatch", "match", "search", "sub", "subn", "split", "finditer", "findall"}
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _literal(node, constants: dict) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.BinOp):  # re.escape(x) + r"(\d…)"
        return "".join(s for s in (_literal(node.left, constants), _literal(node.right, constants)) if s)
    return None


def _ascii_flag(call: ast.Call) -> bool:
    return any("ASCII" in ast.unparse(a) or ast.unparse(a).endswith("re.A") for a in [*call.args[1:], *(
        k.value for k in call.keywords if k.arg == "flags")])


def unicode_patterns() -> list[str]:
    found = []
    for path in sorted(LIB.rglob("*.py")):
        rel = path.relative_to(LIB).as_posix()
        if rel in DETECTORS:
            continue
        tree = ast.parse(path.read_text())
        constants = {t.id: n.value.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                     and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
                     for t in n.targets if isinstance(t, ast.Name)}
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            f = call.func
            if isinstance(f, ast.Attribute) and f.attr in RE_CALLS and ast.unparse(f.value) == "re" and call.args:
                text = _literal(call.args[0], constants)
                if text and UNICODE_CLASS.search(text) and not _ascii_flag(call):
                    found.append(f"{rel}:{call.lineno} re.{f.attr}({text[:50]!r}) without re.ASCII")
            for k in call.keywords:
                text = _literal(k.value, constants) if k.arg == "pattern" else None
                if text and UNICODE_CLASS.search(text):
                    found.append(f"{rel}:{call.lineno} pattern={text[:50]!r} (pydantic-core: Unicode classes)")
    return found


def test_every_regex_of_the_library_means_ascii_digits_and_words():
    assert unicode_patterns() == []


def test_the_scan_sees_a_unicode_digit_class():
    assert UNICODE_CLASS.search(r"^prod-\d{12}") and not UNICODE_CLASS.search(r"^prod-[0-9]{12}\\d")


@pytest.mark.parametrize("runbook, name, value", [
    ("deploy", "image_tag", "prod-20261127031500-fix"),
    ("deploy", "image_tag", "prod-202605270526"),
    ("rollback", "to_revision", "rovn-passport-api:288"),
    ("incident_triage", "business_hours", "09:00-18:00"),
    ("migration_reversal", "migration", "0011_add_worker_npi.sql"),
    ("service_status", "region", "us-east-2"),
])
def test_full_width_digits_are_refused_where_ascii_ones_pass(runbook, name, value):
    params.resolve(runbook, "sandbox", assignments=[f"{name}={value}"])
    for digits in (str.maketrans("0123456789", "０１２３４５６７８９"), str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")):
        with pytest.raises(BadInput, match=f"parameter '{name}'"):
            params.resolve(runbook, "sandbox", assignments=[f"{name}={value.translate(digits)}"])
