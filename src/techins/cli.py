"""The ``techins`` command: thin; it parses, calls the library and prints.

Bad input ends with exit status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings

from importlib.metadata import version as _dist_version
from techins.errors import AccuracyWarning, TechinsError

__all__ = ["main"]

EXIT_USAGE = 2


def main(argv=None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except TechinsError as exc:
        print(f"techins: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="techins", description="Tech-insurance pricing engine.")
    parser.add_argument("--version", action="version", version=f"techins {_dist_version('techins')}")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="simulate one frequency-severity line and print its figures")
    sim.add_argument("line", help="a line TOML file (see docs/user-guide.md)")
    sim.add_argument("--years", type=int, default=1_000_000, help="simulated years (default 1,000,000)")
    sim.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    sim.add_argument("--threads", type=int, default=None, help="Numba threads (results do not change)")
    sim.add_argument("--exact", action="store_true", help="also compute the exact FFT distribution")
    sim.add_argument("--no-thin", action="store_true", help="draw every claim, not only those above the "
                                                            "occurrence deductible")
    sim.add_argument("--levels", type=float, nargs="+", default=[0.99, 0.995],
                     help="probability levels of VaR and TVaR (default 0.99 0.995)")
    sim.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    sim.set_defaults(run=_run_simulate)

    demo = sub.add_parser("demo", help="simulate the reference line and check it against the exact path")
    demo.add_argument("--years", type=int, default=1_000_000)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(run=_run_demo)

    warm = sub.add_parser("warmup", help="compile every Numba kernel into the on-disk cache")
    warm.set_defaults(run=_run_warmup)
    return parser


def _run_simulate(args) -> int:
    from techins.linefile import read_line

    line = read_line(args.line)
    report = _figures(line, args.years, args.seed, args.levels, args.exact, not args.no_thin,
                      args.threads)
    report["line_file"] = args.line
    _print(report, args.json)
    return 0


def _run_demo(args) -> int:
    import techins as ti

    line = ti.Line(frequency=ti.Poisson(5.0), severity=ti.LogNormal(mu=10.0, sigma=2.0),
                   occurrence=ti.Layer(limit=5e6, deductible=1e6))
    report = _figures(line, args.years, args.seed, [0.99, 0.995], True, True, None)
    report["line"] = "Poisson(5) x LogNormal(10, 2), occurrence layer 5M xs 1M"
    _print(report, args.json)
    return 0


def _run_warmup(args) -> int:
    from techins.warmup import warmup

    seconds = warmup()
    print(f"compiled and cached every kernel in {seconds:.1f} s")
    return 0


def _figures(line, years, seed, levels, with_exact, thin, threads) -> dict:
    import techins as ti

    start = time.perf_counter()
    sim = ti.simulate(line, years=years, seed=seed, thin=thin, threads=threads)
    report = {"monte_carlo": sim.summary(levels=levels),
              "monte_carlo_seconds": time.perf_counter() - start}
    if with_exact:
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AccuracyWarning)
            ex = ti.exact(line)
        report["exact"] = ex.summary(levels=levels)
        report["exact_seconds"] = time.perf_counter() - start
        report["exact_warnings"] = [str(w.message) for w in caught]
    return report


def _print(report: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_finite_or_none(report), allow_nan=False))
        return
    mc = report["monte_carlo"]
    ex = report.get("exact")
    title = report.get("line") or report.get("line_file", "")
    print(f"techins: {title}")
    print(f"Monte Carlo: {mc['years']:,} years, seed {mc['seed']}, "
          f"{report['monte_carlo_seconds']:.2f} s" + (f"; exact (FFT): {report['exact_seconds']:.2f} s"
                                                       if ex else ""))
    header = f"{'figure':<16}{'Monte Carlo':>18}{'std error':>16}" + (f"{'exact':>18}" if ex else "")
    print(header)
    print("-" * len(header))
    for key, value in mc.items():
        if key.endswith("_stderr") or not isinstance(value, float) or key == "counted_above":
            continue
        row = f"{key:<16}{value:>18,.2f}{mc.get(key + '_stderr', math.nan):>16,.2f}"
        if ex:
            row += f"{ex.get(key, math.nan):>18,.2f}"
        print(row)
    for message in report.get("exact_warnings", []):
        print(f"warning: {message}")


def _finite_or_none(value):
    """JSON has no inf or NaN: they become null."""
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
