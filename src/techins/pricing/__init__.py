"""Premium principles, risk loads, caps and subsidies, and the allocation of capital and loads."""
