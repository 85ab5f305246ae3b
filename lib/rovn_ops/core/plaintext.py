"""The plain-text form of what a cell leaves as its result. JupyterLab and the
archived HTML show the Markdown; papermill's logs, `jupyter nbconvert --to script`,
a terminal console and anything reading `text/plain` get this short text instead of a
dataclass dump or `<object at 0x…>`."""
from __future__ import annotations

import html
import re


def from_markdown(markdown: str) -> str:
    """Markdown as a person would type it in a terminal: no heading marks, emphasis,
    code ticks or fences; tables keep their rows, without the |---| rule."""
    out = []
    for line in markdown.strip().splitlines():
        if line.startswith("```") or re.fullmatch(r"\|?[-|: ]+\|?", line.strip() or "x"):
            continue
        line = re.sub(r"^#{1,6}\s*", "", line)
        line = re.sub(r"(?<!\\)(\*\*|`)", "", line)
        line = html.unescape(re.sub(r"\\([\\`*_\]|~#])", r"\1", line))  # escape.markdown's, undone
        out.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out))


def markdown_repr(self) -> str:
    """`__repr__ = plaintext.markdown_repr` in a class that has `_repr_markdown_`."""
    return from_markdown(self._repr_markdown_())


class Note:
    """A cell's closing message: Markdown for people, the same words as plain text."""

    def __init__(self, markdown: str):
        self.markdown = markdown

    def _repr_markdown_(self) -> str:
        return self.markdown

    __repr__ = markdown_repr
