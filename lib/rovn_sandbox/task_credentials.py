"""What the service's running tasks hold: ECS injects a task's secrets when it starts,
so each task keeps the database credentials that were AWSCURRENT at its start. The
app's /health reports `db: ok` only while every running task's credentials still
log in to the real PostgreSQL: a rotation that breaks the running service shows.

The rollout simulator's tick is wrapped: after each poll, tasks that started take the
secret's current value, tasks that stopped drop theirs."""
from __future__ import annotations

import json
import threading

from rovn_sandbox import ecs_rollout

ACCOUNT = "123456789012"


class Captures:
    def __init__(self, region: str, cluster: str, service: str, secret: str):
        self.region, self.key, self.secret = region, f"{cluster}:{service}", secret
        self.by_deployment: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.by_deployment.clear()

    def _current(self) -> str:
        from moto.secretsmanager.models import secretsmanager_backends

        backend = secretsmanager_backends[ACCOUNT][self.region]
        return backend.get_secret_value(self.secret, None, "AWSCURRENT")["SecretString"]

    def observe(self, svc) -> None:
        """Tasks that started since the last look take today's value; stopped ones drop theirs."""
        with self.lock:
            live = {}
            for d in svc.deployments:
                held = self.by_deployment.get(d["id"], [])
                n = d["runningCount"] + d["pendingCount"]
                held = held[:n] + [self._current()] * max(0, n - len(held))
                live[d["id"]] = held
            self.by_deployment = live

    def observe_now(self) -> None:
        from moto.ecs.models import ecs_backends

        with ecs_rollout._lock:
            svc = ecs_backends[ACCOUNT][self.region].services.get(self.key)
            if svc is not None:
                self.observe(svc)

    def held(self) -> list[str]:
        with self.lock:
            return [v for values in self.by_deployment.values() for v in values]

    def db_status(self) -> str:
        """"ok", or how many running tasks hold credentials that no longer log in."""
        from rovn_ops.clients.db import connect_with

        self.observe_now()
        held = self.held()
        failing = 0
        for value in set(held):
            try:
                with connect_with(json.loads(value), connect_timeout=3) as conn:
                    conn.execute("SELECT 1")
            except Exception:  # noqa: BLE001 - a task that cannot log in is the finding
                failing += held.count(value)
        return "ok" if not failing else f"failing: {failing} of {len(held)} tasks cannot log in"


def install(captures: Captures) -> None:
    tick = ecs_rollout.tick

    def tick_and_observe(svc):
        tick(svc)
        if f"{svc.cluster_name}:{svc.name}" == captures.key:
            captures.observe(svc)

    ecs_rollout.tick = tick_and_observe
