"""The tests' reset (`control.reset`, before most test cases): restoring the world the
seed kept (moto's pickled backends, a template database, a copied checkout) against
seeding it all anew as every reset did before (moto-api reset, the world through
moto's HTTP API, git init and push, the database's migrations and rows), both over
the sandbox's control API in the same sandbox, interleaved.

As in the suite, each timed restore follows a test: a short pause (the sandbox makes
the next reset's database meanwhile) and a few writes (a task definition, a secret
version, a file in the checkout). The baseline leaves out what a full reset spends
keeping the new seed (the sandbox reports its steps' times), which the old reset did
not do. Target ratio <= 0.25."""
from __future__ import annotations

import time
from pathlib import Path

import boto3
from common import report, with_sandbox

from rovn_sandbox import control

TEST_S = 0.5


def _a_test(state: dict) -> None:
    c = lambda svc: boto3.client(svc, region_name=state["region"], endpoint_url=state["endpoint"],  # noqa: E731
                                 aws_access_key_id=state["access_key_id"],
                                 aws_secret_access_key=state["secret_access_key"])
    c("ecs").register_task_definition(family="bench-reset", containerDefinitions=[
        {"name": "app", "image": "busybox", "memory": 128}])
    c("secretsmanager").put_secret_value(SecretId="rovn/prod/sentry-api-token", SecretString="bench")
    (Path(state["source_dir"]) / "BENCH.md").write_text("a test's file\n")
    time.sleep(TEST_S)


def _timed_reset(state: dict, full: bool) -> float:
    t = time.perf_counter()
    steps = control.reset(state, full=full)
    return time.perf_counter() - t - steps.get("keep", 0.0)


def main(runs: int = 9) -> dict:
    state = control.require()
    ours, base = [], []
    for _ in range(runs):
        _a_test(state)
        base.append(_timed_reset(state, full=True))
        control.reset(state)  # the spare the full reset started is ready; the next is started
        _a_test(state)
        ours.append(_timed_reset(state, full=False))
    control.reset(state, full=True)  # leave a world seeded the ordinary way
    return report("sandbox reset after a test (restore the kept seed vs seed anew)", ours, base,
                  "ratio <= 0.25")


if __name__ == "__main__":
    with_sandbox(main)
