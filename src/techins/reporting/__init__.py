"""Output folders written atomically, tables, run.json, plots and summaries."""
