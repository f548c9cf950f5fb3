"""Exceptions raised for user mistakes.

Library code raises these; the command turns them into exit status 2 and one line on stderr.
They subclass the built-in ``ValueError`` / ``TypeError`` so callers may catch either.
"""

__all__ = ["TechinsError", "InputError", "InputTypeError", "MissingExtraError", "AccuracyWarning"]


class TechinsError(Exception):
    """Base class of every error techins raises for bad input."""


class InputError(TechinsError, ValueError):
    """A value is out of its allowed range, missing or inconsistent."""


class InputTypeError(TechinsError, TypeError):
    """A value has the wrong type."""


class MissingExtraError(InputError):
    """A feature needs an optional extra that is not installed (e.g. ``pip install 'techins[dask]'``)."""


class AccuracyWarning(UserWarning):
    """A numerical result may miss its stated accuracy (e.g. tail mass beyond the FFT grid)."""
