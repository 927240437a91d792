"""Errors of the local Polygon server."""

from __future__ import annotations


class SimConfigError(ValueError):
    """A configuration value of the local Polygon server is invalid; the message names it."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"polygon-sim {where}: {problem}")
        self.where = where
        self.problem = problem


class RequestError(ValueError):
    """A request parameter is invalid (answered with 400 and Polygon's error envelope)."""
