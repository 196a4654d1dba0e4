"""The packaging tests share one wheel built from this checkout and installed into a fresh venv outside it."""

from __future__ import annotations

from packaging_support import Installed, installed

__all__ = ["Installed", "installed"]
