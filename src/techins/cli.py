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
from techins.errors import AccuracyWarning, InputError, TechinsError

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
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. head)
        sys.stderr.close()
        return 0


class _OneLineParser(argparse.ArgumentParser):
    """Usage mistakes get the same one-line message and exit status 2 as any bad input."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"techins: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="techins", description="Tech-insurance pricing engine.")
    parser.add_argument("--version", action="version", version=f"techins {_dist_version('techins')}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)

    sim = sub.add_parser("simulate", help="simulate one frequency-severity line and print its figures")
    sim.add_argument("line", nargs="?", help="a line TOML file (see docs/user-guide.md); or give the "
                                             "line with --frequency and --severity")
    sim.add_argument("--frequency", metavar="LAW:K=V,...", help="e.g. poisson:mean=5")
    sim.add_argument("--severity", metavar="LAW:K=V,...", help="e.g. lognormal:mu=10,sigma=2")
    sim.add_argument("--occurrence", metavar="K=V,...", help="e.g. limit=5e6,deductible=1e6")
    sim.add_argument("--aggregate", metavar="K=V,...", help="e.g. limit=2e7")
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

    demo = sub.add_parser("demo", help="the reference line against the exact path, then an illustrative "
                                       "book priced and quoted")
    demo.add_argument("--years", type=int, default=1_000_000)
    demo.add_argument("--book-years", type=int, default=20_000)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(run=_run_demo)

    warm = sub.add_parser("warmup", help="compile every Numba kernel into the on-disk cache")
    warm.set_defaults(run=_run_warmup)
    return parser


def _run_simulate(args) -> int:
    from techins.linefile import line_from_mapping, read_line

    inline = {name: getattr(args, name) for name in ("frequency", "severity", "occurrence", "aggregate")
              if getattr(args, name) is not None}
    if args.line is not None and inline:
        raise InputError("simulate: give either a line file or --frequency/--severity, not both")
    if args.line is not None:
        line = read_line(args.line)
        title = args.line
    elif inline:
        line = line_from_mapping({name: _parse_terms(name, text) for name, text in inline.items()},
                                 source="command line")
        title = " ".join(f"--{name} {text}" for name, text in inline.items())
    else:
        raise InputError("simulate: give a line file, or --frequency and --severity")
    report = _figures(line, args.years, args.seed, args.levels, args.exact, not args.no_thin,
                      args.threads)
    report["line_file"] = title
    _print(report, args.json)
    return 0


def _parse_terms(option: str, text: str) -> dict:
    """``"lognormal:mu=10,sigma=2"`` -> ``{"law": "lognormal", "mu": 10.0, "sigma": 2.0}``."""
    table = {}
    law, sep, rest = text.partition(":")
    if option in ("frequency", "severity"):
        if not sep:
            raise InputError(f"--{option} {text!r}: write LAW:KEY=VALUE,..., e.g. poisson:mean=5")
        table["law"] = law.strip()
    else:
        rest = text
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise InputError(f"--{option}: {item!r} is not KEY=VALUE")
        table[key.strip()] = _number(option, key.strip(), value.strip())
    return table


def _number(option: str, key: str, value: str):
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        raise InputError(f"--{option}: {key} must be a number, got {value!r}") from None


def _run_demo(args) -> int:
    from techins.demo import reference_line, run_book_demo

    report = _figures(reference_line(), args.years, args.seed, [0.99, 0.995], True, True, None)
    report["line"] = "Poisson(5) x LogNormal(10, 2), occurrence layer 5M xs 1M"
    book = run_book_demo(args.book_years, args.seed)
    if args.json:
        report["book"] = book
        _print(report, True)
        return 0
    _print(report, False)
    print(f"\ntechins: an illustrative tech book, {book['policies']:,} policies with 3 common shocks, "
          f"{book['years']:,} years")
    print(f"expected loss {book['expected_loss']:,.0f} +/- {book['expected_loss_stderr']:,.0f}; "
          f"TVaR 99% {book['tvar_99']:,.0f} +/- {book['tvar_99_stderr']:,.0f}; "
          f"technical premium {book['technical_premium']:,.0f}")
    print(f"{'line':<16}{'premium':>16}{'standalone cap.':>18}{'allocated cap.':>18}{'diversification':>18}")
    for row in book["lines"]:
        print(f"{row['line']:<16}{row['premium']:>16,.0f}{row['standalone_capital']:>18,.0f}"
              f"{row['allocated_capital']:>18,.0f}{row['diversification_benefit']:>18,.0f}")
    q = book["quote"]
    print(f"quote for a new cyber policy on aws: expected loss {q['expected_loss']:,.0f} "
          f"+/- {q['expected_loss_stderr']:,.0f}, standalone premium {q['standalone_premium']:,.0f}, "
          f"marginal premium {q['marginal_premium']:,.0f}")
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
