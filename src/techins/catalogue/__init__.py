"""The product catalogue (products/*.toml), a portfolio priced against it, and the quote path."""
