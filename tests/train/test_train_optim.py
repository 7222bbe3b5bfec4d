"""The optimiser step that needs no host sync: non-finite gradients skip it on the device; the EMA in one lerp."""

from __future__ import annotations

import copy

import pytest
import torch

from irtool.train.config import TrainConfig, from_dict
from irtool.train.ema import EMA
from irtool.train.optim import adamw, make_loss, step_unless


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 3, 1))


def _config(**optim) -> TrainConfig:
    data = {"task": "sr", "roots": ["x"], "scale": 2}
    return from_dict({"model": {"name": "sr-x2"}, "data": data, "schedule": {"steps": 1}, "optim": optim})


def test_each_loss_is_the_one_named():
    pred, target = torch.tensor([0.0, 0.0, 0.0, 3.0]), torch.zeros(4)
    assert make_loss(_config(loss="l1"))(pred, target).item() == pytest.approx(0.75)
    assert make_loss(_config(loss="l2"))(pred, target).item() == pytest.approx(2.25)
    charbonnier = make_loss(_config(loss="charbonnier", charbonnier_eps=1.0))(pred, target).item()
    assert charbonnier == pytest.approx((3 * 1.0 + 10**0.5) / 4)


@pytest.mark.parametrize("fused", [True, False])
def test_a_bad_step_is_skipped_and_a_good_one_taken(fused):
    net = _net()
    optimizer = adamw(net, _config())
    if not fused:  # the fallback for devices without a fused AdamW: the host decides
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    assert bool(optimizer.defaults.get("fused")) is fused
    before = copy.deepcopy(net.state_dict())
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    step_unless(optimizer, torch.tensor(1.0))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # skipped: nothing moved
    step_unless(optimizer, torch.tensor(0.0))
    assert not torch.equal(before["0.weight"], net.state_dict()["0.weight"])


def test_ema_matches_a_per_tensor_average():
    net = _net()
    ema, reference = EMA(net, 0.99), copy.deepcopy(net)
    for _ in range(3):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
            net[1].num_batches_tracked += 1
        decay = ema.current_decay()
        with torch.no_grad():
            ref = reference.state_dict()
            for name, value in net.state_dict().items():
                if value.dtype.is_floating_point:
                    ref[name].lerp_(value, 1 - decay)
                else:
                    ref[name].copy_(value)
        ema.update(net)
    for name, value in reference.state_dict().items():
        assert torch.equal(ema.model.state_dict()[name], value), name
    assert int(ema.model[1].num_batches_tracked) == 3
