"""The inventory (§8): every secret with its class, the age of its current value, the
policy cadence, and whether it is overdue, due or fine. No value is ever read.

The age is that of the AWSCURRENT version (its CreatedDate), or LastRotatedDate if
newer: a rotation done by the four steps without a Lambda moves no LastRotatedDate,
and the secret's own CreatedDate never moves. ListSecrets gives tags, dates and
stage labels in pages of 100; one ListSecretVersionIds per classified secret gives
the current version's date (run on a few threads: they are independent reads)."""
from __future__ import annotations

import html
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from rovn_ops.secrets.policy import Policy

OVERDUE, DUE, FINE, UNCLASSIFIED = "overdue", "due", "fine", "no policy"
_MARK = {OVERDUE: "**OVERDUE**", DUE: "due", FINE: "fine", UNCLASSIFIED: "no policy"}  # words: no emoji font needed


@dataclass(frozen=True)
class Entry:
    name: str
    arn: str
    klass: str | None
    cadence_days: int | None
    age_days: int
    days_left: int | None
    status: str
    current_since: str
    pending: bool          # an AWSPENDING version apart from AWSCURRENT: a rotation under way
    tags: dict


@dataclass
class Inventory:
    entries: list[Entry]
    at: datetime

    @property
    def overdue(self) -> list[Entry]:
        return [e for e in self.entries if e.status == OVERDUE]

    @property
    def due(self) -> list[Entry]:
        return [e for e in self.entries if e.status == DUE]

    def get(self, name: str) -> Entry | None:
        return next((e for e in self.entries if e.name == name or e.arn == name), None)

    def only(self, name: str) -> "Inventory":
        """The inventory's row for one secret (all rows if it is unknown)."""
        entry = self.get(name)
        return Inventory([entry], self.at) if entry else self

    def rows(self) -> list[dict]:
        return [{"secret": e.name, "class": e.klass or "-", "cadence (days)": e.cadence_days,
                 "age (days)": e.age_days, "days left": e.days_left, "status": e.status,
                 "current since": e.current_since[:10], "rotation under way": "yes" if e.pending else ""}
                for e in self.entries]

    def as_dicts(self) -> list[dict]:
        return [{k: v for k, v in asdict(e).items() if k != "tags"} for e in self.entries]

    def verdict(self) -> str:
        if self.overdue:
            return (f"{len(self.overdue)} overdue: " + ", ".join(f"{e.name} ({e.age_days} days, cadence "
                                                                  f"{e.cadence_days})" for e in self.overdue))
        return f"nothing overdue ({len(self.due)} due within the window)"

    def _repr_markdown_(self) -> str:
        head = "| | secret | class | cadence | age | days left | status | current since | rotating |\n"
        head += "|---|---|---|---|---|---|---|---|---|\n"
        body = "\n".join(f"| {_MARK[e.status]} | `{e.name}` | {e.klass or '-'} | {e.cadence_days or '-'} | "
                         f"{e.age_days} | {'' if e.days_left is None else e.days_left} | {e.status} | "
                         f"{e.current_since[:10]} | {'yes' if e.pending else ''} |" for e in self.entries)
        return f"{head}{body}\n\n**{self.verdict()}**\n"

    def __repr__(self) -> str:
        lines = [f"{'secret':<36} {'class':<10} {'cadence':>7} {'age':>5} {'left':>5}  status"]
        lines += [f"{e.name:<36} {e.klass or '-':<10} {e.cadence_days or '-':>7} {e.age_days:>5} "
                  f"{'' if e.days_left is None else e.days_left:>5}  {e.status}" for e in self.entries]
        return "\n".join(lines + [self.verdict()])

    def chart(self) -> "Chart":
        return Chart([e for e in self.entries if e.days_left is not None])


@dataclass
class Chart:
    """Days left per secret: an SVG bar chart for notebooks and HTML, text bars for plain text."""

    entries: list[Entry]

    def __repr__(self) -> str:
        if not self.entries:
            return "no classified secrets"
        scale = max(max(abs(e.days_left) for e in self.entries), 1) / 40
        out = []
        for e in self.entries:
            bar = ("█" if e.days_left >= 0 else "▒") * max(1, round(abs(e.days_left) / scale))
            out.append(f"{e.name:<36} {e.days_left:>5} {bar}")
        return "days left (▒ = overdue)\n" + "\n".join(out)

    def _repr_html_(self) -> str:
        if not self.entries:
            return "<p>no classified secrets</p>"
        row_h, label_w, bar_w = 22, 260, 360
        most = max(max(abs(e.days_left) for e in self.entries), 1)
        negative = max([-e.days_left for e in self.entries if e.days_left < 0] or [0])
        zero = label_w + bar_w * negative / (most + negative) if negative else label_w
        unit = bar_w / (most + negative)
        colour = {OVERDUE: "#c0392b", DUE: "#e67e22", FINE: "#27ae60"}
        bars = []
        for i, e in enumerate(self.entries):
            y, w = i * row_h + 4, abs(e.days_left) * unit
            x = zero if e.days_left >= 0 else zero - w
            bars.append(f'<text x="0" y="{y + 13}" font-size="12">{html.escape(e.name)}</text>'
                        f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{row_h - 8}" '
                        f'fill="{colour.get(e.status, "#999")}"><title>{e.days_left} days</title></rect>'
                        f'<text x="{label_w + bar_w + 8}" y="{y + 13}" font-size="12">{e.days_left}</text>')
        height = len(self.entries) * row_h + 8
        return (f'<figure><figcaption>Days left before each secret is overdue (§8)</figcaption>'
                f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 50}" height="{height}">'
                f'{"".join(bars)}<line x1="{zero:.1f}" x2="{zero:.1f}" y1="0" y2="{height}" stroke="#333"/>'
                f'</svg></figure>')


def _tags(secret: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in secret.get("Tags") or []}


def _when(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def list_all(sm) -> list[dict]:
    """Every secret (ListSecrets, paginated), scheduled deletions excluded."""
    out = []
    for page in sm.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 100}):
        out += page["SecretList"]
    return out


def current_version_created(sm, name: str) -> datetime | None:
    args = {"SecretId": name}
    while True:  # botocore has no paginator for it
        page = sm.list_secret_version_ids(**args)
        for v in page["Versions"]:
            if "AWSCURRENT" in v.get("VersionStages", []):
                return _when(v.get("CreatedDate"))
        if not page.get("NextToken"):
            return None
        args["NextToken"] = page["NextToken"]


def entry(policy: Policy, secret: dict, current_since: datetime | None, now: datetime) -> Entry:
    tags = _tags(secret)
    klass = policy.classify(secret["Name"], tags, secret.get("OwningService"))
    since = max(d for d in (current_since, _when(secret.get("LastRotatedDate")), _when(secret.get("CreatedDate")),
                            datetime.fromtimestamp(0, timezone.utc)) if d is not None)
    age = (now - since).days
    stages = secret.get("SecretVersionsToStages") or {}
    pending = any("AWSPENDING" in s and "AWSCURRENT" not in s for s in stages.values())
    if klass is None:
        return Entry(secret["Name"], secret["ARN"], None, None, age, None, UNCLASSIFIED, since.isoformat(),
                     pending, tags)
    managed = _managed_cadence(policy, klass, secret)
    cadence = managed or policy.classes[klass].cadence_days
    left = cadence - age
    # a secret its service rotates on schedule is never "due" for us, only late if it is
    status = OVERDUE if left < 0 else DUE if not managed and left <= policy.due_within_days else FINE
    return Entry(secret["Name"], secret["ARN"], klass, cadence, age, left, status, since.isoformat(), pending, tags)


def _managed_cadence(policy: Policy, klass: str, secret: dict) -> int | None:
    """A service-rotated secret's own schedule (RotationRules.AutomaticallyAfterDays),
    while its rotation is on."""
    if not policy.classes[klass].rotated_by or not secret.get("RotationEnabled"):
        return None
    return (secret.get("RotationRules") or {}).get("AutomaticallyAfterDays") or None


def take(sm, policy: Policy, *, now: datetime | None = None, threads: int = 8) -> Inventory:
    now = now or datetime.now(timezone.utc)
    secrets = list_all(sm)
    classified = [s for s in secrets if policy.classify(s["Name"], _tags(s), s.get("OwningService"))]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        since = dict(zip((s["ARN"] for s in classified),
                         pool.map(lambda s: current_version_created(sm, s["ARN"]), classified)))
    entries = [entry(policy, s, since.get(s["ARN"]), now) for s in secrets]
    order = {OVERDUE: 0, DUE: 1, FINE: 2, UNCLASSIFIED: 3}
    entries.sort(key=lambda e: (order[e.status], e.days_left if e.days_left is not None else 0, e.name))
    return Inventory(entries, now)
