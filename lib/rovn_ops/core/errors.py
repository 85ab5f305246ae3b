"""Errors a user can act on. The CLI turns each into one line and an exit code."""
from __future__ import annotations


class RovnError(Exception):
    """Base: a message meant for the operator, not a traceback."""

    exit_code = 1

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: on-call reads one line, not frames."""
        return [f"{type(self).__name__}: {self}"]


class BadInput(RovnError):
    """A user's mistake: a parameter, a file, a flag. Nothing ran, nothing changed."""

    exit_code = 2


class Refused(RovnError):
    """The protocol or a rule refused to go on (no approval, plan changed, guard),
    before anything changed. Its own exit code, distinct from a failure mid-change."""

    exit_code = 3


class StaleApproval(Refused):
    """Execute found that what would run is not what was confirmed (issue 20): the
    approval is stale or spent. Refused and on record like any refusal, but it is the
    `confirm` input that is wrong, so exit 2, as for any other bad input."""

    exit_code = 2


class EnvironmentGuard(BadInput):
    """The endpoints in the environment do not match the target environment."""
