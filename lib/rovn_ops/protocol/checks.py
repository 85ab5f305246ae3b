"""A list of named checks with their verdicts, shown as one table in the preview.

A deploy is refused if any check fails; every failure is named at once, so the
operator fixes them in one pass rather than one per run."""
from __future__ import annotations

from dataclasses import dataclass, field

from rovn_ops.core.escape import markdown as md

PASS, FAIL, WARN = "pass", "FAIL", "warn"


@dataclass(frozen=True)
class Check:
    name: str
    verdict: str
    detail: str
    rule: str = ""  # the deployment overview's section, e.g. "§9"


@dataclass
class Checks:
    items: list[Check] = field(default_factory=list)

    def add(self, name: str, problems: list[str] | str | None, ok_detail: str = "", rule: str = "",
            warn: bool = False) -> None:
        """One check: no problems passes; problems fail (or warn, for listings)."""
        if isinstance(problems, str):
            problems = [problems]
        if not problems:
            self.items.append(Check(name, PASS, ok_detail, rule))
        else:
            self.items.append(Check(name, WARN if warn else FAIL, "; ".join(problems), rule))

    def extend(self, other: "Checks") -> None:
        self.items += other.items

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.items if c.verdict == FAIL]

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dicts(self) -> list[dict]:
        return [{"check": c.name, "verdict": c.verdict, "detail": c.detail, "rule": c.rule} for c in self.items]

    def refusal(self) -> str:
        return "deploy refused: " + "; ".join(f"{c.name}: {c.detail}" for c in self.failures)

    def _repr_markdown_(self) -> str:
        # Words, not emoji: a stock Chromium or a terminal has no colour-emoji font.
        mark = {PASS: "pass", FAIL: "**FAIL**", WARN: "*warn*"}
        rows = "\n".join(f"| {mark[c.verdict]} | {md(c.name)} | {md(c.rule)} | {md(c.detail)} |"
                         for c in self.items)
        return f"| verdict | check | rule | detail |\n|---|---|---|---|\n{rows}\n"

    def __repr__(self) -> str:
        width = max((len(c.name) for c in self.items), default=0)
        return "\n".join(f"{c.verdict:<4}  {c.name:<{width}}  {c.rule:<3}  {c.detail}".rstrip()
                         for c in self.items) or "no checks"
