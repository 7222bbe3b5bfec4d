"""What a model needs from the code that runs it, said once so the engine never special-cases architectures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Task = Literal["sr", "denoise", "derain", "deblur", "defocus", "photo", "identity"]


@dataclass(frozen=True)
class ModelDescriptor:
    """Everything a runner, tiler, exporter or evaluator has to know about a model.

    Values are in [0, 1] float on both sides (`value_range`); inputs are (B, in_channels, H, W).
    """

    arch: str  # "restormer", "hiir", "bicubic", ... (the key in the architecture table)
    task: Task
    scale: int = 1  # output size = input size * scale
    in_channels: int = 3
    out_channels: int = 3
    size_multiple: int = 1  # the model pads internally; tiles aligned to this avoid padding seams
    fp16_safe: bool = False
    bf16_safe: bool = True
    license: str = "Apache-2.0"
    name: str | None = None  # registry name when it came from the registry
    # i-LN models hold image-global statistics: tiled inference must share them (see models.norms).
    global_stats: bool = False
    # A receptive-field hint for CNN tiling (pixels of input context that change an output pixel), 0 = unknown.
    receptive_field: int = 0
    value_range: tuple[float, float] = (0.0, 1.0)
    hparams: dict[str, Any] = field(default_factory=dict)  # constructor arguments, enough to rebuild it

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["value_range"] = list(self.value_range)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelDescriptor:
        d = dict(d)
        if "value_range" in d:
            d["value_range"] = tuple(d["value_range"])
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})
