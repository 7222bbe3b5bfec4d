"""Fixtures for the ops tests: benchmark images read as the RGB(A)/grey arrays the rest of irtool uses."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


@pytest.fixture(scope="session")
def read_rgb():
    """Read a PNG as (H, W, C) uint8 in RGB order (C = 1 for grey files), without going through irtool.io."""

    def read(path: Path) -> np.ndarray:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert img is not None, f"cannot read {path}"
        return img[:, :, None] if img.ndim == 2 else np.ascontiguousarray(img[:, :, ::-1])

    return read
