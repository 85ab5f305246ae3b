"""A notebook cell's source, read two ways the evidence needs: as one string (nbformat
stores it as a string or a list of lines), and as "parameter values only" (a parameters
cell as an operator edits it). The recorder, the as-run notebook and the manifest all
read cells so; this room sits below them, so their arrows run one way."""
from __future__ import annotations

import ast


def text(source) -> str:
    """nbformat's multi-line string (a list of lines, or one string) as one string."""
    return "".join(source) if isinstance(source, list) else source


def values_only(source: str) -> bool:
    """Parameter values and nothing else (`name = literal` lines): a parameters cell."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return bool(body) and all(_a_value(node) for node in body)


def _a_value(node) -> bool:
    """`name = literal` or `name: type = literal`: a parameter's value, no code."""
    if isinstance(node, ast.Assign):
        targets, value = node.targets, node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets, value = [node.target], node.value
        if not (isinstance(node.annotation, ast.Name) or isinstance(node.annotation, ast.Subscript)
                and isinstance(node.annotation.value, ast.Name)):
            return False
    else:
        return False
    try:
        ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return all(isinstance(t, ast.Name) for t in targets)
