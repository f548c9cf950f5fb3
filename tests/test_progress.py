"""The progress bar of long runs (``techins.progress``)."""

import io

import techins as ti
from techins.progress import ProgressBar


def test_bar_follows_the_chunks_of_a_run_to_the_end():
    seen = []
    with ProgressBar("simulating", disable=True) as bar:
        def progress(done, total):
            seen.append((done, total))
            bar(done, total)
        ti.simulate(ti.Line(ti.Poisson(2.0), ti.Exponential(1.0)), years=300_000, seed=1, progress=progress)
        assert bar.done == seen[-1][0] == seen[-1][1] == bar.total
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 1


def test_bar_draws_on_a_stream_and_counts_every_chunk():
    out = io.StringIO()
    bar = ProgressBar("simulating", disable=False, file=out)
    for done in (1, 3, 4):
        bar(done, 4)
    assert (bar.done, bar.total) == (4, 4)
    bar.close()
    assert "simulating" in out.getvalue() and "/4 [" in out.getvalue()  # drawn with its total (throttled)
