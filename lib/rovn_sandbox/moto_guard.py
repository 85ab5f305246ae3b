"""The one moto version guard of every sandbox module that patches moto (issue 22).

A patch replaces or wraps a moto method, so it is written against that moto's code: its
signature, its models' attributes, the gap it fills. On another moto the patch may hide
a fix upstream made or break silently, so the sandbox would answer with moto's new
behaviour under our old assumptions. `patches` keys an `install` to the versions its
patches were checked against: on any other moto it raises before patching anything,
naming the module, the versions and what to do. Each patching module's docstring says
upstream which moto behaviour (or moto issue) it covers, which is what to check again.
"""
from __future__ import annotations

import functools

CHECKED = ("5.2.5",)  # the moto versions every patch was checked against


class MotoVersionError(RuntimeError):
    """The installed moto is not one the sandbox's patches were checked against."""


def installed() -> str:
    import moto

    return moto.__version__


def check(what: str, versions: tuple[str, ...] = CHECKED) -> None:
    """Refuse to patch a moto `what`'s patches were not checked against."""
    version = installed()
    if version not in versions:
        raise MotoVersionError(
            f"{what} patches moto {', '.join(versions)}, this is moto {version}: check each patch against "
            "the new moto (the module's docstring says which moto behaviour it covers), then add the version "
            "to moto_guard.CHECKED")


def patches(install):
    """Decorate a module's `install`: it runs only on a moto version in CHECKED."""
    @functools.wraps(install)
    def guarded(*args, **kwargs):
        check(install.__module__)
        return install(*args, **kwargs)

    guarded.moto_guarded = True
    return guarded
