"""Co-insurance pools: their specs, the members' money and the pool run."""
