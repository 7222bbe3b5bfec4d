"""The x8 self-ensemble: exact for equivariant maps, the mean of the eight views for others, on arrays and tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from irtool.engine import Runner
from irtool.engine.ensemble import self_ensemble
from tests.engine.conftest import TinyCNN


def test_an_equivariant_map_is_unchanged():
    # Nearest-neighbour x2 upscaling commutes with every rotation and mirror: the ensemble must give it back.
    def up(x: np.ndarray) -> np.ndarray:
        return x.repeat(2, axis=-2).repeat(2, axis=-1) * 1.5

    x = np.random.default_rng(0).random((2, 3, 5, 7), dtype=np.float32)
    np.testing.assert_allclose(self_ensemble(up)(x), up(x), rtol=0, atol=1e-6)


def test_the_eight_views_are_averaged():
    # A map that is not equivariant: add the column index. Its ensemble is the mean of the index over the eight
    # transforms, written back in the image's own frame.
    def add_column(x: np.ndarray) -> np.ndarray:
        return x + np.arange(x.shape[-1], dtype=np.float32)

    h, w = 4, 6
    x = np.zeros((1, 1, h, w), np.float32)
    got = self_ensemble(add_column)(x)[0, 0]
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    # Columns of the transformed image, seen from the original frame: col, w-1-col (x2 each for 0 and 180 degrees
    # with and without mirroring) and row, h-1-row (for 90 and 270 degrees).
    expected = (2 * cols + 2 * (w - 1 - cols) + 2 * rows + 2 * (h - 1 - rows)) / 8
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_tensors_and_arrays_agree(seeded):
    model = TinyCNN(scale=2).eval()
    x = torch.rand(1, 3, 9, 13)
    with torch.no_grad():
        on_tensor = self_ensemble(model)(x)
        on_array = self_ensemble(lambda a: model(torch.from_numpy(a)).numpy())(x.numpy())
        plain = model(x)
    assert on_tensor.shape == plain.shape == (1, 3, 18, 26)
    np.testing.assert_allclose(on_tensor.numpy(), on_array, atol=1e-6)
    assert (on_tensor - plain).abs().max() > 1e-4  # a random CNN is not equivariant: the ensemble did something


@pytest.mark.parametrize("tile", [0, 24])
def test_runner_tta_equals_the_ensemble_of_the_whole_image(seeded, tile):
    model = TinyCNN(scale=2).eval()
    x = torch.rand(3, 30, 23)
    with torch.no_grad():
        expected = self_ensemble(model)(x[None])[0]
    runner = Runner(model, device="cpu", tile=tile, overlap=6, tta=True)
    got = runner.restore(x)
    assert runner.last_plan.tile_count == (1 if tile == 0 else 2)
    # Tiles with an overlap covering the receptive field give the whole-image result, ensemble or not.
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_eval_records_the_ensemble(seeded):
    from irtool.evaluate import evaluate
    from irtool.models import create

    images = [np.random.default_rng(1).integers(0, 256, (24, 20, 3), dtype=np.uint8)]
    plain = evaluate(create("bicubic", scale=2), images, "sr", scale=2)
    ens = evaluate(create("bicubic", scale=2), images, "sr", scale=2, self_ensemble=True)
    assert plain.run["self_ensemble"] is False and ens.run["self_ensemble"] is True
    # Bicubic is mirror-symmetric, so the ensemble changes it only at rounding level.
    assert abs(ens.psnr - plain.psnr) < 0.05
