"""The service's source checkout (a git checkout or a .zip) and §9's hygiene rules.

The zip uploaded to CodeBuild is built deterministically (sorted entries, fixed
timestamps), so the same source always has the same sha256: the preview's plan
covers it, and a re-run after a crash finds the build it already made."""
from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rovn_ops.core.errors import BadInput

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
BASE_IMAGE = "python:3.11-slim"
LOCKFILES = ("uv.lock", "requirements.lock")
SKIP = {".git", "__pycache__", ".venv", "node_modules", ".pytest_cache"}
ROOT_USERS = {"root", "0"}
COMMIT = re.compile(r"^[0-9a-f]{40}$")
ZIP_MANIFEST = ".rovn-source.json"  # {"commit": "<sha>"}: a zip's commit, when its comment has none


@dataclass(frozen=True)
class Source:
    given: Path

    @classmethod
    def open(cls, path: str, default: str = "") -> "Source":
        """default: the environment file's source, named in the refusal as the value to use."""
        p = Path(path).expanduser()
        valid = "expected a git checkout or a .zip" + (
            f", e.g. the environment's {default} (leave source empty to take it)" if default and default != path else "")
        if not p.exists():
            raise BadInput(f"parameter 'source': {path} not found; {valid}")
        if p.is_file() and not zipfile.is_zipfile(p):
            raise BadInput(f"parameter 'source': {path} is not a zip; {valid}")
        return cls(p.resolve())

    @cached_property
    def root(self) -> Path:
        """The files, as a directory (a zip is unpacked once, into a private directory)."""
        if self.given.is_dir():
            return self.given
        out = Path(tempfile.mkdtemp(prefix="rovn-source-"))
        with zipfile.ZipFile(self.given) as z:
            z.extractall(out)
        return out

    @cached_property
    def archive(self) -> bytes:
        if self.given.is_file():
            return self.given.read_bytes()
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(self._files()):
                info = zipfile.ZipInfo(f.relative_to(self.root).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                z.writestr(info, f.read_bytes())
            if self.commit:  # as `git archive` does: the commit id is the zip's comment
                z.comment = self.commit.encode()
        return buf.getvalue()

    def files(self) -> list[Path]:
        """What goes into the zip: the files the build sees."""
        return sorted(self._files())

    def scanned_files(self) -> list[Path]:
        """What the secret scan reads: every file but a well-formed .rovn-source.json,
        whose one value, a commit id, is high-entropy hex by design."""
        return [f for f in self.files() if not (f.name == ZIP_MANIFEST and f.parent == self.root
                                                and _manifest_commit(f.read_bytes()))]

    def _files(self):
        if self.in_git:  # what git tracks (and untracked, unignored files): never an ignored .env
            out = self.git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
            names = sorted({n for n in out.split("\0") if n})
            yield from (f for f in (self.root / n for n in names) if f.is_file())
            return
        for f in self.root.rglob("*"):
            if f.is_file() and not SKIP.intersection(f.relative_to(self.root).parts):
                yield f

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.root), *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    @cached_property
    def in_git(self) -> bool:
        """A directory inside a git work tree (a zip never is: it is what it is)."""
        if not self.given.is_dir():
            return False
        try:
            return self.git("rev-parse", "--is-inside-work-tree") == "true"
        except (subprocess.CalledProcessError, FileNotFoundError):
            return False

    @cached_property
    def commit(self) -> str:
        """The commit this source is: a checkout's HEAD, or what a zip carries (its
        comment, as `git archive` writes it, or .rovn-source.json); "" if unknown."""
        if self.in_git:
            return self.git("rev-parse", "HEAD")
        if self.given.is_file():
            with zipfile.ZipFile(self.given) as z:
                comment = z.comment.decode(errors="replace").strip()
                if COMMIT.match(comment):
                    return comment
                if ZIP_MANIFEST in z.namelist():
                    return _manifest_commit(z.read(ZIP_MANIFEST))
        return ""

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.archive).hexdigest()

    @property
    def migrations_dir(self) -> Path | None:
        d = self.root / "migrations"
        return d if d.is_dir() else None

    def hygiene(self) -> dict[str, list[str]]:
        """§9's rules for the source, by check name: the problems found (none passes)."""
        dockerfile = self.root / "Dockerfile"
        if not dockerfile.is_file():
            missing = ["no Dockerfile at the source's root"]
            return {"base image pinned by digest": missing, "non-root USER": missing,
                    "lockfile committed": lockfile_problems(self.root)}
        stages = dockerfile_stages(dockerfile.read_text())
        return {"base image pinned by digest": base_image_problems(stages),
                "non-root USER": user_problems(stages),
                "lockfile committed": lockfile_problems(self.root)}


def _manifest_commit(body: bytes) -> str:
    """The commit of a .rovn-source.json that is exactly {"commit": "<40 hex>"}, else ""."""
    try:
        found = json.loads(body)
    except ValueError:
        return ""
    ok = isinstance(found, dict) and set(found) == {"commit"} and COMMIT.match(str(found["commit"]))
    return str(found["commit"]) if ok else ""


@dataclass
class Stage:
    image: str
    name: str
    line: int
    user: str | None = None


def dockerfile_stages(text: str) -> list[Stage]:
    """FROM stages with their last USER, parsed by dockerfile-parse (continuations, ARGs)."""
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    stages: list[Stage] = []
    for ins in parser.structure:
        if ins["instruction"] == "FROM":
            words = [w for w in ins["value"].split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
            stages.append(Stage(words[0] if words else "", name, ins["startline"] + 1))
        elif ins["instruction"] == "USER" and stages:
            stages[-1].user = ins["value"].strip()
    return stages


def base_image_problems(stages: list[Stage]) -> list[str]:
    if not stages:
        return ["the Dockerfile has no FROM"]
    names = {s.name for s in stages if s.name}
    problems = [f"Dockerfile:{s.line}: FROM {s.image} is not pinned by digest (expected {BASE_IMAGE}@sha256:…)"
                for s in stages if s.image not in names and not DIGEST.search(s.image)]
    final = stages[-1]
    while final.image in names:  # FROM an earlier stage: its base is the base
        final = next(s for s in stages if s.name == final.image)
    if not final.image.startswith(BASE_IMAGE + "@"):
        problems.append(f"Dockerfile:{final.line}: the final image's base is {final.image.split('@')[0]}, "
                        f"expected {BASE_IMAGE}")
    return problems


def user_problems(stages: list[Stage]) -> list[str]:
    if not stages:
        return ["the Dockerfile has no FROM"]
    user = stages[-1].user
    if user is None:
        return [f"the final stage (Dockerfile:{stages[-1].line}) sets no USER: it runs as root"]
    if user.split(":")[0] in ROOT_USERS:
        return [f"the final stage runs as USER {user}: expected a non-root UID"]
    return []


def lockfile_problems(root: Path) -> list[str]:
    found = [root / n for n in LOCKFILES if (root / n).is_file()]
    if not found:
        return [f"no dependency lockfile ({' or '.join(LOCKFILES)}) in the source"]
    if found[0].name == "requirements.lock":
        loose = [line.strip() for line in found[0].read_text().splitlines()
                 if line.strip() and not line.lstrip().startswith(("#", "-")) and "==" not in line]
        if loose:
            return [f"requirements.lock pins no version for: {', '.join(loose[:5])}"]
    return []
