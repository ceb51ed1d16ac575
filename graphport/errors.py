"""The error types the CLI maps to exit codes: 2 for bad input, 1 for failed work."""

from __future__ import annotations


class GraphportError(Exception):
    """An expected failure with a one-line message for the user and an optional hint."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UserError(GraphportError):
    """Bad input: a file, an option or a value the user can fix (exit code 2)."""

    exit_code = 2


class ConversionError(GraphportError):
    """The input was fine but the work failed: conversion or verification (exit code 1)."""

    exit_code = 1
