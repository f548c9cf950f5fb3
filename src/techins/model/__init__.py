"""What is insured: frequency and severity laws, lines and layers, portfolios of policies and their common shocks."""
