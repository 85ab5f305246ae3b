"""SQL statements of a migration, parsed with sqlglot (postgres dialect), each with
its line number in the file. Splitting uses sqlglot's tokenizer, so semicolons in
strings, comments and $$-bodies are never mistaken for statement ends."""
from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

DIALECT = "postgres"


@dataclass(frozen=True)
class Statement:
    line: int
    text: str
    tree: exp.Expression
    tokens: tuple[str, ...]  # upper-cased leading keywords, for statements sqlglot keeps as Command

    def starts_with(self, *words: str) -> bool:
        return self.tokens[: len(words)] == words


def statements(sql: str) -> list[Statement]:
    tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)
    chunks, current = [], []
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            if current:
                chunks.append(current)
            current = []
        else:
            current.append(tok)
    if current:
        chunks.append(current)
    result = []
    for chunk in chunks:
        text = sql[chunk[0].start: chunk[-1].end + 1]
        words = tuple(t.text.upper() for t in chunk[:4])
        result.append(Statement(chunk[0].line, text, _parse(text), words))
    return result


def _parse(text: str) -> exp.Expression:
    import logging

    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to Command" is expected
    return sqlglot.parse_one(text, dialect=DIALECT)


def table_name(node) -> str | None:
    table = node if isinstance(node, exp.Table) else node.find(exp.Table)
    return table.name if table is not None else None
