"""Collects the median time of each benchmark and prints speed-ups against the scenario's baseline: the
variant named "numpy" (a NumPy implementation of the same model), or else "pandas" (pandas' writer of
the same tables), or else "local" (the local backend,
against which the Dask backend's ratios are its slow-down), or else "serial" (one thread, against which
a thread pool's ratio is its speed-up)."""

from __future__ import annotations

import pytest

_MEDIANS: dict[tuple[str, str], float] = {}


@pytest.fixture
def record(benchmark):
    """Run ``fn`` under pytest-benchmark and remember its median under (scenario, variant)."""

    def run(scenario: str, variant: str, fn, rounds: int = 3, warmup_rounds: int = 1):
        result = benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=warmup_rounds)
        _MEDIANS[(scenario, variant)] = benchmark.stats.stats.median
        return result

    return run


def pytest_terminal_summary(terminalreporter):
    if not _MEDIANS:
        return
    terminalreporter.section("speed-up against the NumPy baseline, or the local backend (median times)")
    scenarios = sorted({s for s, _ in _MEDIANS})
    for scenario in scenarios:
        base = (_MEDIANS.get((scenario, "numpy")) or _MEDIANS.get((scenario, "pandas"))
                or _MEDIANS.get((scenario, "local")) or _MEDIANS.get((scenario, "serial")))
        for (s, variant), median in sorted(_MEDIANS.items()):
            if s != scenario:
                continue
            ratio = f"{base / median:6.1f}x" if base else "   n/a"
            terminalreporter.write_line(f"{scenario:<40} {variant:<22} {median:9.4f} s  {ratio}")
