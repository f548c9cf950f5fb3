# The two commands of the README: `make run` and `make test`. Each sets itself up in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench warmup clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,dask,serve,chainladder]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/techins demo
	$(BIN)/techins price products --portfolio examples/portfolio.csv --years 100000 --seed 1 --out out/pricing \
		--compensation examples/compensation/ip_risk_compensation.toml
	$(BIN)/techins price products --portfolio examples/portfolio_action_plan.csv --years 100000 --seed 1 \
		--out out/pricing_action_plan
	$(BIN)/techins price products --portfolio examples/portfolio.csv --years 20000 --seed 1 \
		--dependence examples/dependence/tech_lines.toml --out out/pricing_dependent
	$(BIN)/techins book save products --portfolio examples/portfolio.csv --years 100000 --seed 1 --out out/book
	$(BIN)/techins quote products examples/quotes/candidates.json --book out/book --out out/quotes.csv
	$(BIN)/techins pool examples/pools/cyber_pool.toml --out out/pool_cyber
	$(BIN)/techins pool examples/pools/fok_equipment_pool.toml --out out/pool_fok_equipment
	$(BIN)/techins pool examples/pools/ip_coinsurance_body.toml --out out/pool_ip
	$(BIN)/techins backtest examples/backtest/tech_lines_backtest.toml
	$(BIN)/techins backtest examples/backtest/cas_backtest.toml

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks -q --benchmark-columns=min,median,mean,rounds --benchmark-sort=name

warmup: $(STAMP)
	$(BIN)/techins warmup

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
