"""Runner: tiled restore through the public API, out-of-memory back-off, NaN guard, devices and precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from irtool.engine import Runner, devices, restore_image
from irtool.engine import runner as runner_module
from irtool.engine.devices import choose_precision, resolve_device
from irtool.errors import ResourceError, UsageError
from irtool.models.descriptor import ModelDescriptor
from tests.engine.conftest import TinyCNN, TinyILN


class RaisesOOMAbove(nn.Module):
    """A 1x1 convolution that 'runs out of memory' on inputs larger than `limit` pixels."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit
        self.conv = nn.Conv2d(3, 3, 1)
        self.calls = 0
        self.descriptor = ModelDescriptor(arch="oom", task="denoise")

    def forward(self, x):
        self.calls += 1
        if x.shape[-1] * x.shape[-2] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return self.conv(x)


class NaNUnderAutocast(nn.Module):
    """Gives NaN whenever it runs in reduced precision, like an fp16 overflow would."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.descriptor = ModelDescriptor(arch="nan", task="denoise", fp16_safe=True)

    def forward(self, x):
        y = self.conv(x)
        return y * float("nan") if torch.is_autocast_enabled("cpu") else y


def test_restore_image_numpy_in_numpy_out(seeded):
    model = TinyCNN(scale=2).eval()
    x = np.random.default_rng(0).random((3, 40, 30), dtype=np.float32)
    out = restore_image(model, x, tile=32, overlap=6, device="cpu")
    assert isinstance(out, np.ndarray) and out.shape == (3, 80, 60) and out.dtype == np.float32
    with torch.no_grad():
        whole = model(torch.from_numpy(x)[None])[0].numpy()
    np.testing.assert_allclose(out, whole, atol=2e-5)
    batch = Runner(model, device="cpu", tile=0).restore(torch.from_numpy(np.stack([x, x])))
    assert isinstance(batch, torch.Tensor) and batch.shape == (2, 3, 80, 60)


def test_wrong_channel_count_is_a_usage_error(seeded):
    with pytest.raises(UsageError, match=r"\(3, H, W\)"):
        restore_image(TinyCNN(), np.zeros((1, 8, 8), np.float32), device="cpu")


def test_out_of_memory_halves_the_tile_and_retries(seeded):
    model = RaisesOOMAbove(limit=40 * 40)
    logs: list[str] = []
    runner = Runner(model, device="cpu", tile=128, overlap=4, log=logs.append)
    x = torch.rand(3, 100, 90)
    out = runner.restore(x)
    assert runner.oom_retries == 2 and runner.tile == 32  # whole 100x90 -> (OOM) 50 -> (OOM) 32
    assert runner.last_plan is not None and runner.last_plan.tile_size <= 40
    assert any("retrying with 32px tiles" in line for line in logs)
    with torch.no_grad():
        torch.testing.assert_close(out, model.conv(x[None])[0], atol=1e-6, rtol=0)
    # The smaller tile sticks: the next image does not hit the limit again.
    before = model.calls
    runner.restore(torch.rand(3, 60, 60))
    assert runner.oom_retries == 2 and model.calls - before == runner.last_plan.tile_count


@pytest.mark.parametrize(
    "message",
    [
        "[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB",
        "MPS backend out of memory (MPS allocated: 17.00 GB)",
        "cuDNN error: CUDNN_STATUS_ALLOC_FAILED",
    ],
)
def test_allocation_failures_that_are_not_out_of_memory_errors_also_back_off(message):
    class Fails(RaisesOOMAbove):
        def forward(self, x):
            if x.shape[-1] * x.shape[-2] > self.limit:
                raise RuntimeError(message)
            return self.conv(x)

    runner = Runner(Fails(limit=40 * 40), device="cpu", tile=0, overlap=4)
    runner.restore(torch.rand(3, 64, 64))
    assert runner.oom_retries >= 1 and runner.last_plan.tile_size <= 40
    with pytest.raises(RuntimeError, match="model broke"):  # other errors are not taken for memory
        Runner(_Broken(), device="cpu").restore(torch.rand(3, 8, 8))


class _Broken(RaisesOOMAbove):
    def __init__(self):
        super().__init__(limit=0)

    def forward(self, x):
        raise RuntimeError("model broke")


def test_out_of_memory_at_the_smallest_tile_is_a_resource_error():
    runner = Runner(RaisesOOMAbove(limit=10 * 10), device="cpu", tile=64, overlap=4)
    with pytest.raises(ResourceError, match="out of memory"):
        runner.restore(torch.rand(3, 80, 80))


def test_nan_in_reduced_precision_is_redone_in_fp32(seeded):
    model = NaNUnderAutocast().eval()
    runner = Runner(model, device="cpu", precision="bf16", tile=32, overlap=4)
    x = torch.rand(3, 50, 50)
    out = runner.restore(x)
    assert torch.isfinite(out).all()
    assert runner.nan_retries == runner.last_plan.tile_count > 1
    with torch.no_grad():
        torch.testing.assert_close(out, model(x[None])[0], atol=1e-5, rtol=0)


def test_iln_model_too_large_for_one_tile_uses_statistics_of_a_mosaic(seeded):
    model = TinyILN().eval()
    # Smooth content, like a photo at this scale: downscaling keeps its statistics (white noise would not).
    yy, xx = torch.meshgrid(torch.linspace(0, 3, 96), torch.linspace(0, 3, 96), indexing="ij")
    x = torch.stack([torch.sin(xx) * 0.3 + 0.5, torch.cos(yy) * xx / 6 + 0.3, (xx * yy).sin() * 0.2 + 0.4])
    logs: list[str] = []
    runner = Runner(model, device="cpu", tile=48, overlap=8, log=logs.append)
    out = runner.restore(x)
    assert any("full-resolution crops covering 1/" in line for line in logs), logs
    with torch.no_grad():
        whole = model(x[None])[0]
        naive = Runner(TinyILN_like(model), device="cpu", tile=48, overlap=8).restore(x)
    shared_error = (out - whole).abs().max()
    assert shared_error < 0.01
    assert shared_error < (naive - whole).abs().max()  # better than letting every tile normalise itself
    # An image that fits one tile runs whole: exact.
    small = torch.rand(3, 40, 40)
    torch.testing.assert_close(runner.restore(small), model(small[None])[0], atol=1e-6, rtol=0)


def test_shipped_denoiser_tiled_keeps_its_quality_on_a_noisy_image():
    """Statistics from a downscaled image (a quarter of the noise) cost this 3.3 dB; full-resolution crops do not."""
    from irtool.models import load

    model = load("denoise")
    yy, xx = torch.meshgrid(torch.linspace(0, 6, 256), torch.linspace(0, 6, 256), indexing="ij")
    clean = torch.stack([torch.sin(xx + yy), torch.cos(0.7 * xx - yy), torch.sin(0.3 * xx * yy)]) * 0.3 + 0.5
    noisy = clean + torch.randn(clean.shape, generator=torch.Generator().manual_seed(0)) * 25 / 255

    def psnr(y: torch.Tensor) -> float:
        return float(-10 * torch.log10(((y.clamp(0, 1) - clean) ** 2).mean()))

    whole = Runner(model, device="cpu", tile=0).restore(noisy)
    runner = Runner(model, device="cpu", tile=128)
    tiled = runner.restore(noisy)
    assert runner.last_plan.tile_count > 1
    assert abs(psnr(tiled) - psnr(whole)) < 0.3
    assert (tiled - whole).abs().mean() < 0.5 / 255


def test_shipped_denoiser_leaves_a_clean_gradient_alone():
    """The first shipped weights painted a 133/255 blob into a noise-free gradient; a sky must come out as a sky."""
    from irtool.models import load

    model = load("denoise")
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 256), torch.linspace(0, 1, 384), indexing="ij")
    x = torch.stack([xx, yy, (xx + yy) / 2]) * 0.8 + 0.1
    err = (Runner(model, device="cpu", tile=0).restore(x) - x).abs().amax(0)
    assert err.max() < 24 / 255
    assert (err > 5 / 255).float().mean() < 0.01


def TinyILN_like(model: TinyILN) -> TinyILN:
    """The same weights, but a descriptor that does not ask for shared statistics (each tile normalises itself)."""
    clone = TinyILN()
    clone.load_state_dict(model.state_dict())
    clone.descriptor = ModelDescriptor(arch="tiny-iln", task="denoise", global_stats=False)
    return clone.eval()


def test_precision_choice(monkeypatch):
    cpu = torch.device("cpu")
    safe = ModelDescriptor(arch="a", task="sr", fp16_safe=True, bf16_safe=True)
    # On the CPU, bf16 where the CPU runs it faster (native AMX / AVX-512 BF16) and the descriptor allows it.
    for faster in (False, True):
        monkeypatch.setattr(devices, "cpu_bf16_faster", lambda faster=faster: faster)
        assert choose_precision("auto", cpu, safe) == (torch.bfloat16 if faster else torch.float32)
        unsafe = ModelDescriptor(arch="a", task="sr", bf16_safe=False)
        assert choose_precision("auto", cpu, unsafe) == torch.float32
    monkeypatch.setattr(devices, "cpu_bf16_faster", lambda: False)
    assert choose_precision("bf16", cpu, safe) == torch.bfloat16  # asked for by name: honoured
    with pytest.raises(UsageError):
        choose_precision("int8", cpu, safe)
    # On a GPU, fp16 where the descriptor vouches for its range (closer to fp32 than bf16), else bf16 or fp32.
    gpu, mps = torch.device("cuda"), torch.device("mps")
    assert choose_precision("auto", gpu, safe) == torch.float16
    assert choose_precision("auto", mps, safe) == torch.float16
    no_fp16 = ModelDescriptor(arch="a", task="sr", fp16_safe=False, bf16_safe=False)
    assert choose_precision("auto", gpu, no_fp16) == torch.float32
    assert choose_precision("auto", mps, no_fp16) == torch.float32


def test_cpu_bf16_is_timed_only_where_the_cpu_has_it(monkeypatch):
    for native, measured, expected in ((set(), 3.0, False), ({"bf16"}, 3.0, True), ({"bf16"}, 0.09, False)):
        calls: list[float] = []
        monkeypatch.setattr(devices, "bf16_speedup", lambda m=measured, calls=calls: calls.append(m) or m)
        monkeypatch.setattr(devices, "cpu_native_precisions", lambda native=native: native)
        devices.cpu_bf16_faster.cache_clear()
        assert devices.cpu_bf16_faster() is expected
        devices.cpu_bf16_faster()
        assert len(calls) == (1 if native else 0)  # timed once per process, and never without the flags
    devices.cpu_bf16_faster.cache_clear()


def test_bf16_speedup_measures_this_cpu():
    # The real probe: a finite ratio; where the CPU lacks native bf16 torch emulates it and it is far below 1.
    ratio = devices.bf16_speedup()
    assert 0 < ratio < 100
    if "bf16" not in devices.cpu_native_precisions():
        assert ratio < 0.5


def test_emulated_precision_on_the_cpu_is_noted(monkeypatch):
    monkeypatch.setattr(runner_module, "cpu_native_precisions", lambda: set())
    notes: list[str] = []
    Runner(TinyCNN().eval(), device="cpu", precision="bf16", log=notes.append)
    assert any("no native bf16" in n for n in notes)
    monkeypatch.setattr(runner_module, "cpu_native_precisions", lambda: {"bf16"})
    notes.clear()
    Runner(TinyCNN().eval(), device="cpu", precision="bf16", log=notes.append)
    assert not notes


def test_missing_device_is_a_resource_error():
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ResourceError, match="no CUDA device"):
            resolve_device("cuda:0")
    with pytest.raises(ResourceError):
        resolve_device(f"cuda:{torch.cuda.device_count() + 3}")
    with pytest.raises(UsageError):
        resolve_device("tpu")


class OverflowsOnBrightInBF16(TinyILN):
    """i-LN model whose features overflow in reduced precision wherever the input has a bright spot."""

    def forward(self, x):
        f = self.inp(x)
        if torch.is_autocast_enabled("cpu") and x.amax() > 0.9:
            f = f * float("inf")
        y, _ = self.norm(f.permute(0, 2, 3, 1))
        return x + self.out(y.permute(0, 3, 1, 2)) * 0.1


def test_nan_while_recording_iln_statistics_does_not_leak_into_other_tiles(seeded):
    model = OverflowsOnBrightInBF16().eval()
    x = torch.rand(3, 96, 96) * 0.5
    x[:, 44:52, 44:52] = (
        1.0  # overflows the tiles that hold it, and the mosaic (its centre crop) that records statistics
    )
    runner = Runner(model, device="cpu", precision="bf16", tile=48, overlap=8)
    out = runner.restore(x)
    plan = runner.last_plan
    assert torch.isfinite(out).all() and plan.tile_count == 9
    bright = sum(a < 52 and b > 44 for a, b in plan.rows) * sum(a < 52 and b > 44 for a, b in plan.cols)
    assert 0 < bright < plan.tile_count
    # One redo for the statistics pass, one per bright tile: the other tiles use the fp32 statistics in bf16
    # (the retried pass records afresh; an overflowed first recording must not linger for other tiles to cycle into).
    assert runner.nan_retries == 1 + bright
    fp32 = Runner(model, device="cpu", precision="fp32", tile=48, overlap=8).restore(x)
    torch.testing.assert_close(out, fp32, atol=0.02, rtol=0)


def test_auto_tile_follows_free_memory_without_a_fixed_cap(monkeypatch):
    """On a big GPU the automatic tile is as large as memory allows, so whole 4K frames run in one pass."""
    from irtool import models
    from irtool.engine import runner as runner_module

    runner = runner_module.Runner(models.create("sr-x2"), device="cpu")
    monkeypatch.setattr(runner, "_memory_per_pixel", lambda: (2_000.0, 1e9))  # bytes per input pixel, fixed bytes
    monkeypatch.setattr(runner_module, "free_memory", lambda device: 100e9)  # an H200's worth, mostly free
    side = runner._auto_tile()
    m = runner.descriptor.size_multiple
    assert side % m == 0 and side > 3840  # was capped at 2048
    assert abs(side - ((0.7 * 100e9 - 1e9) / 2_000.0) ** 0.5) < m
    monkeypatch.setattr(runner_module, "free_memory", lambda device: 1.2e9)  # a small GPU: the floor
    assert runner._auto_tile() == runner_module.MIN_TILE
