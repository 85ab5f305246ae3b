"""The documentation's house: README a front door, docs/ the rest, and the parameter
reference generated from the runbooks themselves, so it cannot drift from them."""
import re
import subprocess
import sys
from pathlib import Path

from rovn_ops.run import catalog

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "RUNBOOK.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_parameter_reference_is_what_the_runbooks_declare():
    written = (ROOT / "docs/reference/parameters.md").read_text()
    assert written == catalog.markdown(), \
        "docs/reference/parameters.md drifted from the runbooks and parameters/: run `make docs`"


def test_parameter_reference_names_every_parameter_of_every_runbook():
    import papermill as pm

    page = catalog.markdown()
    for entry in catalog.runbooks():
        section = page.split(f"## {entry.name}\n", 1)[1].split("\n## ", 1)[0]
        for name in pm.inspect_notebook(str(ROOT / "runbooks" / f"{entry.name}.ipynb")):
            assert f"| `{name}` |" in section, (entry.name, name)


def test_markdown_cells_cannot_split_a_row():
    # a Literal's choices (`sandbox|prod`) sit in a code span, where GFM still splits at `|`
    rows = [r for r in catalog.markdown().splitlines() if r.startswith("| `env` |")]
    assert rows and all("`sandbox\\|prod`" in r for r in rows)
    for row in (r for r in catalog.markdown().splitlines() if r.startswith("| `")):
        assert len(re.findall(r"(?<!\\)\|", row)) == 7, row  # name type default prod sandbox help


def test_list_markdown_prints_the_page_and_refuses_a_runbook():
    cli = [sys.executable, "-m", "rovn_ops.cli"]
    page = subprocess.run([*cli, "list", "--markdown"], capture_output=True, text=True, timeout=120)
    assert page.returncode == 0 and page.stdout == catalog.markdown()
    both = subprocess.run([*cli, "list", "deploy", "--markdown"], capture_output=True, text=True, timeout=120)
    assert both.returncode == 2 and len(both.stderr.strip().splitlines()) == 1 and "Traceback" not in both.stderr


def test_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines: detail belongs in docs/"
    text = "\n".join(lines)
    for page in ("RUNBOOK.md", "docs/on-call.md", "docs/ci.md", "docs/auditors.md", "docs/sandbox.md",
                 "docs/production.md", "docs/reference/parameters.md"):
        assert f"]({page})" in text, f"README.md does not point to {page}"


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            if not (page.parent / target.split("#", 1)[0]).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken
