"""The installed version of damjax (foundation layer: importable from anywhere in the package)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("damjax")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
