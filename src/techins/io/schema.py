"""Every table's column names, once: the tables techins reads (policies, back-test history) and the
tables it writes (loss tables, ORD exports, priced and back-test results), with their order and, where
the code fixes them, their defaults, bounds and types.

The modules that read or write a table import its names from here; a column renamed or moved here is
renamed or moved everywhere (and ``tests/cli/test_golden_commands.py`` shows it in the outputs).
"""

from __future__ import annotations

import math

from techins.frozen import FrozenMap

__all__ = [
    "POLICY_COLUMNS", "CONTRACT_COLUMNS", "TEXT_COLUMNS",
    "PERIOD_COLUMNS", "OCCURRENCE_COLUMNS",
    "PLT_COLUMNS", "ELT_COLUMNS", "ALT_COLUMNS", "ALCT_COLUMNS", "EPT_COLUMNS", "ANNUAL_COLUMNS",
    "PERSPECTIVE_COLUMN", "ORD_TABLE_NAMES", "ORD_INPUT_COLUMNS",
    "ORD_SCHEMAS", "ORD_KEYS", "ORD_FILE_TABLES", "ORD_PERSPECTIVE_CODES", "ORD_SPEC_URL",
    "COVERAGE_TERMS", "POLICY_TERMS",
    "HISTORY_POLICY_COLUMNS", "CLAIM_COLUMNS", "EXPENSE_COLUMNS", "TRIANGLE_COLUMNS", "FORECAST_COLUMNS",
    "HISTORY_TEXT_COLUMNS", "BACKTEST_INPUTS", "RESIMULATE_COLUMNS",
    "DEVELOPMENT_COLUMNS", "DEVELOPMENT_TEXT_COLUMNS", "JSON_COLUMNS",
    "QUOTE_COLUMNS", "SNAPSHOT_COVERAGE_COLUMNS",
    "PRICED_TABLES", "REPORT_COLUMN_KINDS", "REPORT_KIND_PREFIXES",
]

# ---------------------------------------------------------------------------------------- the policies
# The policies table of a ``techins.Portfolio`` (one row per policy; its module notes give each
# column's meaning). Numeric columns: column -> (default, low, low_open, allow_inf), float64; a
# default of None means the column is required.
POLICY_COLUMNS = FrozenMap({
    "claim_rate": (None, 0.0, False, False),
    "severity_scale": (1.0, 0.0, True, False),
    "deductible": (0.0, 0.0, False, False),
    "limit": (math.inf, 0.0, True, True),
    "share": (1.0, 0.0, True, False),
    "agg_deductible": (0.0, 0.0, False, False),
    "agg_limit": (math.inf, 0.0, True, True),
    "sum_insured": (math.nan, 0.0, False, False),
})
# a contract's terms, on every row of the contract (optional, with ``contract_id``)
CONTRACT_COLUMNS = FrozenMap({
    "contract_agg_deductible": (0.0, 0.0, False, False),
    "contract_agg_limit": (math.inf, 0.0, True, True),
})
# required text columns
TEXT_COLUMNS = ("policy_id", "line", "severity")

# ---------------------------------------------------------------------------------------- loss tables
# a run's period (year) loss files: these first, then ``claims`` (a line) or ``line:<name>`` (a book)
PERIOD_COLUMNS = ("year", "loss", "max_occurrence")
# the occurrence loss table of a book
OCCURRENCE_COLUMNS = ("year", "occurrence_id", "policy_id", "line", "loss")

# ---------------------------------------------------------------------------------------- ORD exports
# The Open Results Data columns techins fills, in the order OasisLMF writes them
# (ODS_OpenResultsData Schema/ORD_List_of_Fields.csv, ORD v1).
PLT_COLUMNS = ("Period", "PeriodWeight", "EventId", "SummaryId", "SampleId", "Loss")
ELT_COLUMNS = ("EventId", "SummaryId", "SampleType", "EventRate", "MeanLoss")
ALT_COLUMNS = ("SummaryId", "SampleType", "MeanLoss", "SDLoss")
ALCT_COLUMNS = ("SummaryId", "MeanLoss", "SDLoss", "SampleSize", "LowerCI", "UpperCI", "StandardError",
                "RelativeError")
EPT_COLUMNS = ("SummaryId", "EPCalc", "EPType", "ReturnPeriod", "Loss")
# not an ORD table: one aggregate loss per period, periods without loss included
ANNUAL_COLUMNS = ("Period", "PeriodWeight", "SummaryId", "SampleId", "Loss")
# added to each table written for a perspective (gross, ceded, net)
PERSPECTIVE_COLUMN = "Perspective"
ORD_TABLE_NAMES = ("plt", "elt", "annual", "alt", "alct", "ept")
# the occurrence table the ORD tables are made from
ORD_INPUT_COLUMNS = ("year", "occurrence_id", "loss")

# The files: what each column is written as, the key that makes a row unique, and the names.
# Types from ODS_OpenResultsData Schema/ORD_Data_Types.csv (ORD_SPEC_URL): every integer field is a
# "32-bit integer" (OasisLMF's oasis_int, i4), every other field a "float". ORD does not fix the float's
# width (OasisLMF's oasis_float is f4 unless OASIS_FLOAT says f8); techins writes float64 because money
# stays float64 and a 4.5M-row PLT total must add up to the cent. ALCT is not in ORD: its columns and
# types follow OasisLMF's ALCT_output (oasislmf/pytools/aal/data.py), with its integers as int32.
ORD_SPEC_URL = "https://github.com/OasisLMF/ODS_OpenResultsData/blob/main/Schema/ORD_Data_Types.csv"
ORD_SCHEMAS = FrozenMap({
    "splt": FrozenMap({"Period": "int32", "PeriodWeight": "float64", "EventId": "int32", "SummaryId": "int32",
                       "SampleId": "int32", "Loss": "float64"}),
    "melt": FrozenMap({"EventId": "int32", "SummaryId": "int32", "SampleType": "int32", "EventRate": "float64",
                       "MeanLoss": "float64"}),
    "palt": FrozenMap({"SummaryId": "int32", "SampleType": "int32", "MeanLoss": "float64", "SDLoss": "float64"}),
    "alct": FrozenMap({"SummaryId": "int32", "MeanLoss": "float64", "SDLoss": "float64", "SampleSize": "int32",
                       "LowerCI": "float64", "UpperCI": "float64", "StandardError": "float64",
                       "RelativeError": "float64"}),
    "ept": FrozenMap({"SummaryId": "int32", "EPCalc": "int32", "EPType": "int32", "ReturnPeriod": "float64",
                      "Loss": "float64"}),
})
# the columns that identify a row (no two rows share them)
ORD_KEYS = FrozenMap({"splt": ("Period", "EventId", "SummaryId", "SampleId"),
                      "melt": ("EventId", "SummaryId", "SampleType"),
                      "palt": ("SummaryId", "SampleType"), "alct": ("SummaryId",),
                      "ept": ("SummaryId", "EPCalc", "EPType", "ReturnPeriod")})
# techins' table names (ORD_TABLE_NAMES) -> the ORD table code in the file name, as OasisLMF names its
# outputs ``<perspective>_S<summary set>_<table>.csv``: il_S1_splt.csv, il_S1_melt.csv, il_S1_palt.csv
# (the ALT by period), il_S1_alct.csv, il_S1_ept.csv
ORD_FILE_TABLES = FrozenMap({"plt": "splt", "elt": "melt", "alt": "palt", "alct": "alct", "ept": "ept"})
# techins' perspectives -> the Oasis perspective codes (ODS_OpenResultsData Schema/ORD_Perspectives.csv:
# gul ground-up, il insured loss, ri net of reinsurance, rl reinsurance loss = the ceded amount)
ORD_PERSPECTIVE_CODES = FrozenMap({"gross": "il", "ceded": "rl", "net": "ri"})

# ---------------------------------------------------------------------------------------- catalogue
# per-policy overrides of a coverage's terms in a portfolio: column "<coverage>_<term>"
COVERAGE_TERMS = ("deductible", "limit", "aggregate_deductible", "aggregate_limit", "waiting_hours",
                  "indemnity_hours")
# per-policy overrides of a product's policy terms: the column is the term
POLICY_TERMS = ("aggregate_deductible", "aggregate_limit")

# ---------------------------------------------------------------------------------------- back-test
# the required columns of each input table (docs/backtest.md)
HISTORY_POLICY_COLUMNS = ("policy_id", "line", "period", "exposure", "earned_premium", "expected_loss")
CLAIM_COLUMNS = ("claim_id", "policy_id", "accident_period", "paid", "incurred")
EXPENSE_COLUMNS = ("line", "period", "expenses", "plan")
TRIANGLE_COLUMNS = ("line", "origin", "lag", "value")
FORECAST_COLUMNS = ("line", "period")  # then one column q<probability> per quantile
# read from CSV as text: "007" is an id, not the number 7
HISTORY_TEXT_COLUMNS = ("policy_id", "claim_id", "line")
# the input tables, in the order the run hashes them
BACKTEST_INPUTS = ("policies", "claims", "expenses", "triangles", "forecasts")
# the policies' columns the forecasts are re-simulated from (besides the products' rating columns)
RESIMULATE_COLUMNS = ("policy_id", "line", "period", "product", "version", "seed")
# the development table of the results; all float64 but its text columns
DEVELOPMENT_COLUMNS = ("line", "origin", "latest", "lag", "cdf", "ultimate", "reserve", "mack_se")
DEVELOPMENT_TEXT_COLUMNS = ("line",)
# the lines table's columns holding a JSON object as text (a table cell is a scalar in CSV and in the store)
JSON_COLUMNS = ("severity_parameters", "severity_stderrs")

# ---------------------------------------------------------------------------------------- priced tables
# the tables of a priced portfolio (``techins price``), in the order they are written
PRICED_TABLES = ("policies", "coverages", "lines", "products", "ep_curves")


# ---------------------------------------------------------------------------------------- quotes
# the columns of a catalogue quote, in order (docs/quote-service.md says what each one is)
QUOTE_COLUMNS = ("policy_id", "product", "line", "currency", "priced_as", "years", "expected_loss",
                 "expected_loss_stderr", "expected_loss_closed_form", "risk_measure", "risk_load_parameter",
                 "capital_level", "co_tvar", "allocated_capital", "incremental_capital", "risk_load",
                 "fixed_expense", "variable_expense", "profit", "technical_premium", "rate_cap", "rate_cap_base",
                 "premium_cap", "cap_binding", "capped_premium", "shortfall", "subsidy", "insured_pays", "premium")
# the coverage-row columns that decide what the simulator does with a row (a policy whose rows agree on
# all of them, and on its scenario exposure, is the book's policy)
SNAPSHOT_COVERAGE_COLUMNS = ("policy_id", "line", "claim_rate", "severity", "severity_scale", "deductible", "limit",
                             "share", "agg_deductible", "agg_limit", "sum_insured", "contract_id",
                             "contract_agg_deductible", "contract_agg_limit")


# ---------------------------------------------------------------------------------------- report columns
# How each column a report page shows is formatted (``techins.display.value_text``): money with the
# currency, shares / ratios / probabilities as %, counts as integers, numbers (test statistics,
# p-values, rates) to 4 digits, flags yes / no, labels (periods, ids) as they are, text. Decided here
# per column, never guessed from the values: a report asked to show a column missing here fails.
_MONEY = ("expected_loss", "expected_loss_stderr", "std", "tvar_99", "tvar_99_stderr", "var_99_5",
          "var_99_5_stderr", "standalone_capital", "allocated_capital", "diversification_benefit", "technical_premium",
          "capped_premium", "subsidy", "risk_load", "fixed_expense", "variable_expense", "profit", "shortfall",
          "insured_pays", "premium", "fee_income", "expected_result", "expected_result_stderr", "result_std",
          "result_1_in_100", "proportional_to_share", "proportional_to_standalone", "euler_capital", "shapley_capital",
          "shapley_benefit", "shapley_benefit_stderr", "expected_gross", "expected_gross_stderr", "expected_ceded",
          "expected_ceded_stderr", "expected_net", "expected_net_stderr", "commission",
          "expected_reinstatement_premium", "expected_reinsurer_result", "expected_reinsurer_result_stderr", "var",
          "tvar", "capital_in_pool", "earned_premium", "ultimate_loss", "incurred", "excess_over_breakeven",
          "repriced_expected_loss", "repriced_premium", "current_premium", "expenses", "expense_plan", "fees",
          "admin_expense", "expected_reinsurance_premium", "pool_capital")
_SHARE = ("loss_ratio", "prob_loss_making", "return_on_standalone_capital", "return_on_euler_capital",
          "return_on_shapley_capital", "gross_loss_ratio", "prob_reinsurer_loss", "prob_loss", "expected_loss_ratio",
          "expense_ratio", "combined_ratio", "combined_ratio_trend", "trend_stderr", "experience_loss_ratio",
          "priced_loss_ratio", "permissible_loss_ratio", "complement_loss_ratio", "credibility",
          "credibility_loss_ratio", "indicated_rate_change", "repriced_change", "expense_vs_plan",
          "interval_coverage", "interval_level", "var_level", "level", "rate_on_line")
_COUNT = ("policies", "cap_binding", "periods", "claims", "var_exceedances", "claims_near_limit",
          "claims_above_model_quantile", "coverage_rows", "members", "years", "n_runs")
_NUMBER = ("expected_claims", "loss_making_z", "loss_making_pvalue", "trend_pvalue", "pit_ks_pvalue",
           "kupiec_pvalue", "crps_mean", "fitted_claim_rate", "fitted_claim_rate_stderr",
           "expected_above_model_quantile", "above_quantile_pvalue", "severity_drift", "severity_drift_stderr",
           "severity_drift_pvalue", "pit_ks_statistic", "pit_chi2_pvalue", "expected_exceedances",
           "kupiec_statistic", "premium_reconciliation_error", "loss_reconciliation_error")
_FLAG = ("loss_making", "meets_hurdle_euler", "brings_book", "kupiec_rejected", "expense_over_plan",
         "identical_to_this_run")
_LABEL = ("first_period", "last_period", "period", "seed", "run_id", "previous_run_id", "first_run_id",
          "last_run_id")
_TEXT = ("line", "product", "member", "role", "treaty", "premium_basis", "type", "credibility_method",
         "fitted_severity", "severity_fit_note", "scope", "code_version", "inputs_hash", "run_ids", "started",
         "shapley_method", "pool")
REPORT_COLUMN_KINDS = FrozenMap({
    **{c: "money" for c in _MONEY}, **{c: "share" for c in _SHARE}, **{c: "count" for c in _COUNT},
    **{c: "number" for c in _NUMBER}, **{c: "flag" for c in _FLAG}, **{c: "label" for c in _LABEL},
    **{c: "text" for c in _TEXT},
    # the comparison with the previous back-test run: the same kind as the figure compared
    **{f"{prefix}_{c}": kind for prefix in ("previous", "change")
       for c, kind in (("loss_ratio", "share"), ("combined_ratio", "share"), ("credibility_loss_ratio", "share"),
                       ("indicated_rate_change", "share"))},
    "previous_loss_making": "flag", "change_loss_making": "number",
})
# columns named after a line or a member: ``share_<line>`` (a member's share of a line)
REPORT_KIND_PREFIXES = FrozenMap({"share_": "share"})
del _MONEY, _SHARE, _COUNT, _NUMBER, _FLAG, _LABEL, _TEXT
