"""Errors the rules raise. The web layer turns them into 404 / 409 answers."""

from __future__ import annotations


class DomainError(Exception):
    """A command that the rules refuse; nothing was changed."""


class NotFound(DomainError):
    def __init__(self, kind: str, identifier: str) -> None:
        super().__init__(f"{kind} {identifier!r} does not exist")
        self.kind = kind
        self.identifier = identifier


class InvalidTransition(DomainError):
    """The command does not fit the current state (e.g. accepting an offer that expired)."""


class NoCapacity(InvalidTransition):
    """The agent already holds as many interactions on that channel as allowed."""
