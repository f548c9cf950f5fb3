"""Treaties, programmes in inuring order applied to simulated occurrences, and ORD exports."""
