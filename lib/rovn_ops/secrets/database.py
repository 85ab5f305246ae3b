"""Database credentials, rotated by AWS's alternating-users strategy, so no running or
starting task ever holds credentials that do not log in.

The secret (JSON: engine, host, port, dbname, username, password, masterarn) names one
of two login roles, `NAME` and `NAME_clone`, with the same memberships. A rotation
sets a new password on the *other* role (ALTER ROLE as the master user that
`masterarn` names, as AWS's template does), proves it logs in and can write (inside a
rolled-back transaction), then moves AWSCURRENT. Tasks started before the move keep
working with the old role; only after the service's tasks have all rolled onto the
new value is the old role's password removed.

The new password reaches PostgreSQL only as a SCRAM verifier computed here
(libpq's PQencryptPasswordConn): the server's statement log never sees it."""
from __future__ import annotations

import secrets as pysecrets

from rovn_ops.clients import db
from rovn_ops.secrets.steps import Strategy
from rovn_ops.secrets.values import Secret, doc, dumps, read
from rovn_ops.secrets.versions import CURRENT

REQUIRED = ("engine", "host", "username", "password", "dbname")
SUFFIX = "_clone"


def other_user(username: str) -> str:
    return username[: -len(SUFFIX)] if username.endswith(SUFFIX) else username + SUFFIX


def login_problem(creds: dict, timeout: int = 5) -> str | None:
    """None when the credentials log in, else why not (never with the password)."""
    try:
        with db.connect_with(creds, connect_timeout=timeout) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as e:  # noqa: BLE001 - the reason is the answer
        return f"{creds.get('username')}@{creds.get('host')}: {type(e).__name__}: " + \
            str(e).replace(creds.get("password") or "\0", "[REDACTED]").splitlines()[0][:160]


class Database(Strategy):
    klass = "database"

    def __init__(self, sm, *, probe_table: str = ""):
        self.sm, self.probe_table = sm, probe_table

    def _master(self, creds: dict) -> dict:
        return doc(read(self.sm, creds["masterarn"], stage=CURRENT).value)

    def plan(self, base: Secret, token: str) -> dict:
        c = doc(base)
        return {"strategy": "alternating users", "host": c.get("host"), "dbname": c.get("dbname"),
                "active_user": c.get("username"), "next_user": other_user(c.get("username", "")),
                "master": c.get("masterarn"), "revoke_after_rollout": c.get("username")}

    def preflight(self, current: Secret) -> list[str]:
        try:
            c = doc(current)
        except ValueError:
            return ["the secret is not JSON (engine, host, username, password, dbname, masterarn)"]
        missing = [k for k in REQUIRED + ("masterarn",) if not c.get(k)]
        if missing:
            return [f"the secret lacks {', '.join(missing)}" + (
                ": a master secret (no masterarn) is rotated by RDS's managed rotation" if missing == ["masterarn"]
                else "")]
        problems = [p for p in [login_problem(c)] if p]
        master = self._master(c)
        if master.get("host") != c["host"]:
            problems.append(f"host {c['host']} is not the master's host {master.get('host')}")
        if (p := login_problem(master)) is not None:
            problems.append(f"master: {p}")
        return problems

    def make(self, current: Secret, token: str) -> Secret:
        c = doc(current)
        return dumps({**c, "username": other_user(c["username"]), "password": pysecrets.token_urlsafe(24)})

    def set(self, pending: Secret, current: Secret) -> str:
        p, c = doc(pending), doc(current)
        if (p["host"], p["dbname"]) != (c["host"], c["dbname"]):
            raise ValueError("AWSPENDING names another host or database than AWSCURRENT")
        if p["username"] != other_user(c["username"]):
            raise ValueError(f"AWSPENDING's user {p['username']} is not the inactive user {other_user(c['username'])}")
        with db.connect_with(self._master(c)) as conn:
            created = _ensure_role(conn, p["username"], like=c["username"])
            verifier = conn.pgconn.encrypt_password(p["password"].encode(), p["username"].encode(),
                                                    b"scram-sha-256").decode()
            conn.execute(_sql("ALTER ROLE {} WITH LOGIN PASSWORD {}", p["username"], verifier))
        return f"ALTER ROLE {p['username']} (inactive user) with the new password" + (
            f"; created it with {c['username']}'s memberships" if created else "")

    def test(self, pending: Secret, current: Secret) -> str:
        p = doc(pending)
        with db.connect_with(p) as conn:
            with conn.transaction(force_rollback=True):
                conn.execute("CREATE TEMP TABLE rovn_rotation_probe (at timestamptz) ON COMMIT DROP")
                conn.execute("INSERT INTO rovn_rotation_probe VALUES (now())")
                wrote = "a temporary table"
                if self.probe_table:
                    conn.execute(_probe_update(conn, self.probe_table))
                    wrote += f" and {self.probe_table}"
        return f"{p['username']} logs in and writes to {wrote} (rolled back)"

    def retire(self, previous: Secret, current: Secret) -> str:
        old, new = doc(previous), doc(current)
        if old["username"] == new["username"]:
            raise ValueError(f"AWSPREVIOUS and AWSCURRENT are the same user {new['username']}: nothing to revoke")
        with db.connect_with(self._master(new)) as conn:
            conn.execute(_sql("ALTER ROLE {} WITH PASSWORD NULL", old["username"]))
        return f"{old['username']}'s password removed (retired until the next rotation)"

    def verify(self, current: Secret, previous: Secret | None) -> list[str]:
        c = doc(current)
        problems = [f"AWSCURRENT does not log in: {p}" for p in [login_problem(c)] if p]
        if previous is not None:
            old = doc(previous)
            if old["username"] != c["username"] and login_problem(old) is None:
                problems.append(f"the retired user {old['username']} still logs in with its old password")
        return problems


def _sql(template: str, ident: str, literal: str | None = None):
    from psycopg import sql

    parts = [sql.Identifier(ident)] + ([sql.Literal(literal)] if literal is not None else [])
    return sql.SQL(template).format(*parts)


def _ensure_role(conn, user: str, *, like: str) -> bool:
    """The inactive user exists with the active user's memberships (AWS's template
    creates the clone the first time)."""
    from psycopg import sql

    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [user]).fetchone():
        return False
    conn.execute(sql.SQL("CREATE ROLE {} WITH LOGIN").format(sql.Identifier(user)))
    for (group,) in conn.execute("SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                                 "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s", [like]).fetchall():
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(user)))
    return True


def _probe_update(conn, table: str):
    """A real write to a real table: one row updated to itself (rolled back by the caller)."""
    from psycopg import sql

    col = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                       "ORDER BY ordinal_position LIMIT 1", [table]).fetchone()
    if not col:
        raise ValueError(f"probe table {table} not found")
    return sql.SQL("UPDATE {t} SET {c} = {c} WHERE ctid = (SELECT ctid FROM {t} LIMIT 1)").format(
        t=sql.Identifier(table), c=sql.Identifier(col[0]))
