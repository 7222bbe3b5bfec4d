from __future__ import annotations

import pytest
import torch

from irtool.models import create
from irtool.models.profile import count_params

COMPACT = ["compact-sr-x2", "compact-sr-x3", "compact-sr-x4", "compact-denoise"]


@pytest.mark.parametrize("name", COMPACT)
def test_compact_configs_are_small_and_run_on_odd_sizes(name):
    torch.manual_seed(0)
    model = create(name).eval()
    assert count_params(model) <= 1_000_000
    d = model.descriptor
    assert d.name == name and d.arch.startswith("hiir") and d.global_stats  # i-LN
    x = torch.rand(1, 3, 21, 27)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (1, 3, 21 * d.scale, 27 * d.scale)
    assert d.task == ("denoise" if name == "compact-denoise" else "sr")


def test_compact_layernorm_variant_has_no_global_statistics():
    assert not create("compact-sr-x4", norm="ln").descriptor.global_stats


def test_compact_denoise_is_recognised_from_its_keys():
    from irtool.models import registry

    model = create("compact-denoise").eval()
    arch, hparams = registry.detect(model.state_dict())
    rebuilt = registry.build(arch, hparams).eval()
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    assert rebuilt.descriptor.size_multiple == model.descriptor.size_multiple == 128
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))


def test_compact_sr_starts_as_bicubic():
    model = create("compact-sr-x2").eval()
    x = torch.rand(1, 3, 12, 16)
    with torch.no_grad():
        expected = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        assert torch.allclose(model(x), expected, atol=1e-6)


@pytest.mark.parametrize("name", ["compact-sr-x4", "sr-x2"])
def test_compact_sr_is_recognised_from_its_keys(name):
    """A bare state_dict (no header) of the conv + attention hybrid rebuilds the same network."""
    from irtool.models import registry

    model = create(name).eval()
    arch, hparams = registry.detect(model.state_dict())
    # the image residual leaves no trace in the weights: the one hyper-parameter a bare state_dict cannot give
    assert {k: v for k, v in hparams.items() if k != "image_residual"} == {
        k: v for k, v in model.descriptor.hparams.items() if k not in ("image_residual", "upsampler_channels")
    }
    rebuilt = registry.build(arch, {**hparams, "image_residual": "bicubic"}).eval()
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x = torch.rand(1, 3, 12, 20)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))
