"""Semantic conformance: each row is a call, its input and the behaviour the AWS API
reference documents for it, with the page it came from. A row's `expect` is the error
code AWS answers with (a string), or a check of the answer (a function of the
response and the row's context); `setup` prepares the world first (on a freshly reset
sandbox, every row). `python -m pytest tests/conformance` runs them all."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import botocore.exceptions
import pytest

REFERENCE = "https://docs.aws.amazon.com/"


@dataclass
class Row:
    id: str
    url: str                       # the AWS API reference page the behaviour is from
    service: str                   # boto3 client name
    call: str                      # boto3 method
    params: dict | Callable[[Any], dict] = field(default_factory=dict)
    expect: str | Callable[[dict, Any], None] = ""   # an AWS error code, or a check
    setup: Callable[[Any], None] | None = None
    validate: bool = True          # False: botocore sends what it is given (malformed input reaches AWS)

    def __post_init__(self):
        assert self.url.startswith(REFERENCE), f"{self.id}: cite the AWS reference page"


class Context:
    """What a row's setup and check see: clients on the sandbox, the sandbox, and what
    setup left for the check (attributes)."""

    def __init__(self, sandbox: dict, client):
        self.sandbox, self.client = sandbox, client


def run(row: Row, sandbox: dict, client) -> None:
    ctx = Context(sandbox, client)
    if row.setup:
        row.setup(ctx)
    params = row.params(ctx) if callable(row.params) else row.params
    method = getattr(client(row.service, validate=row.validate), row.call)
    if isinstance(row.expect, str):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            method(**params)
        code = e.value.response["Error"]["Code"]
        status = e.value.response["ResponseMetadata"]["HTTPStatusCode"]
        assert code == row.expect, f"{row.id}: AWS answers {row.expect}, the sandbox {code} (HTTP {status})"
        assert 400 <= status < 500, f"{row.id}: a client error is a 4xx, the sandbox answered HTTP {status}"
        return
    row.expect(method(**params), ctx)


def rows(table: list[Row]):
    """pytest parameters, one per row, named by its id."""
    ids = [r.id for r in table]
    assert len(ids) == len(set(ids)), "row ids must be unique"
    return pytest.mark.parametrize("row", table, ids=ids)
