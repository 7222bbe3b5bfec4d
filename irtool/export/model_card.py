"""The README.md model card of a Hub folder: the YAML header the Hub reads, then what a user needs to know.

The header (`license`, `library_name`, `pipeline_tag`, `tags`, `model-index`) is what the Hub indexes and shows in
its widgets; `model-index` carries the scores so they appear on the model page. Scores come from `irtool eval
--json` files: each report there has `psnr`, `ssim`, `dataset.name` and the `protocol` that produced them (colour
space, border crop, scale, noise level), and the card states that protocol beside every number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from irtool import __version__
from irtool.errors import InputError
from irtool.models.descriptor import ModelDescriptor

TASK_NAMES = {
    "sr": "super-resolution",
    "denoise": "image denoising",
    "derain": "deraining",
    "deblur": "motion deblurring",
    "defocus": "defocus deblurring",
    "photo": "photo restoration (noise, blur and JPEG at the same size)",
    "identity": "identity",
}
TASK_TAGS = {
    "sr": "super-resolution",
    "denoise": "image-denoising",
    "derain": "image-deraining",
    "deblur": "image-deblurring",
    "defocus": "image-deblurring",
    "photo": "image-restoration",
}
# Licences the Hub knows by id; anything else is `license: other` with its own name, as the Hub asks.
HUB_LICENSES = {"apache-2.0", "mit", "bsd-3-clause", "cc-by-4.0", "cc-by-nc-4.0", "cc-by-sa-4.0", "gpl-3.0"}


@dataclass(frozen=True)
class Score:
    dataset: str
    psnr: float
    ssim: float | None
    protocol: str  # e.g. "sr, Y, crop 4" or "denoise, RGB, sigma 25"
    source: str = ""  # the file it came from, for error messages
    model: dict[str, Any] | None = None  # the evaluated model's descriptor (None: scored from a predictions folder)
    scale: int | None = None  # the protocol's scale


def check_scores_fit(scores: list[Score], descriptor: ModelDescriptor) -> None:
    """Refuse scores of another model: a card would publish them as this model's.

    The weights themselves cannot be compared (the report does not hash them); architecture, hyper-parameters,
    task and scale can, and a mix-up (the x2 model's scores on the x4 card) shows there.
    """
    mine = _identity(descriptor)
    for s in scores:
        if s.model is not None:
            try:
                theirs = ModelDescriptor.from_dict(s.model)
            except (TypeError, ValueError):
                raise InputError(f"{s.source}: its `model` entry is not a model descriptor") from None
            if _identity(theirs) != mine:
                raise InputError(
                    f"{s.source}: scores of another model ({_what(theirs)}), not of the exported {_what(descriptor)}"
                )
        if descriptor.task == "sr" and s.scale is not None and s.scale != descriptor.scale:
            raise InputError(f"{s.source}: scored at x{s.scale}, but the exported model is x{descriptor.scale}")


def _identity(d: ModelDescriptor) -> tuple[Any, ...]:
    # Through JSON, as the report stored it: hyper-parameter tuples come back as lists.
    return (d.arch, d.task, d.scale, json.loads(json.dumps(d.hparams)))


def _what(d: ModelDescriptor) -> str:
    return f"{d.name or d.arch}: {d.arch} {d.task} x{d.scale}"


def read_eval_json(paths: list[Path]) -> list[Score]:
    """Every report in `irtool eval --json` files (one report, or lists / mappings of them)."""
    scores: list[Score] = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise InputError(f"{path}: not a readable JSON file ({e})") from None
        found = [replace(s, source=str(path)) for s in _reports(data)]
        if not found:
            raise InputError(f"{path}: no evaluation results in it (expected the output of `irtool eval --json`)")
        scores.extend(found)
    return scores


def _reports(data: Any) -> Any:
    """Walk the JSON for report objects: a mapping with a numeric `psnr` and a `dataset` (its `per_image` skipped)."""
    if isinstance(data, dict):
        if isinstance(data.get("psnr"), (int, float)) and "dataset" in data:
            yield _score(data)
            return
        for key, value in data.items():
            if key != "per_image":
                yield from _reports(value)
    elif isinstance(data, list):
        for item in data:
            yield from _reports(item)


def _score(report: dict[str, Any]) -> Score:
    dataset = report["dataset"]
    name = dataset.get("name", "?") if isinstance(dataset, dict) else str(dataset)
    proto = report.get("protocol") or {}
    parts = [str(proto.get("name", "?"))]
    if "color" in proto:
        parts.append("Y" if str(proto["color"]).lower().startswith(("y", "bt.601")) else "RGB")
    if proto.get("crop_border"):
        parts.append(f"crop {proto['crop_border']}")
    if proto.get("sigma") is not None:
        parts.append(f"sigma {proto['sigma']:g}")
    ssim = report.get("ssim")
    model = report.get("model")
    scale = proto.get("scale")
    return Score(
        name,
        float(report["psnr"]),
        float(ssim) if isinstance(ssim, (int, float)) else None,
        ", ".join(parts),
        model=model if isinstance(model, dict) else None,
        scale=scale if isinstance(scale, int) else None,
    )


def hub_license(license_text: str) -> dict[str, str]:
    """`license:` (and `license_name:` for licences the Hub has no id for)."""
    key = license_text.strip().lower()
    if key in HUB_LICENSES:
        return {"license": key}
    slug = "".join(c if c.isalnum() else "-" for c in key.split("(")[0].strip())
    slug = "-".join(part for part in slug.split("-") if part)  # "apl, non-commercial" -> "apl-non-commercial"
    return {"license": "other", "license_name": slug or "other"}


def card_header(descriptor: ModelDescriptor, name: str, scores: list[Score]) -> dict[str, Any]:
    task = TASK_NAMES.get(descriptor.task, descriptor.task)
    header: dict[str, Any] = {
        **hub_license(descriptor.license),
        "library_name": "irtool",
        "pipeline_tag": "image-to-image",
        "tags": ["irtool", "image-restoration", TASK_TAGS.get(descriptor.task, descriptor.task), descriptor.arch],
    }
    if scores:
        task_name = f"{task} x{descriptor.scale}" if descriptor.task == "sr" else task
        header["model-index"] = [
            {
                "name": name,
                "results": [
                    {
                        "task": {"type": "image-to-image", "name": task_name},
                        "dataset": {"name": s.dataset, "type": s.dataset},
                        "metrics": [
                            {"type": "psnr", "value": round(s.psnr, 4), "name": f"PSNR ({s.protocol})"},
                            *(
                                [{"type": "ssim", "value": round(s.ssim, 6), "name": f"SSIM ({s.protocol})"}]
                                if s.ssim is not None
                                else []
                            ),
                        ],
                    }
                    for s in scores
                ],
            }
        ]
    return header


def render_card(
    descriptor: ModelDescriptor,
    *,
    name: str,
    repo_id: str,
    params: int,
    scores: list[Score],
    metadata: dict[str, str],
) -> str:
    """The whole README.md: YAML front matter, then usage, the model's facts, scores and training summary."""
    d = descriptor
    task = TASK_NAMES.get(d.task, d.task)
    what = f"{task} x{d.scale}" if d.task == "sr" else task
    front = yaml.safe_dump(card_header(d, name, scores), sort_keys=False, allow_unicode=True)
    ref = f"hf://{repo_id}/model.safetensors"
    lines = [
        "---",
        front.rstrip(),
        "---",
        "",
        f"# {name}",
        "",
        f"{d.arch} for {what}, exported with irtool {__version__}.",
        "",
        *(
            ["**Untrained: random weights** (exported with `--untrained`), for testing runtimes only.", ""]
            if metadata.get("irtool.untrained") == "true"
            else []
        ),
        "## Use",
        "",
        "```bash",
        "pip install irtool",
        f"irtool restore photo.png -m {ref} -o restored/",
        "```",
        "",
        "```python",
        "import irtool.models",
        "",
        f'model = irtool.models.load("{ref}")  # add @<commit> after the repo name to pin a revision',
        "# input (B, C, H, W) float in [0, 1]; any H, W",
        "```",
        "",
        "## Model",
        "",
        "| | |",
        "|---|---|",
        f"| architecture | {d.arch} |",
        f"| task | {what} |",
        f"| parameters | {params:,} |",
        f"| channels in / out | {d.in_channels} / {d.out_channels} |",
        f"| value range | {d.value_range[0]:g} to {d.value_range[1]:g} |",
        f"| size multiple (padded inside the model) | {d.size_multiple} |",
        f"| fp16 safe | {'yes' if d.fp16_safe else 'no'} |",
        f"| licence | {d.license} |",
        "",
        "Hyper-parameters (as stored in the file's header):",
        "",
        "```yaml",
        yaml.safe_dump(d.hparams, sort_keys=False, default_flow_style=None).rstrip(),
        "```",
    ]
    if scores:
        lines += ["", "## Evaluation", "", "| dataset | PSNR (dB) | SSIM | protocol |", "|---|---:|---:|---|"]
        for s in scores:
            ssim = f"{s.ssim:.4f}" if s.ssim is not None else "-"
            lines.append(f"| {s.dataset} | {s.psnr:.2f} | {ssim} | {s.protocol} |")
        lines += ["", "Scores from `irtool eval --json`; the protocol column names the preset and its conventions."]
    training = training_summary(metadata)
    if training:
        lines += ["", "## Training", "", "| | |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in training.items()]
    lines += [
        "",
        "## Files",
        "",
        "- `model.safetensors`: the weights; its header holds the architecture, hyper-parameters and descriptor, so "
        "`irtool.models.load` needs no other file.",
        "- `config.json`: the same descriptor as plain JSON, for tools that do not read safetensors headers.",
        "",
    ]
    return "\n".join(lines)


def training_summary(metadata: dict[str, str]) -> dict[str, str]:
    """The `irtool.train.*` header entries a training run wrote, in words (empty when there are none)."""
    rows: dict[str, str] = {}
    if metadata.get("irtool.train.description"):
        rows["description"] = metadata["irtool.train.description"]
    if "irtool.train.step" in metadata:
        rows["steps"] = metadata["irtool.train.step"]
    if "irtool.train.seconds" in metadata:
        hours = float(metadata["irtool.train.seconds"]) / 3600
        rows["training time"] = f"{hours:.2f} h"
    if "irtool.train.device" in metadata:
        processes = metadata.get("irtool.train.processes", "1")
        rows["hardware"] = f"{processes} x {metadata['irtool.train.device']}"
    if "irtool.train.weights" in metadata:
        rows["weights"] = metadata["irtool.train.weights"]
    if "irtool.train.val" in metadata:
        try:
            val = json.loads(metadata["irtool.train.val"])
            rows["validation"] = ", ".join(f"{k} {v:.4g}" for k, v in val.items() if isinstance(v, (int, float)))
        except json.JSONDecodeError:
            pass
    return rows
