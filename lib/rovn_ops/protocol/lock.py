"""One change at a time (issue 20, class 8): a per-target lock held from execute to verify.

Two deploys of one service started 1.3 s apart both passed their previews (the service
was steady for each) and both executed. `protocol.Change.execute` now takes the plan's
lock first, then re-derives the plan under it: the second run is refused while the first
holds the lock (naming the run, its operator and since when), and once the first is done
its re-derived plan no longer matches what was approved (the service has moved).

The lock is a PostgreSQL session advisory lock on a connection of its own, so it lives
exactly as long as the run's kernel: a kernel killed mid-deploy releases it, and the
re-run that resumes the deploy takes it again. Who holds it is read from that session's
`application_name` and its start (pg_stat_activity), which the lock's session sets.

A session can also end under a live run (a failover, an idle timeout, an administrator's
pg_terminate_backend): the lock goes with it, silently, and another change may start.
`check` asks the lock's own session whether it still holds the lock; the protocol calls
it before verify and stops the change with one line (LockLost) when it does not.
"""
from __future__ import annotations

import hashlib

from rovn_ops.core.errors import Refused, RovnError


class LockLost(RovnError):
    """The lock's session ended mid-change: the change may be half made and another one
    may have started, so it stops unverified (exit 1, a failure mid-change)."""


def key_of(name: str) -> int:
    """A stable signed 64-bit advisory lock key for the lock's name."""
    return int.from_bytes(hashlib.sha256(f"rovn-change:{name}".encode()).digest()[:8], "big", signed=True)


def service(cluster: str, name: str) -> str:
    """The lock of an ECS service: every change that moves its deployments takes it."""
    return f"ecs:{cluster}/{name}"


class ChangeLock:
    def __init__(self, name: str, conn):
        self.name, self.conn, self.key = name, conn, key_of(name)

    @classmethod
    def take(cls, name: str, run_id: str, who: str, connect=None) -> "ChangeLock":
        """Take the lock on a new session, or raise Refused naming its holder."""
        from rovn_ops.clients import db

        conn = (connect or db.connect)()
        label = f"{run_id} by {who}"[:63]  # NAMEDATALEN - 1: the run id first, it names the rest
        conn.execute("SELECT set_config('application_name', %s, false)", [label])
        if conn.execute("SELECT pg_try_advisory_lock(%s)", [key_of(name)]).fetchone()[0]:
            return cls(name, conn)
        holder = cls.holder(conn, name)
        conn.close()
        raise Refused(f"another change of {name} is under way: {holder}; one change at a time: wait until it "
                      "has verified and logged, then preview again")

    @staticmethod
    def holder(conn, name: str) -> str:
        """Who holds the lock, since when, as one phrase."""
        key = key_of(name)
        row = conn.execute(
            "SELECT a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::bigint::oid "
            "AND l.objid = %s::bigint::oid AND l.objsubid = 1",
            [(key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF]).fetchone()
        if not row:
            return "its holder is not visible to this role"
        who = row[0] or "a session without a name"
        return f"run {who} has held its lock since {row[1].isoformat(timespec='seconds')}"

    def check(self) -> None:
        """Raise LockLost unless this lock's session is alive and still holds the lock."""
        import psycopg

        why = "its session was closed"
        if self.held:
            key = self.key
            try:
                row = self.conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND classid = %s::bigint::oid AND objid = %s::bigint::oid "
                    "AND objsubid = 1", [(key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF]).fetchone()
                if row[0]:
                    return
                why = "its session no longer holds it"
            except psycopg.Error as e:  # terminated, or the connection dropped
                why = f"its database session ended ({type(e).__name__})"
                self.conn.close()
        raise LockLost(f"the change lock of {self.name} was lost mid-change ({why}): another change may have "
                       "started, so this one stops not verified; check the target (rovn-ops run service_status) "
                       "and audit_log before anything else")

    def release(self) -> None:
        if self.conn is not None and not self.conn.closed:
            self.conn.close()  # the session ends: the lock with it
        self.conn = None

    @property
    def held(self) -> bool:
        return self.conn is not None and not self.conn.closed
