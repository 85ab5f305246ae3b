"""requirements.lock must pin every dependency pyproject.toml declares, at a version
the declaration accepts; `make lock` regenerates it."""
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and "==" in line:
            name, version = line.split("==", 1)
            pins[canonicalize_name(name.split("[")[0])] = version.split(";")[0].strip()
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return [Requirement(r) for r in reqs]


def test_every_declared_dependency_is_pinned_within_its_range():
    pins = _pins()
    problems = []
    for req in _declared():
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req.name}: declared in pyproject.toml, missing from requirements.lock")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{req.name}: lock pins {pins[name]}, pyproject wants {req.specifier}")
    assert not problems, "lock drift (run `make lock`):\n" + "\n".join(problems)


def test_lock_pins_every_package_exactly():
    lines = [l for l in (ROOT / "requirements.lock").read_text().splitlines()
             if l.strip() and not l.lstrip().startswith("#")]
    assert lines and all("==" in l for l in lines)
