from __future__ import annotations

import contextlib

import torch
from torch import nn

from irtool.models.norms import ILN, LayerNorm, make_norm, record_statistics, residual, use_statistics


def test_iln_statistics_span_all_tokens_and_channels():
    torch.manual_seed(0)
    x = torch.randn(2, 7, 9, 5) * torch.tensor([1.0, 3.0]).view(2, 1, 1, 1) + 4
    y, std = ILN(5)(x)
    assert std.shape == (2, 1, 1, 1)
    assert torch.allclose(std.flatten() ** 2 - 1e-4, x.flatten(1).var(1, unbiased=False), atol=1e-4)
    assert torch.allclose(y.flatten(1).mean(1), torch.zeros(2), atol=1e-5)


def test_bias_free_layernorm_does_not_centre_x():
    x = torch.randn(3, 4, 8) + 5
    y, std = LayerNorm(8, bias=False)(x)
    assert std is None
    expected = x / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + 1e-5)
    assert torch.allclose(y, expected, atol=1e-6)


class _TwoBlocks(nn.Module):
    """A tiny pointwise 'transformer' with i-LN: whole-image statistics make it non-local."""

    def __init__(self, c: int = 6):
        super().__init__()
        self.n1, self.n2 = make_norm("iln", c), make_norm("iln", c)
        self.f1, self.f2 = nn.Linear(c, c), nn.Linear(c, c)

    def forward(self, x):
        y, s = self.n1(x)
        x = residual(x, self.f1(y), s)
        y, s = self.n2(x)
        return residual(x, self.f2(y), s)


def test_tiles_with_shared_statistics_equal_the_whole_image():
    torch.manual_seed(0)
    m = _TwoBlocks()
    img = torch.randn(1, 32, 40, 6) * 2 + 1
    whole = m(img)
    # Without shared statistics tiles differ (the point of the hook) ...
    naive = m(img[:, :16, :20])
    assert (naive - whole[:, :16, :20]).abs().max() > 1e-3
    # ... with them they are equal.
    with record_statistics(m) as stats:
        m(img)
    assert len(stats) == 2
    with use_statistics(m, stats):
        tiles = [m(img[:, i : i + 16, j : j + 20]) for i in (0, 16) for j in (0, 20)]
        batch = m(torch.cat([img[:, :16, :20], img[:, 16:, 20:]]))
    assert torch.allclose(tiles[0], whole[:, :16, :20], atol=1e-5)
    assert torch.allclose(tiles[3], whole[:, 16:, 20:], atol=1e-5)
    assert torch.allclose(batch[1:], whole[:, 16:, 20:], atol=1e-5)


class _FailOnce(nn.Module):
    """Raises on its first call, as an out-of-memory error part-way through a forward pass would."""

    def __init__(self):
        super().__init__()
        self.armed = True

    def forward(self, x):
        if self.armed:
            self.armed = False
            raise RuntimeError("out of memory (simulated)")
        return x


def test_a_pass_cut_short_does_not_shift_the_statistics_of_later_passes():
    torch.manual_seed(0)
    m = _TwoBlocks()
    m.n2 = m.n1  # one i-LN module called twice per pass: its statistics are replayed by call order
    img = torch.randn(1, 16, 16, 6) * 2 + 1
    with record_statistics(m) as stats:
        whole = m(img)
    m.f1 = nn.Sequential(_FailOnce(), m.f1)  # fails once between the first i-LN call and the second
    with use_statistics(m, stats):
        with contextlib.suppress(RuntimeError):
            m(img[:, :8])
        tile = m(img[:, :8])  # the retry
    assert torch.allclose(tile, whole[:, :8], atol=1e-5)


def test_each_recorded_pass_starts_afresh():
    torch.manual_seed(0)
    m = _TwoBlocks()
    img = torch.randn(1, 16, 16, 6) * 2 + 1
    with record_statistics(m) as stats:
        m(img * 100)  # e.g. a reduced-precision pass that overflowed, then recorded again
        whole = m(img)
    assert len(stats) == 2  # one entry per i-LN call of the last pass
    with use_statistics(m, stats):
        assert torch.allclose(m(img[:, 8:]), whole[:, 8:], atol=1e-5)
