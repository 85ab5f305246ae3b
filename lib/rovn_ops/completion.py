"""Shell completion for rovn-ops (bash, zsh, fish), as kubectl and the AWS CLI do it: the
shell's script (`rovn-ops completion SHELL`) asks `rovn-ops __complete WORD…` for the
candidates of the last word, and that answer comes from the command line's own argparse
parser (commands, options, their choices) and the runbooks' parameter models (names,
Literal and bool values), so completion never drifts from what the commands accept."""
from __future__ import annotations

import argparse
import typing

SHELLS = ("bash", "zsh", "fish")

# Each script hands the words before the cursor and the word under it to `__complete`,
# and offers what it prints, one candidate a line. An empty answer falls back to file
# names (for -f FILE, a notebook's path).
SCRIPTS = {
    # bash splits words at "=" (COMP_WORDBREAKS): it hands the line itself, and takes
    # candidates for the part after the last "=" (`line`).
    "bash": r"""# rovn-ops completion for bash: eval "$(rovn-ops completion bash)"
_rovn_ops_complete() {
    local IFS=$'\n'
    COMPREPLY=($(rovn-ops __complete --line "${COMP_LINE:0:COMP_POINT}" 2>/dev/null))
    [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
    return 0
}
complete -o default -o bashdefault -F _rovn_ops_complete rovn-ops
""",
    "zsh": r"""#compdef rovn-ops
# rovn-ops completion for zsh: eval "$(rovn-ops completion zsh)" (after compinit)
_rovn_ops() {
    local -a candidates
    candidates=("${(@f)$(rovn-ops __complete "${(@)words[2,CURRENT-1]}" "${words[CURRENT]}" 2>/dev/null)}")
    if (( ${#candidates[@]} )) && [[ -n ${candidates[1]} ]]; then
        compadd -S '' -Q -- "${candidates[@]}"
    else
        _files
    fi
}
compdef _rovn_ops rovn-ops
""",
    "fish": r"""# rovn-ops completion for fish: rovn-ops completion fish | source
function __rovn_ops_complete
    set -l words (commandline -opc)
    rovn-ops __complete $words[2..-1] (commandline -ct) 2>/dev/null
end
complete -c rovn-ops -f -a '(__rovn_ops_complete)'
""",
}


def script(shell: str) -> str:
    return SCRIPTS[shell]


def answer(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """`__complete WORD… CURRENT` (zsh, fish: their words), or `__complete --line LINE`
    (bash: the line up to the cursor, whose words it splits here, answered for the part
    of the last word after its last "=", as bash completes it)."""
    if argv[:1] != ["--line"]:
        return candidates(parser, argv[:-1], argv[-1] if argv else "")
    import shlex

    line = argv[1] if len(argv) > 1 else ""
    words = None
    for closing in ("", "'", '"'):  # an open quote (`run 'dep`): the word as if closed
        try:
            words = shlex.split(line + closing)
            break
        except ValueError:
            continue
    words = line.split() if words is None else words
    if not line or line[-1].isspace():
        words.append("")
    current = words[-1]
    cut = current.rfind("=") + 1
    return [c[cut:] for c in candidates(parser, words[1:-1], current)]


def _subparsers(parser: argparse.ArgumentParser):
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _positionals(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]


def candidates(parser: argparse.ArgumentParser, words: list[str], current: str) -> list[str]:
    """What the word `current` may become, after `words` (the command line without
    `rovn-ops`), each starting with `current`."""
    path, given, i, p = [], [], 0, parser
    while i < len(words):
        word = words[i]
        action = p._option_string_actions.get(word.split("=", 1)[0])
        sub = _subparsers(p)
        if action is not None:
            i += 1 if action.nargs == 0 or "=" in word else 2
            continue
        if sub is not None and word in sub.choices:
            path.append(word)
            p, i = sub.choices[word], i + 1
            continue
        given.append(word)
        i += 1
    prev = words[-1] if words else ""
    action = p._option_string_actions.get(prev)
    paired = len(words) >= 2 and words[-2] in ("-p", "--parameters") and "=" not in prev
    if paired:  # papermill's `-p NAME VALUE`: the value of NAME
        found = [v.partition("=")[2] for v in _values(path, "assignments", p._option_string_actions[words[-2]],
                                                       given, f"{prev}={current}")]
    elif action is not None and action.nargs != 0 and "=" not in prev:
        found = _values(path, action.dest, action, given, current)
    elif current.startswith("-"):
        found = sorted(s for a in p._actions for s in a.option_strings if a.help != argparse.SUPPRESS)
    elif (sub := _subparsers(p)) is not None:
        found = list(sub.choices)
    else:
        slots = _positionals(p)
        slot = slots[len(given)] if len(given) < len(slots) else None
        found = _values(path, slot.dest, slot, given, current) if slot else []
    return [c for c in found if c.startswith(current)]


def _values(path: list[str], dest: str, action: argparse.Action, given: list[str], current: str) -> list[str]:
    """Values of one option or positional: its choices, or what the commands know."""
    if action.choices:
        return [str(c) for c in action.choices]
    if dest == "runbook":
        from rovn_ops.core import paths

        return sorted(p.stem for p in paths.runbooks().glob("*.ipynb"))
    if path[-1:] == ["scenario"] and dest == "name":
        from rovn_sandbox import scenarios

        return sorted(scenarios.KNOWN)
    if dest == "assignments":
        runbook = given[0] if path == ["run"] and given else "migrations_baseline" if path[-1:] == ["baseline"] \
            else None
        if path[-1:] == ["apply"]:
            return ["approved_by="]
        return parameters(runbook, current) if runbook else []
    return []  # a file, a hash, free text: the shell's own completion


def parameters(runbook: str, current: str) -> list[str]:
    """`NAME=` for each parameter of the runbook's model; past the `=`, the values of a
    Literal (`severity_threshold=HIGH`) or a bool (`confirm=true`)."""
    from rovn_ops.safety.params import MODELS

    model = MODELS.get(runbook)
    if model is None:
        return []
    name, eq, _ = current.partition("=")
    if not eq:
        return [f"{n}=" for n in model.model_fields]
    field = model.model_fields.get(name)
    if field is None:
        return []
    kind = field.annotation
    if typing.get_origin(kind) is typing.Literal:
        return [f"{name}={v}" for v in typing.get_args(kind)]
    if kind is bool:
        return [f"{name}=true", f"{name}=false"]
    return []
