"""The ``techins`` command run in the test's own process: ``techins.cli.main.main(argv)`` with its
standard output and error captured, and its exit status (argparse's ``SystemExit`` included).

A fresh interpreter per command costs about two seconds of imports and kernel loading; what the
command does is ``main``'s exit status and what it prints, which this captures the same way. A few
tests still start a real process (``python -m techins``) to check the entry point itself.
"""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

from techins.cli.main import main


@dataclass(frozen=True)
class Ran:
    """What a command run gave: like ``subprocess.CompletedProcess`` with text output."""

    returncode: int
    stdout: str
    stderr: str


def techins(*args, cwd=None) -> Ran:
    """Run ``techins ARGS...`` (from ``cwd`` when given) and return its status and output."""
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # argparse: usage errors, --help, --version
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(here)
    return Ran(code, out.getvalue(), err.getvalue())
