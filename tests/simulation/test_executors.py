"""The executor contract without a cluster: ``import techins`` and the local executor never import Dask,
the Dask backend without its extra names the extra, bad backend arguments are refused; an executor
already open serves several calls. These run whether or not the ``dask`` extra is installed."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import techins as ti
from techins.errors import MissingExtraError
from techins.simulation.api import book_tail_losses
from techins.simulation.executor import LocalExecutor, open_executor


def test_import_and_local_backend_never_touch_dask():
    code = textwrap.dedent("""
        import sys, techins as ti
        ti.simulate(ti.Line(ti.Poisson(1.0), ti.Exponential(1.0)), years=1000, seed=0)
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed", "tornado")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now fails
    line = ti.Line(ti.Poisson(1.0), ti.Exponential(1.0))
    with pytest.raises(MissingExtraError, match=r"pip install 'techins\[dask\]'"):
        ti.simulate(line, 100, seed=0, backend="dask")
    assert issubclass(MissingExtraError, ti.InputError)


def test_bad_backend_client_and_address():
    line = ti.Line(ti.Poisson(1.0), ti.Exponential(1.0))
    with pytest.raises(ti.InputError, match="backend must be one of"):
        ti.simulate(line, 100, seed=0, backend="spark")
    with pytest.raises(ti.InputError, match="only used with backend='dask'"):
        ti.simulate(line, 100, seed=0, client="tcp://127.0.0.1:8786")
    with pytest.raises(ti.InputTypeError, match="client must be a distributed.Client"):
        ti.simulate(line, 100, seed=0, backend="dask", client=42)
    with pytest.raises(ti.InputError, match="not a scheduler address"):
        ti.simulate(line, 100, seed=0, backend="dask", client="nowhere")
    with pytest.raises(ti.InputError, match=r"tcp://127.0.0.1:1: no Dask scheduler answers there"):
        ti.simulate(line, 100, seed=0, backend="dask", client="tcp://127.0.0.1:1")


def test_an_open_executor_serves_several_calls_with_the_same_numbers():
    table = __import__("pandas").DataFrame({"policy_id": ["a", "b"], "line": "l", "claim_rate": [0.5, 2.0],
                                            "severity": "s"})
    book = ti.Portfolio(table, {"s": ti.LogNormal(9.0, 1.0)})
    with open_executor("test", threads=1) as executor:
        assert isinstance(executor, LocalExecutor) and executor.threads == 1
        result = ti.simulate(book, 3_000, seed=2, executor=executor)
        tail = book_tail_losses(result, 0.95, executor=executor)
    assert np.array_equal(result.annual, ti.simulate(book, 3_000, seed=2).annual)
    for x, y in zip(tail, book_tail_losses(result, 0.95)):
        assert np.array_equal(x, y)
    with pytest.raises(ti.InputError, match="either executor= or backend="):
        ti.simulate(book, 100, seed=0, executor=executor, threads=2)
    with pytest.raises(ti.InputTypeError, match="executor must be"):
        ti.simulate(book, 100, seed=0, executor="local")
