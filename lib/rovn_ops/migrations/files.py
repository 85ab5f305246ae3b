"""Migration files and their order.

Names: `NNNN_name.sql` (sequential), or a date-named hotfix `YYYY_MM_DD_name.sql`.
Order: numbered files by number; a hotfix runs right after the numbered file the
engine's configuration names for it (`hotfixes:` in parameters/migrations.yaml, so the
platform's files, applied long ago by another runner, are never edited), or its own
`-- rovn:after NNNN_name.sql` header. Hotfixes after the same file run in date order.
A hotfix placed by neither is refused, and so is one the two place differently.

Header directives (comment lines at the top of the file):
- `-- rovn:after FILE`       a hotfix's place in the order (optional: see above);
- `-- rovn:no-transaction`   run outside a transaction (CREATE INDEX CONCURRENTLY).
"""
from __future__ import annotations

import hashlib
import locale
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date
from pathlib import Path

from rovn_ops.core.errors import BadInput


@dataclass(frozen=True)
class Migration:
    name: str
    path: Path
    sql: str
    number: int | None = None       # numbered files
    hotfix_date: date | None = None  # date-named hotfixes
    after: str | None = None
    transactional: bool = True
    digest: str | None = field(default=None, compare=False, repr=False)  # load's, from the bytes it read

    @property
    def stem(self) -> str:
        return self.name.removesuffix(".sql")

    @cached_property
    def checksum(self) -> str:
        return self.digest or hashlib.sha256(self.sql.encode()).hexdigest()


def _header(sql: str):
    """The file's lines up to the first that is neither blank nor a comment (and that one)."""
    start = 0
    while start < len(sql):
        end = sql.find("\n", start)
        end = len(sql) if end < 0 else end
        line = sql[start:end]
        yield line
        if line.strip() and not line.strip().startswith("--"):
            return
        start = end + 1


def _directives(sql: str) -> dict[str, str]:
    if "rovn:" not in sql:  # most files: one scan in C instead of walking the header in Python
        return {}
    found = {}
    for line in _header(sql):
        text = line.strip()
        if not text:
            continue
        if not text.startswith("--"):
            break
        body = text.removeprefix("--").strip()
        if body.startswith("rovn:"):
            key, _, value = body.removeprefix("rovn:").partition(" ")
            found[key] = value.strip().split()[0] if value.strip() else ""
    return found


def _parse_name(name: str) -> tuple[int | None, date | None]:
    parts = name.removesuffix(".sql").split("_")
    if len(parts) >= 2 and parts[0].isdigit() and len(parts[0]) == 4 and len(parts) > 3 \
            and parts[1].isdigit() and parts[2].isdigit() and len(parts[1]) == len(parts[2]) == 2:
        try:
            return None, date(int(parts[0]), int(parts[1]), int(parts[2]))
        except ValueError:
            pass
    if len(parts) >= 2 and parts[0].isdigit() and len(parts[0]) == 4:
        return int(parts[0]), None
    raise BadInput(f"migration {name}: expected NNNN_name.sql or YYYY_MM_DD_name.sql")


def load(path: Path, encoding: str | None = None) -> Migration:
    """One read: the text as read_text() gives it (universal newlines), and its checksum
    from the very bytes when they are that text (no CR): each file hashed once."""
    raw = path.read_bytes()
    sql = raw.decode(encoding or locale.getpreferredencoding(False))
    if "\r" in sql:
        sql = sql.replace("\r\n", "\n").replace("\r", "\n")
        digest = hashlib.sha256(sql.encode()).hexdigest()
    else:
        digest = hashlib.sha256(raw).hexdigest() if sql.isascii() else hashlib.sha256(sql.encode()).hexdigest()
    number, hotfix = _parse_name(path.name)
    d = _directives(sql)
    return Migration(path.name, path, sql, number, hotfix, d.get("after"), "no-transaction" not in d, digest)


CONFIG = "migrations.yaml"


def configured_placement() -> dict[str, str]:
    """hotfix file → the numbered file it runs after, from parameters/migrations.yaml."""
    import yaml

    from rovn_ops.core import paths

    path = paths.parameters() / CONFIG
    data = yaml.safe_load(path.read_text()) if path.is_file() else None
    hotfixes = (data or {}).get("hotfixes") or {}
    if not isinstance(hotfixes, dict):
        raise BadInput(f"{path}: hotfixes: expected a mapping of HOTFIX.sql: NNNN_name.sql")
    return {str(k): str(v) for k, v in hotfixes.items()}


def discover(directory: Path, placement: dict[str, str] | None = None) -> list[Migration]:
    """Every migration in the directory, in the order they apply."""
    if not directory.is_dir():
        raise BadInput(f"migrations directory {directory}: not found")
    encoding = locale.getpreferredencoding(False)  # read_text()'s, asked once, not per file
    found = [load(p, encoding) for p in sorted(directory.glob("*.sql"), key=lambda p: p.name)]
    return order(found, configured_placement() if placement is None else placement)


def _place(h: Migration, placement: dict[str, str]) -> str:
    configured = placement.get(h.name)
    if configured and h.after and configured != h.after:
        raise BadInput(f"hotfix {h.name}: parameters/{CONFIG} places it after {configured}, "
                       f"its header after {h.after}; expected one place")
    if not (configured or h.after):
        raise BadInput(f"hotfix {h.name}: not placed; expected '{h.name}: NNNN_name.sql' under hotfixes in "
                       f"parameters/{CONFIG} (or a '-- rovn:after NNNN_name.sql' header)")
    return configured or h.after


def order(found: list[Migration], placement: dict[str, str] | None = None) -> list[Migration]:
    numbered = sorted((m for m in found if m.number is not None), key=lambda m: m.number)
    seen = {}
    for m in numbered:
        if m.number in seen:
            raise BadInput(f"migrations {seen[m.number]} and {m.name}: both numbered {m.number:04d}")
        seen[m.number] = m.name
    hotfixes = sorted((m for m in found if m.hotfix_date), key=lambda m: (m.hotfix_date, m.name))
    names = {m.name for m in numbered}
    after = {h.name: _place(h, placement or {}) for h in hotfixes}
    for h in hotfixes:
        if after[h.name] not in names:
            raise BadInput(f"hotfix {h.name}: placed after {after[h.name]}, which is no numbered migration")
    result = []
    for m in numbered:
        result.append(m)
        result += [h for h in hotfixes if after[h.name] == m.name]
    return result


def next_number(migrations: list[Migration]) -> int:
    return max((m.number for m in migrations if m.number is not None), default=0) + 1
