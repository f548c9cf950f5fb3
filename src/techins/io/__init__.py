"""Readers and writers at the boundary: output folders written atomically, tables, run.json."""
