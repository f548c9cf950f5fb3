"""techins: tech-insurance pricing and co-insurance engine."""
