"""Output folders and the files every command writes in them: tables (CSV and Parquet) and ``run.json``.

All or nothing: everything is written into a temporary folder beside the target, which is renamed
into place at the end; a failure leaves no partial output. An existing target is replaced only when it
is a techins output folder (it holds the ``MARKER`` file), never a folder of the user's. The folder
gets the mode any new folder would (``0o777`` less the umask: ``0o755`` under the usual ``0o022``),
not the owner-only ``0o700`` of a temporary folder.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from techins.errors import InputError

__all__ = ["MARKER", "current_umask", "output_folder", "write_table_atomically", "replace_atomically", "write_tables", "write_run_json",
           "json_ready"]

MARKER = ".techins-output"


_PROC_STATUS = "/proc/self/status"


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask (e.g. ``0o022``), read without changing it where the system tells it.

    Linux (4.7 and later) shows it in ``/proc/self/status``. Elsewhere the only way is to set a umask
    and put the old one back, which changes it for the whole process for an instant: the value set
    meanwhile is the restrictive ``0o077``, so a file another thread creates in that instant is at
    worst private to its owner, never open to everyone.

    Returns
    -------
    int
        The umask, 0 to 0o777.
    """
    try:
        with open(_PROC_STATUS, encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


@contextmanager
def output_folder(out):
    """Yield a fresh temporary folder; on success it becomes ``out`` (replacing a previous techins
    output there), on any error it is removed and ``out`` is left as it was."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is a file; give a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise InputError(f"--out {out}: the folder exists, is not empty and was not written by techins; "
                         f"give a new or empty folder")
    parent = out.parent if str(out.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise InputError(f"--out {out}: {parent} is a file, not a folder")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    try:
        # mkdtemp makes the folder 0o700 whatever the umask; the output must be as shared as any
        # folder the user makes. The files in it are created with open() and get the umask anyway.
        os.chmod(tmp, 0o777 & ~current_umask())
        yield tmp
        (tmp / MARKER).write_text("written by techins; replaced by the next run with this --out\n")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=parent))
            os.replace(out, old / "previous")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_table_atomically(table, path) -> Path:
    """One table to ``path``: Parquet for a ``.parquet`` name, CSV otherwise; written to a temporary
    name beside it, then renamed, so a reader never sees half a file."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"--out {path}: is a folder; give a file name (.csv or .parquet)")
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        return replace_atomically(path, lambda tmp: table.to_parquet(tmp, index=False))
    return replace_atomically(path, lambda tmp: table.to_csv(tmp, index=False))


def replace_atomically(path, write) -> Path:
    """``write(tmp)`` fills a temporary file beside ``path``, which then replaces ``path`` in one rename
    (mode 0o666 less the umask), so a reader never sees half a file; the temporary file is removed if
    ``write`` fails."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_tables(tables: dict, folder: Path) -> dict:
    """Each table as ``<name>.csv`` and ``<name>.parquet``; return the file names by table."""
    files = {}
    for name, table in tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)
        table.to_parquet(folder / f"{name}.parquet", index=False)
        files[name] = [f"{name}.csv", f"{name}.parquet"]
    return files


def write_run_json(folder: Path, report: dict, files: dict) -> dict:
    """``run.json``: the report's figures (non-finite numbers as null) and the files written."""
    files["run"] = ["run.json"]
    (folder / "run.json").write_text(json.dumps(json_ready({**report, "files": files}), indent=2) + "\n",
                                     encoding="utf-8")
    return files


def json_ready(obj):
    """A copy JSON can hold: mapping keys as text, NumPy scalars as Python ones, NaN and infinities
    (which JSON has not) as None."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
