"""The command's contract: figures on stdout (one JSON object with --json), and for bad input exit
status 2 with one line on stderr naming the file, field and value, never a traceback."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import techins

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "examples" / "lines" / "reference_poisson_lognormal.toml"


def test_simulate_json_is_one_object_with_errors():
    run = techins("simulate", REFERENCE, "--years", 20_000, "--seed", 3, "--exact", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    mc, ex = report["monte_carlo"], report["exact"]
    assert mc["years"] == 20_000 and mc["seed"] == 3
    assert mc["mean_stderr"] > 0 and mc["tvar_99_stderr"] > 0 and mc["quantile_995_stderr"] >= 0
    assert abs(mc["mean"] - ex["mean"]) < 4 * mc["mean_stderr"]
    assert ex["mean"] == pytest.approx(199_982.95, rel=1e-4)


def test_simulate_table_for_people():
    run = techins("simulate", ROOT / "examples" / "lines" / "cyber_sme_layer.toml", "--years", 5000)
    assert run.returncode == 0, run.stderr
    assert "mean" in run.stdout and "std error" in run.stdout


BAD_FILES = {
    "syntax": ("[frequency\nlaw = 'poisson'\n", "not valid TOML"),
    "sigma": ("[frequency]\nlaw='poisson'\nmean=1.0\n[severity]\nlaw='lognormal'\nmu=1.0\nsigma=0.0\n",
              r"\[severity\] LogNormal: sigma must be in \(0, inf\], got 0.0"),
    "unknown_law": ("[frequency]\nlaw='poison'\nmean=1.0\n[severity]\nlaw='gamma'\nshape=1.0\nscale=1.0\n",
                    "law 'poison' is unknown"),
    "unknown_key": ("[frequency]\nlaw='poisson'\nmean=1.0\nmeen=2.0\n[severity]\nlaw='exponential'\n"
                    "mean=1.0\n", "unknown key 'meen'"),
    "negative_limit": ("[frequency]\nlaw='poisson'\nmean=1.0\n[severity]\nlaw='exponential'\nmean=1.0\n"
                       "[occurrence]\nlimit=-5.0\n", r"\[occurrence\] Layer: limit .* got -5.0"),
    "nan": ("[frequency]\nlaw='poisson'\nmean=nan\n[severity]\nlaw='exponential'\nmean=1.0\n",
            "mean must be a number, got NaN"),
    "missing_table": ("[frequency]\nlaw='poisson'\nmean=1.0\n", r"missing table \[severity\]"),
    "text_for_number": ("[frequency]\nlaw='poisson'\nmean='five'\n[severity]\nlaw='exponential'\n"
                        "mean=1.0\n", "mean must be a real number, got 'five'"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_line_file_exits_2_with_one_line(tmp_path, case):
    text, message = BAD_FILES[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    run = techins("simulate", path, "--years", 100)
    assert run.returncode == 2
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert str(path) in lines[0]
    assert re.search(message, lines[0]), lines[0]


@pytest.mark.parametrize("args,message", [
    (["--years", "0"], "--years: must be a whole number >= 1"),
    (["--seed", "-3"], "seed must be an integer in"),
    (["--threads", "0"], "--threads: must be a whole number >= 1"),
])
def test_bad_run_arguments_exit_2(args, message):
    run = techins("simulate", REFERENCE, *args)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and message in run.stderr


def test_missing_file_exits_2(tmp_path):
    run = techins("simulate", tmp_path / "nope.toml")
    assert run.returncode == 2 and "no such file" in run.stderr and "Traceback" not in run.stderr


def test_demo_runs_and_checks_itself():
    run = techins("demo", "--years", 50_000, "--book-years", 5_000, "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert abs(report["monte_carlo"]["mean"] - report["exact"]["mean"]) < 4 * report["monte_carlo"]["mean_stderr"]
    book = report["book"]
    # the lines' allocated capitals add up to the book's capital; premiums are positive
    assert sum(row["allocated_capital"] for row in book["lines"]) == pytest.approx(book["capital"], rel=1e-9)
    assert book["quote"]["marginal_premium"] > 0


def test_demo_table_for_people():
    run = techins("demo", "--years", 20_000, "--book-years", 2_000)
    assert run.returncode == 0, run.stderr
    assert "diversification" in run.stdout and "quote for a new cyber policy" in run.stdout


def test_console_script_and_module_agree():
    script = Path(sys.executable).with_name("techins")
    run = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.startswith("techins ")


@pytest.mark.slow
def test_line_on_the_command_line_matches_the_file():
    inline = techins("simulate", "--frequency", "poisson:mean=5", "--severity", "lognormal:mu=10,sigma=2",
                     "--occurrence", "limit=5e6,deductible=1e6", "--years", 20_000, "--seed", 3, "--json")
    from_file = techins("simulate", REFERENCE, "--years", 20_000, "--seed", 3, "--json")
    assert inline.returncode == 0, inline.stderr
    assert json.loads(inline.stdout)["monte_carlo"] == json.loads(from_file.stdout)["monte_carlo"]


@pytest.mark.parametrize("args,message", [
    (["--frequency", "poisson:mean=5", "--severity", "lognormal:mu=10,sigma=x"], "sigma must be a number"),
    (["--frequency", "poisson", "--severity", "gamma:shape=1,scale=1"], "LAW:KEY=VALUE"),
    (["--frequency", "poisson:mean=5"], "missing table [severity]"),
    ([], "give a line file"),
    (["--years", "ten"], "--years: must be a whole number such as 100000 or 1e5"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_command_line_exits_2_with_one_line(args, message):
    run = techins("simulate", *args)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], run.stderr


@pytest.mark.slow
def test_warmup_compiles_every_entry_point():
    run = techins("warmup")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("compiled and cached every kernel in")


def test_warmup_reports_each_kernel_family():
    from techins.cli.warmup import STEPS, warmup

    seen, phases = [], []

    class Recorder:
        def __call__(self, done, total):
            seen.append((done, total))

        def phase(self, name):
            phases.append(name)

    warmup(progress=Recorder())
    assert phases == ["compiling"]
    assert seen == [(k, STEPS) for k in range(STEPS + 1)]
