import boto3
import botocore.config
import pytest

from rovn_sandbox import control


@pytest.fixture
def client(fresh):
    """boto3 clients on a freshly reset sandbox, without retries: a 500 shows as a 500."""
    def make(service: str, validate: bool = True):
        config = botocore.config.Config(retries={"total_max_attempts": 1}, parameter_validation=validate)
        return boto3.client(service, region_name=fresh["region"], endpoint_url=fresh["endpoint"],
                            aws_access_key_id=fresh["access_key_id"],
                            aws_secret_access_key=fresh["secret_access_key"], config=config)
    return make


@pytest.fixture
def paused(fresh):
    """The sandbox's clock, stopped: a row moves it (control.clock advance_s) as it needs."""
    control.clock(fresh, paused=True)
    return fresh
