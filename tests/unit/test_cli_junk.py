"""Junk to every CLI subcommand (issue 20 class 7): an unknown flag, a missing or extra
argument, a count that is no count; each is one line and exit 2, never usage text or
a traceback, and nothing runs (argparse refuses before any command starts)."""
import argparse

import pytest

from rovn_ops import cli


def _commands(parser: argparse.ArgumentParser, prefix=()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield list(prefix), parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from _commands(child, (*prefix, name))


COMMANDS = list(_commands(cli._parser()))


def test_every_subcommand_is_reached():
    names = {" ".join(c) for c, _ in COMMANDS}
    assert {"run", "audit tail", "audit verify", "evidence verify", "migrations apply", "sandbox up"} <= names


@pytest.mark.parametrize("command", [c for c, _ in COMMANDS], ids=" ".join)
def test_junk_is_one_line_and_exit_2(command, capsys):
    for junk in (["--no-such-flag"], ["--no-such-flag=\x1b[31m"], ["-n", "-5"], ["--last", "abc"],
                 ["--lock-wait", "nan"], ["extra", "positional", "arguments"]):
        code = cli.main([*command, *junk])
        out, err = capsys.readouterr()
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("rovn-ops: error: "), (command, junk, err)
        assert "Traceback" not in err and "usage:" not in err and "\x1b" not in err
