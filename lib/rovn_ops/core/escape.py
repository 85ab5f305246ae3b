"""One escaping rule per output kind. Every string from the world (file names, log
lines, Sentry titles, commit messages, branch names, event messages, parameters) is
untrusted; the code that renders a value into an output applies that output's rule
here, so no caller has to remember to.

- `html`: text inside an element or a quoted attribute.
- `script_json`: a value embedded as JSON inside <script> (no `<`, `>`, `&` or U+2028/9
  survive, so neither `</script>` nor `<!--<script>` can end or bend the script).
- `markdown`: text inside Markdown (a table cell, a bullet, a heading): HTML is
  entity-escaped, Markdown punctuation backslash-escaped, line breaks flattened, so a
  value can neither open a tag, a link, a heading, a list nor a new table row (and
  control characters are shown as `terminal` shows them).
- `code`: text inside a Markdown code span: backticks cannot close it.
- `terminal`: text for a terminal or a CI log: ANSI escape sequences and other control
  characters are shown as \\x.. escapes, never obeyed.
"""
from __future__ import annotations

import html as _html
import json
import re

# Markdown punctuation that can start emphasis, code, a table cell, strike-through or a
# heading; a `]` only where it could close a link, an image or a reference ("](", "]:",
# "]["), so a scrubber's [REDACTED:email] still reads as itself in the raw text; an `_`
# only at a word's edge (GFM never makes intraword underscores emphasis: service_status).
_MD_SPECIAL = re.compile(r"([\\`*|~#]|\](?=[(:\[])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def html(value) -> str:
    return _html.escape(str(value), quote=True)


def script_json(value) -> str:
    return (json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def markdown(value) -> str:
    text = terminal(" ".join(str(value).split()))  # one line: no new block, heading or table row; no ESC
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def code(value) -> str:
    """`…` around this is a code span showing `value` literally (Markdown shows no HTML
    inside a code span); a backtick inside becomes a lookalike (ʼ) so it cannot close it."""
    return terminal(" ".join(str(value).split())).replace("`", "\u02bc") or " "


def terminal(value) -> str:
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), str(value))
