"""The quote service: the catalogue quoter behind HTTP (``techins serve``)."""
