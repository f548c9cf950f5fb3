"""The techins command: it parses and calls the library."""
