"""Training configuration: a YAML file checked against typed dataclasses, plus `--set a.b=c` overrides.

Why dataclasses with our own checker rather than a schema library: the rules fit on one screen, the error messages
can name the dotted key, and YAML's habit of reading `1e-4` as a *string* (no `!!float`) is repaired here once —
HAT's i-LN configs trip over exactly that (models.md §3.4).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin, get_type_hints

from irtool.errors import UsageError
from irtool.ops.realistic import RealConfig

if TYPE_CHECKING:
    from irtool.data.training import DegradationSpec

PRESETS_DIR = Path(__file__).parent / "presets"


@dataclass
class ModelConfig:
    name: str  # a registry name for irtool.models.create, e.g. "compact-sr-x4"
    options: dict[str, Any] = field(default_factory=dict)  # keyword overrides passed to create()
    # Weights to start from (any irtool.models.load reference). Tensors whose shape differs (an x4 upsampler when
    # training x2) are left at their fresh initialisation, so an x2 model can start from the x4 body.
    init: str | None = None


@dataclass
class DataConfig:
    task: Literal["sr", "real", "denoise", "jpeg", "paired"]
    # Folders of clean images (or, for "paired", folders holding `input/` and `target/`). Relative paths are read
    # under $IRTOOL_DATA_DIR; `${VAR}` is expanded.
    roots: list[str]
    scale: int = 1
    channels: Literal[1, 3] = 3
    patch_size: int = 64  # of the target (HR) image
    batch_size: int = 16
    # Gaussian noise: a fixed sigma, or [low, high] drawn uniformly per image (blind denoising), on the 0..255 scale.
    sigma: float | None = None
    sigma_range: list[float] | None = None
    # JPEG: quality drawn uniformly from [low, high] per image.
    jpeg_quality: list[int] | None = None
    # Task "real": the realistic chain's ranges (irtool.ops.realistic.RealConfig; omitted keys keep Real-ESRGAN's).
    real: RealConfig | None = None

    def degradation(self) -> DegradationSpec:
        """What the data layer needs to make training inputs from clean patches."""
        from irtool.data.training import DegradationSpec

        return DegradationSpec(
            task=self.task,
            scale=self.scale,
            sigma=self.sigma,
            sigma_range=tuple(self.sigma_range) if self.sigma_range is not None else None,
            jpeg_quality=tuple(self.jpeg_quality) if self.jpeg_quality is not None else None,
            real=self.real,
        )

    def resolved_roots(self) -> list[Path]:
        """The image folders, with relative roots read under $IRTOOL_DATA_DIR (see `resolve_root`)."""
        return [resolve_root(r) for r in self.roots]


@dataclass
class ProgressiveConfig:
    """Restormer's progressive learning: stage i trains `steps[i]` steps at `patch_sizes[i]` and `batch_sizes[i]`.

    The last stage lasts until the end of training whatever its `steps` says.
    """

    patch_sizes: list[int]
    batch_sizes: list[int]
    steps: list[int]


@dataclass
class OptimConfig:
    lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0
    loss: Literal["l1", "l2", "charbonnier"] = "l1"
    charbonnier_eps: float = 1e-3
    grad_clip_norm: float | None = None  # Restormer uses 0.01
    ema_decay: float | None = 0.999  # None: no EMA


@dataclass
class ScheduleConfig:
    steps: int  # total optimiser steps
    warmup_steps: int = 0  # linear warm-up from 0
    min_lr: float = 1e-7  # the cosine ends here


@dataclass
class ValConfig:
    every: int = 0  # steps between validations; 0: only at the end
    dataset: str | None = None  # a benchmark name that irtool.evaluate knows, e.g. "Set5", "CBSD68"
    sigma: float | None = None  # for denoising validation
    max_images: int | None = None  # validate on the first N images only (keeps CPU validation short)


@dataclass
class RunConfig:
    out_dir: str = "runs/train"
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:1 | mps
    amp: Literal["auto", "bf16", "off"] = "auto"  # auto: bf16 on CUDA, fp32 elsewhere
    channels_last: bool = False
    compile: bool = False
    threads: int | None = None  # torch.set_num_threads; None leaves torch's default
    log_every: int = 10
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2  # older step checkpoints are deleted; best and last are always kept


@dataclass
class TrainConfig:
    model: ModelConfig
    data: DataConfig
    schedule: ScheduleConfig
    optim: OptimConfig = field(default_factory=OptimConfig)
    progressive: ProgressiveConfig | None = None
    val: ValConfig = field(default_factory=ValConfig)
    run: RunConfig = field(default_factory=RunConfig)
    # Free text copied into the weights' metadata and the model card (what the run is for).
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------------------------
# Checking a plain dict against the dataclasses


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin is list:
        return f"list of {_type_name(get_args(tp)[0])}"
    if origin is dict:
        return "mapping"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return {int: "integer", float: "number", str: "string", bool: "true/false", type(None): "null"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Return `value` as type `tp`, or raise UsageError naming `key`."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        present = [a for a in args if a is not type(None)]
        if len(present) == 1:  # `X | None`: X's own message names the key that is wrong inside it
            return _coerce(value, present[0], key)
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except UsageError as e:
                errors.append(e)
        raise UsageError(f"config: {key}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        for choice in get_args(tp):
            if value == choice and type(value) is type(choice):
                return value
            if isinstance(choice, int) and isinstance(value, str) and value.strip() == str(choice):
                return choice
        raise UsageError(f"config: {key}: expected one of {_type_name(tp)}, got {value!r}")
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise UsageError(f"config: {key}: expected a list, got {value!r}")
        (item,) = get_args(tp)
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise UsageError(f"config: {key}: expected a mapping, got {value!r}")
        return {str(k): v for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise UsageError(f"config: {key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                number = float(value.strip().replace("_", ""))
            except ValueError:
                pass
            else:
                if number.is_integer():
                    return int(number)
        raise UsageError(f"config: {key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML reads `1e-4` (no dot) as a string
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise UsageError(f"config: {key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise UsageError(f"config: {key}: expected a string, got {value!r}")
    if tp is Any:
        return value
    raise TypeError(f"unsupported config type {tp!r} at {key}")  # a bug in the dataclasses above


def _build(cls: type, data: Any, key: str) -> Any:
    where = f"{key}: " if key else ""
    if not isinstance(data, dict):
        raise UsageError(f"config: {where}expected a mapping, got {data!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in data:
        if name not in fields:
            dotted = f"{key}.{name}" if key else str(name)
            close = difflib.get_close_matches(str(name), list(fields), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(fields)}"
            raise UsageError(f"config: unknown key '{dotted}'{hint}")
    kwargs = {}
    for name, f in fields.items():
        dotted = f"{key}.{name}" if key else name
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], dotted)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise UsageError(f"config: missing required key '{dotted}'")
    return cls(**kwargs)


def _check(cfg: TrainConfig) -> None:
    """Rules that span several fields."""
    d, p = cfg.data, cfg.progressive
    if d.task == "sr" and d.scale < 2:
        raise UsageError("config: data.scale must be 2 or more for task 'sr'")
    if d.task not in ("sr", "real") and d.scale != 1:
        raise UsageError(f"config: data.scale must be 1 for task '{d.task}'")
    if d.scale < 1:
        raise UsageError("config: data.scale must be 1 or more")
    if d.real is not None:
        if d.task != "real":
            raise UsageError(f"config: data.real applies to task 'real', not '{d.task}'")
        d.real.check()
    if d.task == "denoise" and (d.sigma is None) == (d.sigma_range is None):
        raise UsageError("config: task 'denoise' needs exactly one of data.sigma and data.sigma_range")
    if d.sigma_range is not None and (len(d.sigma_range) != 2 or d.sigma_range[0] > d.sigma_range[1]):
        raise UsageError("config: data.sigma_range must be [low, high] with low <= high")
    if d.task == "jpeg" and (d.jpeg_quality is None or len(d.jpeg_quality) != 2):
        raise UsageError("config: task 'jpeg' needs data.jpeg_quality: [low, high]")
    if cfg.val.dataset and d.task == "jpeg":
        raise UsageError("config: irtool.evaluate has no JPEG protocol; leave val.dataset empty for task 'jpeg'")
    if cfg.val.dataset and d.task == "denoise" and cfg.val.sigma is None:
        raise UsageError("config: denoising validation needs val.sigma")
    sizes = [d.patch_size] + (p.patch_sizes if p else [])
    for size in sizes:
        if size % d.scale:
            raise UsageError(f"config: patch size {size} is not a multiple of data.scale {d.scale}")
    if p is not None and (not p.steps or not len(p.patch_sizes) == len(p.batch_sizes) == len(p.steps)):
        raise UsageError("config: progressive.patch_sizes, batch_sizes and steps must have the same length")
    if cfg.schedule.steps < 1 or cfg.schedule.warmup_steps < 0:
        raise UsageError("config: schedule.steps must be >= 1 and schedule.warmup_steps >= 0")
    if cfg.optim.ema_decay is not None and not 0.0 < cfg.optim.ema_decay < 1.0:
        raise UsageError("config: optim.ema_decay must be in (0, 1), or null for no EMA")


# ---------------------------------------------------------------------------------------------------------------
# Reading files and applying overrides


def parse_override(text: str) -> tuple[list[str], Any]:
    """`optim.lr=2e-4` -> (["optim", "lr"], "2e-4" read as YAML)."""
    import yaml

    if "=" not in text:
        raise UsageError(f"--set expects KEY=VALUE (e.g. optim.lr=2e-4), got {text!r}")
    key, _, raw = text.partition("=")
    parts = key.strip().split(".")
    if not all(parts):
        raise UsageError(f"--set: bad key {key!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set dotted keys in a plain config dict (before checking, so overrides get the same validation)."""
    for text in overrides:
        parts, value = parse_override(text)
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise UsageError(f"--set {text}: '{part}' is not a section")
            node = child
        node[parts[-1]] = value
    return data


def from_dict(data: dict[str, Any], overrides: list[str] | None = None) -> TrainConfig:
    data = apply_overrides(_deepcopy(data), overrides or [])
    cfg = _build(TrainConfig, data, "")
    _check(cfg)
    return cfg


def _deepcopy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deepcopy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deepcopy(v) for v in data]
    return data


def read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read config {path}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UsageError(f"config {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise UsageError(f"config {path}: expected a mapping at the top level")
    return data


def load(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    return from_dict(read_yaml(Path(path)), overrides)


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path:
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise UsageError(f"unknown preset '{name}'; presets: {', '.join(list_presets())}")
    return path


def resolve_root(root: str) -> Path:
    """A dataset root with `${VAR}` and `~` expanded; relative roots are read under $IRTOOL_DATA_DIR."""
    from irtool.paths import data_root

    path = Path(os.path.expanduser(os.path.expandvars(root)))
    return path if path.is_absolute() else data_root() / path
