"""The ``techins`` command: thin; it parses, calls the library and prints.

Bad input ends with exit status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
import warnings
from pathlib import Path

from techins.errors import AccuracyWarning, InputError, InputTypeError, TechinsError
from techins.io.outputs import json_ready
from techins.version import VERSION

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
    except OSError as exc:  # an unwritable --out, a full disk: the user's to fix, not a bug
        print(f"techins: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE


class _OneLineParser(argparse.ArgumentParser):
    """Usage mistakes get the same one-line message and exit status 2 as any bad input."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"techins: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="techins", description="Tech-insurance pricing engine.")
    parser.add_argument("--version", action="version", version=f"techins {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)

    sim = sub.add_parser("simulate", help="simulate one frequency-severity line and print its figures")
    sim.add_argument("line", nargs="?", help="a line TOML file (see docs/user-guide.md); or give the "
                                             "line with --frequency and --severity")
    sim.add_argument("--frequency", metavar="LAW:K=V,...", help="e.g. poisson:mean=5")
    sim.add_argument("--severity", metavar="LAW:K=V,...", help="e.g. lognormal:mu=10,sigma=2")
    sim.add_argument("--occurrence", metavar="K=V,...", help="e.g. limit=5e6,deductible=1e6")
    sim.add_argument("--aggregate", metavar="K=V,...", help="e.g. limit=2e7")
    sim.add_argument("--years", type=_count, default=1_000_000, help="simulated years (default 1,000,000)")
    sim.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    sim.add_argument("--threads", type=_count, default=None, help="Numba threads (results do not change)")
    sim.add_argument("--exact", action="store_true", help="also compute the exact FFT distribution")
    sim.add_argument("--no-thin", action="store_true", help="draw every claim, not only those above the "
                                                            "occurrence deductible")
    sim.add_argument("--levels", type=float, nargs="+", default=[0.99, 0.995],
                     help="probability levels of VaR and TVaR (default 0.99 0.995)")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _backend_options(sim)
    sim.set_defaults(run=_run_simulate)

    demo = sub.add_parser("demo", help="the reference line against the exact path, then an illustrative "
                                       "book priced and quoted")
    demo.add_argument("--years", type=_count, default=1_000_000)
    demo.add_argument("--book-years", type=_count, default=20_000)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(run=_run_demo)

    price = sub.add_parser("price", help="price a portfolio of policies against the product catalogue and "
                                         "write the priced tables, EP curves, plots and a summary")
    _priced_book_options(price, "output folder, written atomically")
    price.add_argument("--compensation", metavar="SCHEME", help="a public risk-compensation scheme (TOML, a "
                       "[compensation] table; docs/pool.md): the fund's outlay, the probability it is spent and "
                       "its effect on the book's capital and price")
    price.set_defaults(run=_run_price)

    reinsure = sub.add_parser("reinsure", help="apply a reinsurance programme (TOML) to the simulation of a "
                                                "portfolio priced against the catalogue")
    reinsure.add_argument("programme", metavar="PROGRAMME", help="a programme TOML file (see docs/treaties.md)")
    reinsure.add_argument("products", metavar="PRODUCT_OR_DIR", help="a product TOML file or a folder of them")
    reinsure.add_argument("--product", action="append", metavar="ID", help="only the policies of this product "
                                                                         "(repeat for several)")
    reinsure.add_argument("--portfolio", required=True, metavar="POLICIES", help="policies, CSV or Parquet")
    reinsure.add_argument("--years", type=_count, default=20_000, help="simulated years (default 20,000)")
    reinsure.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    reinsure.add_argument("--out", required=True, metavar="DIR", help="output folder, written atomically")
    reinsure.add_argument("--load", type=float, default=0.0,
                          help="risk load of the treaties' technical price, in standard deviations (default 0)")
    reinsure.add_argument("--ord", action="store_true", help="also write ORD tables (SPLT, MELT, PALT, ALCT, EPT) "
                                                             "of the gross, ceded and net losses (il, rl, ri)")
    reinsure.add_argument("--ord-format", choices=("csv", "parquet", "both"), default="both",
                          help="file format of the ORD tables (default both)")
    reinsure.add_argument("--threads", type=_count, default=None)
    _dependence_option(reinsure)
    reinsure.add_argument("--quiet", action="store_true", help="no progress bar")
    _backend_options(reinsure)
    reinsure.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    reinsure.set_defaults(run=_run_reinsure)

    pool = sub.add_parser("pool", help="run a co-insurance pool (TOML): its book, its reinsurance, each member's "
                                        "money and capital")
    pool.add_argument("pool_file", metavar="POOL", help="a pool TOML file (see docs/pool.md)")
    pool.add_argument("--out", required=True, metavar="DIR", help="output folder, written atomically")
    pool.add_argument("--years", type=_count, default=None, help="simulated years (default: the pool file's)")
    pool.add_argument("--seed", type=int, default=None, help="seed (default: the pool file's)")
    pool.add_argument("--threads", type=_count, default=None)
    _backend_options(pool)
    pool.add_argument("--quiet", action="store_true", help="no progress bar")
    pool.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    pool.set_defaults(run=_run_pool)

    backtest = sub.add_parser("backtest", help="back-test priced lines against their experience; keep the run in a "
                                                "store; or list and show past runs")
    backtest.add_argument("config", metavar="CONFIG", nargs="?", help="a back-test TOML file (see docs/backtest.md)")
    backtest.add_argument("--store", metavar="DB", help="the SQLite run store (default: the configuration's)")
    backtest.add_argument("--out", metavar="DIR", help="the report folder (default: the configuration's)")
    backtest.add_argument("--list", action="store_true", help="list the runs kept in --store")
    backtest.add_argument("--scope", help="with --list: only the runs of this scope")
    backtest.add_argument("--show", type=int, metavar="RUN_ID", help="show a run kept in --store")
    backtest.add_argument("--quiet", action="store_true", help="no progress bar")
    backtest.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    backtest.set_defaults(run=_run_backtest)

    products = sub.add_parser("products", help="the product catalogue")
    products_sub = products.add_subparsers(dest="action", required=True, parser_class=_OneLineParser)
    validate = products_sub.add_parser("validate", help="check every product file of a folder")
    validate.add_argument("path", metavar="DIR_OR_FILE")
    validate.add_argument("--json", action="store_true")
    validate.set_defaults(run=_run_products_validate)

    book = sub.add_parser("book", help="a simulated, priced book saved for quoting (docs/quote-service.md)")
    book_sub = book.add_subparsers(dest="action", required=True, parser_class=_OneLineParser)
    save = book_sub.add_parser("save", help="simulate and price a portfolio against the catalogue and save what "
                                            "quoting needs, so a quoting process starts without simulating")
    _priced_book_options(save, "the book's folder, written atomically")
    save.set_defaults(run=_run_book_save)

    quote = sub.add_parser("quote", help="quote policies (CSV, Parquet or JSON) against a saved book")
    quote.add_argument("products", metavar="PRODUCT_OR_DIR", help="the product files the book was priced with")
    quote.add_argument("policies", metavar="POLICIES", help="the candidate policies: CSV, Parquet, or JSON (one "
                                                            "object or a list of objects)")
    quote.add_argument("--book", required=True, metavar="DIR", help="a folder written by `techins book save`")
    quote.add_argument("--out", metavar="FILE", help="write the quotes as CSV (or Parquet by extension), atomically")
    quote.add_argument("--quiet", action="store_true", help="no progress bar")
    quote.add_argument("--json", action="store_true", help="print the quotes as one JSON object on stdout")
    quote.set_defaults(run=_run_quote)

    serve = sub.add_parser("serve", help="serve quotes over HTTP against a saved book (docs/quote-service.md; needs "
                                         "the serve extra)")
    serve.add_argument("products", metavar="PRODUCT_OR_DIR", help="the product files the book was priced with")
    serve.add_argument("--book", required=True, metavar="DIR", help="a folder written by `techins book save`")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.set_defaults(run=_run_serve)

    warm = sub.add_parser("warmup", help="compile every Numba kernel into the on-disk cache")
    warm.add_argument("--quiet", action="store_true", help="no progress bar")
    warm.set_defaults(run=_run_warmup)
    return parser


def _count(text: str) -> int:
    """A whole number as a user types it: ``100000``, ``100_000``, ``1e5``; > 0."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number such as 100000 or 1e5, got {text!r}") from None
    if not math.isfinite(value) or value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return int(value)


def _many(n: int, one: str, many: str | None = None) -> str:
    """``1 policy``, ``3,000 policies``."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _dependence_option(parser) -> None:
    parser.add_argument("--dependence", metavar="FILE", help="dependence between the book's lines (TOML: a [copula] "
                        "table, [[frailty]] tables; docs/user-guide.md)")


def _priced_book_options(parser, out_help: str) -> None:
    """The options of a command that prices a portfolio against the catalogue (price, book save)."""
    parser.add_argument("products", metavar="PRODUCT_OR_DIR", help="a product TOML file or a folder of them "
                                                                    "(e.g. products/)")
    parser.add_argument("--product", action="append", metavar="ID", help="only the policies of this product "
                                                                          "(repeat for several)")
    parser.add_argument("--portfolio", required=True, metavar="POLICIES", help="policies, CSV or Parquet "
                                                                              "(see docs/products.md)")
    parser.add_argument("--years", type=_count, default=100_000, help="simulated years (default 100,000)")
    parser.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    parser.add_argument("--out", required=True, metavar="DIR", help=out_help)
    parser.add_argument("--threads", type=_count, default=None, help="Numba threads (results do not change)")
    _dependence_option(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _backend_options(parser)


def _backend_options(parser) -> None:
    parser.add_argument("--backend", choices=("local", "dask"), default="local",
                        help="where the simulation runs: local Numba threads (default) or a Dask cluster; "
                             "the numbers are identical (see docs/distributed.md)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="with --backend dask: the scheduler of an existing "
                                                               "cluster, e.g. tcp://10.0.0.5:8786 (default: a "
                                                               "local cluster started for the run)")


def _backend(args) -> tuple[str, str | None]:
    """``--backend`` and ``--scheduler``: the backend and the client to pass to the library."""
    if args.scheduler is not None and args.backend != "dask":
        raise InputError(f"--scheduler {args.scheduler}: a scheduler is only used with --backend dask")
    return args.backend, args.scheduler


def _run_simulate(args) -> int:
    from techins.model.linefile import line_from_mapping, read_line

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
    backend, client = _backend(args)
    report = _figures(line, args.years, args.seed, args.levels, args.exact, not args.no_thin,
                      args.threads, backend=backend, client=client, args=args)
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
    from techins.cli.demo import reference_line, run_book_demo

    report = _figures(reference_line(), args.years, args.seed, [0.99, 0.995], True, True, None, args=args)
    report["line"] = "Poisson(5) x LogNormal(10, 2), occurrence layer 5M xs 1M"
    with _progress_bar(args) as bar:
        book = run_book_demo(args.book_years, args.seed, progress=bar)
    if args.json:
        report["book"] = book
        _print(report, True)
        return 0
    _print(report, False)
    print(f"\ntechins: an illustrative tech book, {_many(book['policies'], 'policy', 'policies')} with 3 common shocks, "
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


def _run_price(args) -> int:
    from techins.catalogue.rating import price_catalogue, priced_compensation
    from techins.io.outputs import output_folder
    from techins.reinsurance.compensation import read_compensation
    from techins.reporting.report import write_priced

    backend, client = _backend(args)
    scheme = read_compensation(args.compensation) if args.compensation else None
    catalogue, policies, book = _product_book(args)
    used = sorted(set(policies["product"].astype(str)))
    currencies = sorted({catalogue[p].currency for p in used})
    meta = {"command": "techins price", "catalogue": str(args.products), "portfolio": str(args.portfolio),
            "products": [f"{p} v{catalogue[p].version}" for p in used], "years": args.years, "seed": args.seed,
            "currency": "/".join(currencies), "techins": VERSION} | _dependence_meta(args, book)
    with output_folder(args.out) as folder, _progress_bar(args) as bar:  # checks --out before the long run
        priced, meta["seconds"] = _timed(lambda: price_catalogue(
            catalogue, book, args.years, args.seed, threads=args.threads, progress=bar, backend=backend,
            client=client))
        compensation = priced_compensation(priced, scheme, progress=bar) if scheme is not None else None
        files = _reported(bar, lambda: write_priced(priced, folder, meta, compensation))
    figures = compensation.summary() if compensation is not None else None
    if args.json:
        print(json.dumps(json_ready({"out": str(args.out), "book": priced.book,
                                     **({"compensation": figures} if figures is not None else {}),
                                          "lines": priced.lines.to_dict(orient="records"),
                                          "products": priced.products.to_dict(orient="records"),
                                          "files": files}), allow_nan=False))
        return 0
    b = priced.book
    print(f"techins price: {_many(b['policies'], 'policy', 'policies')} ({_many(b['coverage_rows'], 'coverage row')}), "
          f"{_many(b['years'], 'year')}, "
          f"seed {b['seed']}, {meta['seconds']:.1f} s")
    for spec in meta.get("dependence_specs", []):
        print(f"dependence: {spec}")
    print(f"expected loss {b['expected_loss']:,.0f} +/- {b['expected_loss_stderr']:,.0f}; TVaR 99% "
          f"{b['tvar_99']:,.0f} +/- {b['tvar_99_stderr']:,.0f}; technical premium {b['technical_premium']:,.0f}; "
          f"charged {b['capped_premium']:,.0f} (subsidy {b['subsidy']:,.0f})")
    print(f"{'product':<28}{'policies':>9}{'expected loss':>16}{'technical':>16}{'charged':>16}{'capped':>8}")
    for r in priced.products.itertuples():
        print(f"{r.product:<28}{r.policies:>9,}{r.expected_loss:>16,.0f}{r.technical_premium:>16,.0f}"
              f"{r.capped_premium:>16,.0f}{r.cap_binding:>8,}")
    if figures is not None:
        _print_compensation(figures)
    print(f"outputs in {args.out}/: report.html, summary.md, policies.csv/.parquet, ep_curves.png, premium_buildup.png, ...")
    return 0


def _print_compensation(s: dict) -> None:
    print(f"compensation {s['scheme']!r}: expected outlay {s['expected_outlay']:,.0f} +/- "
          f"{s['expected_outlay_stderr']:,.0f} a year; pays in {s['prob_fund_pays']:.1%} of years, "
          f"spent in {s['prob_exhausted']:.1%} of terms; capital relief {s['capital_relief']:,.0f}; "
          f"technical premium effect {s['technical_premium_effect']:,.0f}")


def _run_book_save(args) -> int:
    from techins.catalogue.rating import price_catalogue
    from techins.catalogue.snapshot import BookSnapshot, write_snapshot
    from techins.io.outputs import output_folder

    backend, client = _backend(args)
    catalogue, policies, book = _product_book(args)
    with output_folder(args.out) as folder, _progress_bar(args) as bar:  # checks --out before the long run
        priced, seconds = _timed(lambda: price_catalogue(
            catalogue, book, args.years, args.seed, threads=args.threads, progress=bar, backend=backend,
            client=client))
        manifest = _reported(bar, lambda: write_snapshot(BookSnapshot.from_priced(catalogue, priced), folder))
    report = {"out": str(args.out), **{k: v for k, v in manifest.items() if k != "files"}, "seconds": seconds}
    if args.json:
        print(json.dumps(json_ready(report), allow_nan=False))
        return 0
    print(f"techins book save: {_many(len(policies), 'policy', 'policies')}, {_many(args.years, 'year')}, "
          f"seed {args.seed}, {seconds:.1f} s; "
          f"saved in {args.out}/ (quote with `techins quote {args.products} POLICIES --book {args.out}` or "
          f"`techins serve`)")
    return 0


def _run_quote(args) -> int:
    from techins.catalogue.products import read_catalogue
    from techins.catalogue.quote import CatalogueQuoter
    from techins.catalogue.snapshot import load_snapshot
    from techins.io.outputs import write_table_atomically

    catalogue = read_catalogue(args.products)
    quoter = CatalogueQuoter(catalogue, load_snapshot(args.book, catalogue))
    candidates = _candidate_policies(args.policies)
    with _progress_bar(args, "quotes") as bar:
        quotes = quoter.quote_many(candidates, progress=bar)
    if args.out:
        write_table_atomically(quotes, args.out)
    if args.json:
        print(json.dumps(json_ready({"book": str(args.book), "years": quoter.years,
                                          "quotes": quotes.to_dict(orient="records")}), allow_nan=False))
        return 0
    print(f"techins quote: {_many(len(quotes), 'policy', 'policies')} against {args.book} "
          f"({quoter.years:,} years)")
    print(f"{'policy_id':<20}{'product':<28}{'priced as':<10}{'expected loss':>15}{'+/-':>11}{'premium':>15}")
    for r in quotes.itertuples():
        print(f"{r.policy_id:<20}{r.product:<28}{r.priced_as:<10}{r.expected_loss:>15,.0f}"
              f"{r.expected_loss_stderr:>11,.0f}{r.premium:>15,.0f}")
    if args.out:
        print(f"quotes in {args.out}")
    return 0


def _run_serve(args) -> int:
    from techins.catalogue.products import read_catalogue
    from techins.catalogue.quote import CatalogueQuoter
    from techins.catalogue.snapshot import load_snapshot
    from techins.service.app import run_server

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: give a port in 0..65535")
    catalogue = read_catalogue(args.products)
    quoter = CatalogueQuoter(catalogue, load_snapshot(args.book, catalogue))  # a bad book fails before the port binds
    run_server(quoter, args.host, args.port, log_level="warning",
               announce=f"techins serve: {_many(len(quoter.snapshot.policies), 'policy', 'policies')}, "
                        f"{_many(quoter.years, 'year')}, on http://{args.host}:{args.port} (API at /docs)")
    return 0


def _candidate_policies(path):
    """Candidate policies from CSV / Parquet (as the portfolio) or JSON (an object or a list of them)."""
    import pandas as pd

    from techins.catalogue.products import read_policies

    file = Path(path)
    if file.suffix.lower() != ".json":
        return read_policies(file)
    if not file.is_file():
        raise InputError(f"{file}: no such file")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{file}: not valid JSON ({exc})") from None
    rows = [data] if isinstance(data, dict) else data
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise InputError(f"{file}: give one policy object or a non-empty list of policy objects")
    return pd.DataFrame(rows)


def _product_book(args):
    """The catalogue, the policies and their book of coverage rows from ``PRODUCT_OR_DIR`` and
    ``--portfolio``."""
    from techins.catalogue.products import read_catalogue, read_policies

    catalogue = read_catalogue(args.products)
    policies = read_policies(args.portfolio)
    if args.product:
        for pid in args.product:
            catalogue[pid]  # an unknown id: the catalogue's message lists the products
        keep = policies["product"].astype(str).isin(args.product)
        if not keep.any():
            raise InputError(f"{args.portfolio}: no policy of product {', '.join(map(repr, args.product))}")
        policies = policies[keep].reset_index(drop=True)
    book = catalogue.book(policies, source=str(args.portfolio))
    if getattr(args, "dependence", None):
        book = _with_dependence(book, args.dependence)
    return catalogue, policies, book


def _dependence_meta(args, book) -> dict:
    """The run's dependence file and what it holds, for its metadata and reports; nothing without one
    (the outputs of runs without dependence unchanged)."""
    if not args.dependence:
        return {}
    return {"dependence": str(args.dependence),
            "dependence_specs": [d.describe() for d in book.portfolio.dependence]}


def _with_dependence(book, path):
    """``book`` with the dependence of file ``path`` (``--dependence``); its errors name the file."""
    import dataclasses

    from techins.model.dependence import read_dependence

    specs = read_dependence(path)
    try:
        return dataclasses.replace(book, portfolio=book.portfolio.with_dependence(specs))
    except (InputError, InputTypeError) as exc:
        raise type(exc)(f"{path}: {exc}") from None


def _run_reinsure(args) -> int:
    import techins as ti
    from techins.io.outputs import output_folder
    from techins.reinsurance.programme import apply_programme, read_programme
    from techins.reporting.report import write_programme
    from techins.simulation.executor import open_executor

    backend, client = _backend(args)
    programme = read_programme(args.programme)
    catalogue, policies, book = _product_book(args)
    currencies = sorted({catalogue[p].currency for p in set(policies["product"].astype(str))})
    meta = {"command": "techins reinsure", "programme": str(args.programme), "catalogue": str(args.products),
            "portfolio": str(args.portfolio), "years": args.years, "seed": args.seed, "load": args.load,
            "currency": "/".join(currencies), "techins": VERSION} | _dependence_meta(args, book)
    with output_folder(args.out) as folder, _progress_bar(args) as bar:
        start = time.perf_counter()
        # one executor (one Dask cluster or connection) for the simulation and the programme's chunks
        with open_executor("reinsure", backend, client, args.threads) as run:
            result = ti.simulate(book.portfolio, years=args.years, seed=args.seed, executor=run, progress=bar)
            applied = apply_programme(result, programme, keep_occurrences=args.ord, executor=run, progress=bar)
        meta["seconds"] = time.perf_counter() - start
        formats = ("csv", "parquet") if args.ord_format == "both" else (args.ord_format,)
        files = _reported(bar, lambda: write_programme(applied, folder, meta, load=args.load, ord_exports=args.ord,
                                                       ord_formats=formats, progress=bar))
    table = applied.treaty_table(load=args.load)
    if args.json:
        print(json.dumps(json_ready({"out": str(args.out), "treaties": table.to_dict(orient="records"),
                                          "gross_mean": float(applied.gross.mean()),
                                          "net_mean": float(applied.net.mean()), "files": files}),
                         allow_nan=False))
        return 0
    print(f"techins reinsure: {programme.name}, {_many(len(policies), 'policy', 'policies')}, "
          f"{_many(args.years, 'year')}, seed {args.seed}, "
          f"{meta['seconds']:.1f} s")
    print(f"gross {applied.gross.mean():,.0f} a year, net {applied.net.mean():,.0f}")
    print(f"{'treaty':<24}{'expected ceded':>16}{'std error':>12}{'P(loss)':>9}{'technical':>14}{'rate on line':>14}")
    for r in table.itertuples():
        print(f"{r.treaty:<24}{r.expected_ceded:>16,.0f}{r.expected_ceded_stderr:>12,.0f}{r.prob_loss:>9.3f}"
              f"{r.technical_premium:>14,.0f}{r.rate_on_line:>14.4f}")
    print(f"outputs in {args.out}/: report.html, treaties.csv/.parquet, years.*, treaty_ep_curves.*, programme_ep.*, "
          f"programme_ep.png" + (", ord/" if args.ord else ""))
    return 0


def _run_pool(args) -> int:
    from techins.io.outputs import output_folder
    from techins.pool.run import run_pool
    from techins.pool.spec import read_pool
    from techins.reporting.report import write_pool

    backend, client = _backend(args)
    spec = read_pool(args.pool_file)
    meta = {"command": "techins pool", "pool_file": str(args.pool_file), "techins": VERSION}
    if spec.dependence:  # the pool file's [dependence]; nothing without one (earlier outputs unchanged)
        meta["dependence_specs"] = [d.describe() for d in spec.dependence]
    with output_folder(args.out) as folder, _progress_bar(args) as bar:
        run, meta["seconds"] = _timed(lambda: run_pool(
            spec, years=args.years, seed=args.seed, threads=args.threads, progress=bar, backend=backend,
            client=client))
        files = _reported(bar, lambda: write_pool(run, folder, meta))
    if args.json:
        print(json.dumps(json_ready({"out": str(args.out), "pool": run.pool,
                                          "members": run.members.to_dict(orient="records"),
                                          "treaties": None if run.treaties is None
                                          else run.treaties.to_dict(orient="records"),
                                          "files": files}), allow_nan=False))
        return 0
    p = run.pool
    print(f"techins pool: {p['pool']}, {_many(p['policies'], 'policy', 'policies')}, {_many(p['members'], 'member')}, "
          f"{_many(p['years'], 'year')}, "
          f"seed {p['seed']}, {meta['seconds']:.1f} s")
    for text in meta.get("dependence_specs", []):
        print(f"dependence: {text}")
    print(f"premium {p['premium']:,.0f}; expected gross {p['expected_gross']:,.0f} +/- {p['expected_gross_stderr']:,.0f}, "
          f"recovered {p['expected_ceded']:,.0f}, reinsurance premium {p['expected_reinsurance_premium']:,.0f}; "
          f"pool capital {p['pool_capital']:,.0f}")
    print(f"{'member':<22}{'premium':>14}{'exp. result':>14}{'+/-':>11}{'Euler capital':>15}{'Shapley cap.':>15}"
          f"{'RoC':>8}")
    for r in run.members.itertuples():
        if r.role == "unplaced" and r.premium == 0.0:
            continue
        roc = getattr(r, "return_on_euler_capital", float("nan"))
        print(f"{r.member:<22}{r.premium:>14,.0f}{r.expected_result:>14,.0f}{r.expected_result_stderr:>11,.0f}"
              f"{getattr(r, 'euler_capital', float('nan')):>15,.0f}{getattr(r, 'shapley_capital', float('nan')):>15,.0f}"
              + (f"{roc:>8.1%}" if math.isfinite(roc) else f"{'-':>8}"))
    if run.compensation is not None:
        _print_compensation(run.compensation.summary())
    print(f"outputs in {args.out}/: report.html, summary.md, members.*, treaties.*, allocation.*, member_results.png, allocation.png")
    return 0


def _run_backtest(args) -> int:
    from techins.backtest.run import read_config, run_backtest, table_records
    from techins.backtest.store import RunStore

    if args.list or args.show is not None:
        if args.config is not None or args.list == (args.show is not None):
            raise InputError("backtest: give CONFIG to run, or --list or --show RUN_ID with --store")
        if args.store is None:
            raise InputError("backtest: --list and --show need --store DB")
        if not Path(args.store).is_file():
            raise InputError(f"--store {args.store}: no such run store")
        with RunStore(args.store) as store:
            if args.list:
                runs = store.runs(args.scope)
                records = [{k: _plain_value(v) for k, v in r.items()} for r in
                           runs.drop(columns=["parameters"]).to_dict(orient="records")]
                if args.json:
                    print(json.dumps({"store": str(args.store), "runs": records}))
                    return 0
                print(f"{'run':>5}  {'started (UTC)':<20}{'scope':<32}{'code':<16}inputs")
                for r in records:
                    print(f"{r['run_id']:>5}  {str(r['started'])[:19]:<20}{r['scope'][:31]:<32}{r['code_version']:<16}"
                          f"{r['inputs_hash'][:12]}")
                return 0
            run = store.load(args.show)
        lines = run.tables["lines"]
        if args.json:
            tables = {name: table_records(run.tables[name]) for name in ("lines", "calibration", "comparison")
                      if name in run.tables}
            print(json.dumps({"run_id": run.run_id, "scope": run.scope, "started": run.started.isoformat(),
                              "code_version": run.code_version, "inputs_hash": run.inputs_hash, **tables},
                             allow_nan=False))
            return 0
        print(f"run {run.run_id}: {run.scope}, {run.started:%Y-%m-%d %H:%M:%S} UTC, {run.code_version}, inputs "
              f"{run.inputs_hash[:12]}")
        _print_backtest_lines(lines)
        return 0
    if args.config is None:
        raise InputError("backtest: give CONFIG (a back-test TOML file), or --list / --show RUN_ID with --store")
    config = read_config(args.config)
    # run_backtest keeps no store unless given one; the command keeps every run (--store, else the config's)
    with _progress_bar(args, "analysis") as bar:
        run, seconds = _timed(lambda: run_backtest(config, store=args.store or config.store, out=args.out,
                                                   progress=bar))
    lines = run.experience.lines
    out = args.out or config.report
    if args.json:
        print(json.dumps({"run_id": run.run_id, "scope": run.scope, "previous_run_id": run.previous_run_id,
                          "inputs_hash": run.inputs_hash, "store": run.store, "out": str(out),
                          "flagged": lines.loc[lines["loss_making"], "line"].tolist(),
                          **{name: table_records(table) for name, table in run.tables().items()
                             if name in ("lines", "calibration", "comparison")}}, allow_nan=False))
        return 0
    print(f"techins backtest: {run.scope}, run {run.run_id} in {run.store}"
          + (f" (previous {run.previous_run_id})" if run.previous_run_id is not None else " (first of its scope)")
          + f", {seconds:.1f} s")
    _print_backtest_lines(lines)
    print(f"report: {out}/report.html")
    return 0


def _print_backtest_lines(lines) -> None:
    flagged = lines[lines["loss_making"]]
    print(f"{len(lines)} lines, {len(flagged)} loss-making beyond chance")
    print(f"{'line':<28}{'loss ratio':>11}{'combined':>10}{'p-value':>9}{'credibility':>12}{'indicated':>11}")
    for r in (flagged if len(lines) > 20 else lines).itertuples():
        print(f"{str(r.line)[:27]:<28}{r.loss_ratio:>11.3f}{r.combined_ratio:>10.3f}{r.loss_making_pvalue:>9.3f}"
              f"{r.credibility:>12.2f}{r.indicated_rate_change:>+11.1%}" + ("  loss-making" if r.loss_making else ""))


def _plain_value(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _run_products_validate(args) -> int:
    from techins.catalogue.products import read_catalogue

    catalogue = read_catalogue(args.path)
    rows = [{"id": p.id, "line": p.line, "version": p.version, "coverages": [c.name for c in p.coverages],
             "scenarios": [s.id for s in p.scenarios], "file": p.source} for p in catalogue.products.values()]
    if args.json:
        print(json.dumps({"valid": True, "products": rows}))
        return 0
    for r in rows:
        print(f"ok  {r['file']}: {r['id']} v{r['version']} ({r['line']}; coverages {', '.join(r['coverages'])})")
    print(f"{len(rows)} product(s) valid")
    return 0


@contextlib.contextmanager
def _progress_bar(args, label: str = "simulation"):
    """The command's progress bar on stderr, relabelled at each phase the library announces
    (``techins.progress``); None (no bar) with --quiet or --json or when stderr is not a terminal."""
    if args.quiet or getattr(args, "json", False) or not sys.stderr.isatty():
        yield None
        return
    from techins.progress import ProgressBar

    with ProgressBar(label) as bar:
        yield bar


def _timed(work):
    """``work()`` and the seconds it took."""
    start = time.perf_counter()
    return work(), time.perf_counter() - start


def _reported(bar, write):
    """``write()`` (a command's output files) as the bar's last phase, "report", in one step."""
    from techins.progress import announce, report

    announce(bar, "report")
    report(bar, 0, 1)
    written = write()
    if bar is not None and bar.label == "report":  # not when the writing ran a phase of its own (ORD tables)
        bar(1, 1)
    return written


def _run_warmup(args) -> int:
    from techins.cli.warmup import warmup

    with _progress_bar(args, "compiling") as bar:
        seconds = warmup(progress=bar)
    print(f"compiled and cached every kernel in {seconds:.1f} s")
    return 0


def _figures(line, years, seed, levels, with_exact, thin, threads, backend="local", client=None, *, args) -> dict:
    import techins as ti

    def run(bar):
        return ti.simulate(line, years=years, seed=seed, thin=thin, threads=threads, backend=backend, client=client,
                           progress=bar)

    with _progress_bar(args) as bar:
        sim, seconds = _timed(lambda: run(bar))
    report = {"monte_carlo": sim.summary(levels=levels), "monte_carlo_seconds": seconds}
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
        print(json.dumps(json_ready(report), allow_nan=False))
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



if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
