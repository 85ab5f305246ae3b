import os

import pytest


@pytest.fixture
def in_process(monkeypatch):
    """moto in this process (mock_aws), not the session's sandbox server."""
    for k in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(k)
