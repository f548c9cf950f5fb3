"""Output folders (techins.io.outputs.output_folder, used by price, reinsure, pool and backtest) get the
mode of any new folder under the process's umask, not the 0o700 of a temporary folder, and so do the
files and folders written in them."""

import os
import stat
import threading
from pathlib import Path

import pandas as pd
import pytest

import techins.io.outputs as outputs_module
from techins.backtest import read_config, run_backtest
from techins.io.outputs import MARKER, current_umask, output_folder, write_tables

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "backtest"


@pytest.fixture(params=[0o022, 0o077, 0o027, 0o002])
def umask(request):
    """Run the test under this umask, restored afterwards."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def modes(folder: Path) -> dict:
    """Permission bits of the folder and of everything under it, by path relative to it."""
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = stat.S_IMODE(path.stat().st_mode)
    return found


def expected(folder: Path, umask: int) -> dict:
    """What open() and mkdir() give under ``umask``: 0o666 and 0o777 less it."""
    return {name: (0o777 if name == "." or (folder / name).is_dir() else 0o666) & ~umask
            for name in modes(folder)}


def test_current_umask_reads_the_umask_and_leaves_it(umask):
    assert current_umask() == umask
    assert os.umask(umask) == umask  # unchanged by the call


def test_current_umask_without_proc_sets_it_back(umask, monkeypatch, tmp_path):
    monkeypatch.setattr(outputs_module, "_PROC_STATUS", str(tmp_path / "no such file"))
    assert current_umask() == umask
    assert os.umask(umask) == umask


def test_current_umask_from_proc_without_a_umask_line_falls_back(umask, monkeypatch, tmp_path):
    # Linux before 4.7 has /proc/self/status but no Umask line.
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nState:\tR (running)\n")
    monkeypatch.setattr(outputs_module, "_PROC_STATUS", str(status))
    assert current_umask() == umask


def test_current_umask_without_proc_is_steady_under_threads(umask, monkeypatch, tmp_path):
    # The fallback's lock keeps concurrent readers from putting back each other's temporary umask.
    monkeypatch.setattr(outputs_module, "_PROC_STATUS", str(tmp_path / "no such file"))
    results = []

    def read():
        results.extend(current_umask() for _ in range(200))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(results) == {umask} and os.umask(umask) == umask


@pytest.mark.parametrize(("mask", "folder_mode"), [(0o022, 0o755), (0o077, 0o700), (0o027, 0o750), (0o002, 0o775)])
def test_output_folder_has_the_mode_of_the_umask(tmp_path, mask, folder_mode):
    previous = os.umask(mask)
    try:
        with output_folder(tmp_path / "out") as folder:
            write_tables({"lines": pd.DataFrame({"line": ["cyber"], "premium": [1.0]})}, folder)
            (folder / "ord").mkdir()
            (folder / "ord" / "a.csv").write_text("x\n")
    finally:
        os.umask(previous)
    out = tmp_path / "out"
    found = modes(out)
    assert found["."] == folder_mode
    assert found == expected(out, mask)
    assert set(found) == {".", MARKER, "lines.csv", "lines.parquet", "ord", "ord/a.csv"}


def test_a_replaced_output_folder_gets_the_current_umask(tmp_path):
    out = tmp_path / "out"
    for mask in (0o077, 0o022):
        previous = os.umask(mask)
        try:
            with output_folder(out) as folder:
                (folder / "a.txt").write_text("x\n")
        finally:
            os.umask(previous)
    assert modes(out) == {".": 0o755, MARKER: 0o644, "a.txt": 0o644}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left


@pytest.mark.parametrize("umask", [0o022, 0o077], indirect=True)
def test_the_backtest_report_folder_has_the_mode_of_the_umask(tmp_path, umask):
    run = run_backtest(read_config(EXAMPLES / "tech_lines_backtest.toml"), store=tmp_path / "runs.sqlite",
                       out=tmp_path / "report")
    out = tmp_path / "report"
    assert run.files and (out / "report.html").is_file()
    assert modes(out) == expected(out, umask)
    assert modes(out)["."] == 0o777 & ~umask
