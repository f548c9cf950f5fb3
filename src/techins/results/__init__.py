"""Simulation results, risk figures with their standard errors and EP curves."""
