"""Shell completion (issue 28): `rovn-ops completion SHELL` prints a script; the shell
sources it and asks `rovn-ops __complete` on each TAB. bash is tested as it runs: a real
bash sources the script and calls its completion function with the COMP_LINE, COMP_POINT,
COMP_WORDS and COMP_CWORD bash sets (https://www.gnu.org/software/bash/manual/html_node/Bash-Variables.html),
splitting words at "=" as bash's default COMP_WORDBREAKS does. zsh and fish are run when
installed; their word protocol (`__complete WORD… CURRENT`) is tested either way."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import rovn_ops

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def bash_complete(line: str) -> list[str]:
    """What TAB at the end of `line` offers in bash: COMPREPLY after the registered function."""
    words = line.replace("=", " = ").split() + ([""] if line.endswith((" ", "=")) else [])
    words = [w for w in words] or [""]
    script = f"""
eval "$(rovn-ops completion bash)"
complete -p rovn-ops >/dev/null || exit 9
COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_rovn_ops_complete
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                          env=ENV, timeout=60)
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


def test_bash_completes_commands_and_subcommands():
    assert {"run", "list", "sandbox", "evidence", "completion"} <= set(bash_complete("rovn-ops "))
    assert bash_complete("rovn-ops sa") == ["sandbox"]
    assert set(bash_complete("rovn-ops sandbox ")) == {"up", "down", "status", "env", "reset", "scenario", "tick"}
    assert set(bash_complete("rovn-ops remote ")) == {"run", "attach"}
    assert bash_complete("rovn-ops evidence ver") == ["verify"]


def test_bash_completes_runbook_names():
    names = sorted(p.stem for p in (Path(__file__).parents[2] / "runbooks").glob("*.ipynb"))
    assert bash_complete("rovn-ops run ") == names
    assert bash_complete("rovn-ops run secret_r") == ["secret_rotation"]
    assert bash_complete("rovn-ops list inc") == ["incident_triage"]
    assert rovn_ops("__complete", "--line", "rovn-ops run 'secret_r").stdout.split() == ["secret_rotation"]


def test_bash_completes_parameter_names_and_values_from_the_models():
    assert bash_complete("rovn-ops run deploy -p image_t") == ["image_tag="]
    assert "plan_hash=" in bash_complete("rovn-ops run deploy -p ")
    # past the "=" (a word break in bash): the Literal's values, the bool's
    assert bash_complete("rovn-ops run deploy -p severity_threshold=") == [
        "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
    assert bash_complete("rovn-ops run deploy -p severity_threshold=H") == ["HIGH"]
    assert bash_complete("rovn-ops run deploy --quiet -p confirm=") == ["true", "false"]
    assert bash_complete("rovn-ops run deploy -p confirm ") == ["true", "false"]  # -p NAME VALUE
    assert bash_complete("rovn-ops run rollback -p to_rev") == ["to_revision="]
    assert bash_complete("rovn-ops run deploy -p no_such_") == []


def test_bash_completes_options_choices_and_scenarios():
    assert {"--env", "--json", "--quiet", "--parameters"} <= set(bash_complete("rovn-ops run deploy --"))
    assert bash_complete("rovn-ops run deploy --env ") == ["sandbox", "prod"]
    assert bash_complete("rovn-ops sandbox scenario tasks_") == ["tasks_crashing", "tasks_one_az"]
    assert "bad_deploy_migration" in bash_complete("rovn-ops sandbox scenario bad")
    assert bash_complete("rovn-ops completion ") == ["bash", "zsh", "fish"]
    assert bash_complete("rovn-ops migrations apply -p ") == ["approved_by="]


def test_the_word_protocol_zsh_and_fish_use():
    done = rovn_ops("__complete", "run", "deploy", "-p", "severity_threshold=C")
    assert done.returncode == 0 and done.stdout.split() == ["severity_threshold=CRITICAL"]
    assert rovn_ops("__complete", "sandbox", "scenario", "--o").stdout.split() == ["--off"]
    for shell in ("zsh", "fish"):
        text = rovn_ops("completion", shell).stdout
        assert "rovn-ops __complete" in text


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_sources_its_script():
    done = subprocess.run(["zsh", "-fc", 'autoload -U compinit && compinit -u && eval "$(rovn-ops completion zsh)" '
                                         '&& print -r -- $_comps[rovn-ops]'], capture_output=True, text=True, env=ENV,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "_rovn_ops", done.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_with_its_script():
    done = subprocess.run(["fish", "--no-config", "-c", "rovn-ops completion fish | source; "
                                                        "complete -C 'rovn-ops run secret_r'"],
                          capture_output=True, text=True, env=ENV, timeout=60)
    assert done.returncode == 0 and done.stdout.split() == ["secret_rotation"], done.stdout + done.stderr


def test_a_shell_completion_does_not_know_is_bad_input():
    done = rovn_ops("completion", "tcsh")
    assert done.returncode == 2 and "invalid choice: 'tcsh'" in done.stderr and "Traceback" not in done.stderr
