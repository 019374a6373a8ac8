"""The installed version of linssl (from the package metadata, so it is defined in one place)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("linssl")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"
