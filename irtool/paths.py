"""irtool's folders on disk: the cache (downloads, spill files) and the data root under it.

Kept here, below every other layer and free of heavy imports, so that the engine (spill files) and the data layer
(benchmark sets) agree on one location without importing each other.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def cache_dir() -> Path:
    """irtool's cache folder: IRTOOL_CACHE_DIR, else the platform's user cache folder."""
    if os.environ.get("IRTOOL_CACHE_DIR"):
        return Path(os.environ["IRTOOL_CACHE_DIR"]).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "irtool" / "Cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "irtool"
    return Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "irtool"


def data_root() -> Path:
    """Where benchmark sets and relative training roots live: IRTOOL_DATA_DIR, else `<cache>/datasets`."""
    env = os.environ.get("IRTOOL_DATA_DIR")
    return Path(env).expanduser() if env else cache_dir() / "datasets"
