"""The installed techins version, read once from the package metadata (``pyproject.toml`` holds it)."""

from importlib.metadata import version as _installed_version

__all__ = ["VERSION"]

VERSION = _installed_version("techins")
