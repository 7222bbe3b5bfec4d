"""`irtool export`: a model as a safetensors file, a Hub folder, an ONNX graph or a TorchScript module, verified."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from irtool.cli._app import app

if TYPE_CHECKING:
    from irtool.models.ref import ModelRef

_EPILOG = """\
Examples:

  irtool export sr-x4 -o sr-x4.onnx                    # format from the suffix: ONNX opset 17, fp32, verified
  irtool export sr-x4 -o sr-x4-fp16.onnx --precision fp16
  irtool export runs/a/best.safetensors -o sr-x4-hub --eval-json set5.json --eval-json urban100.json
  irtool export sr-x4 -o sr-x4-hub --push-to-hub me/irtool-sr-x4
  irtool export restormer-derain.pth -o derain.pt      # TorchScript, for torch.jit.load

MODEL is a registry name, a weight file, an hf://owner/repo@rev/file.safetensors reference, or a training
checkpoint (a .safetensors file, or a checkpoint folder: its ema.safetensors, else model.safetensors).
ONNX and TorchScript accept any batch, height and width; the model pads to its size multiple inside the graph.
Run an exported .onnx through onnxruntime: irtool restore photo.png -m sr-x4.onnx (pip install 'irtool\\[onnx]').
Exit codes: 1 the exporter refused the model, or the export did not match torch (nothing is written then);
2 bad options or output path (checked before any work); 3 model unavailable, or --push-to-hub without a login.
"""

_SUFFIX_FORMATS = {".safetensors": "safetensors", ".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript"}
# Weight files looked for, in order, when MODEL is a folder (a training checkpoint, a run folder or a Hub folder).
_FOLDER_WEIGHTS = ("ema.safetensors", "model.safetensors", "best.safetensors", "last.safetensors")


@app.command("export", epilog=_EPILOG)
def export_command(
    model: str = typer.Argument(..., help="Registry name, weight file, hf:// reference or checkpoint folder."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="File to write (a folder for --format hub).", rich_help_panel="Output"
    ),
    fmt: str | None = typer.Option(
        None,
        "--format",
        "-f",
        help="safetensors, hub, onnx or torchscript (default: from the output's suffix; no suffix = hub).",
        rich_help_panel="Output",
    ),
    precision: str = typer.Option(
        "fp32", "--precision", help="onnx/torchscript: fp32, or fp16 (float32 in and out).", rich_help_panel="Graph"
    ),
    opset: int = typer.Option(17, "--opset", help="onnx: ONNX opset, 17 or 18.", rich_help_panel="Graph"),
    verify: bool = typer.Option(
        True,
        "--verify/--no-verify",
        help="Compare the export with the torch model on two odd-sized random inputs; write nothing if they differ.",
        rich_help_panel="Graph",
    ),
    eval_json: list[Path] = typer.Option(
        [],
        "--eval-json",
        help="hub: `irtool eval --json` output(s) for the model card's scores (repeatable).",
        rich_help_panel="Hub",
    ),
    push_to_hub: str | None = typer.Option(
        None,
        "--push-to-hub",
        metavar="OWNER/REPO",
        help="hub: upload the folder to this repository (needs `hf auth login`).",
        rich_help_panel="Hub",
    ),
    private: bool = typer.Option(False, "--private", help="hub: create the repository private.", rich_help_panel="Hub"),
    untrained: bool = typer.Option(
        False,
        "--untrained",
        help="Export a registry name that has no weights with random ones (to test a runtime or time an architecture).",
        rich_help_panel="Model",
    ),
    offline: bool = typer.Option(False, "--offline", help="Use only cached Hub files.", rich_help_panel="Model"),
    json_out: bool = typer.Option(
        False, "--json", help="Print the result as JSON on stdout.", rich_help_panel="Output"
    ),
) -> None:
    """Export a model for other runtimes or for the Hugging Face Hub, and check the export against torch."""
    from irtool.errors import UsageError
    from irtool.export.files import check_output
    from irtool.export.onnx_export import DEFAULT_OPSET, OPSETS
    from irtool.export.tracing import PRECISIONS
    from irtool.models.ref import ModelRef

    # Everything that can be refused without the model is refused before loading and tracing it (minutes).
    fmt = fmt or _format_from_suffix(output)
    if fmt not in _SUFFIX_FORMATS.values() and fmt != "hub":
        raise UsageError(f"--format {fmt!r}: choose safetensors, hub, onnx or torchscript")
    if fmt != "hub" and (eval_json or push_to_hub):
        raise UsageError("--eval-json and --push-to-hub belong to --format hub")
    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision!r}: choose {' or '.join(PRECISIONS)}")
    if fmt in ("safetensors", "hub") and precision != "fp32":
        raise UsageError("--precision applies to onnx and torchscript; weight files keep the model's own precision")
    if opset not in OPSETS:
        raise UsageError(f"--opset {opset}: choose {' or '.join(map(str, OPSETS))}")
    if fmt != "onnx" and opset != DEFAULT_OPSET:
        raise UsageError("--opset applies to --format onnx")
    if push_to_hub:
        _check_repo_id(push_to_hub)
    check_output(output, folder=fmt == "hub")
    ref = _source_ref(model)
    if untrained and ref.kind != "name":
        raise UsageError("--untrained applies to registry names; a weight file is always exported with its weights")
    if ref.is_onnx:
        raise UsageError(f"{model}: already an ONNX graph; export starts from weights (a name, file or Hub reference)")
    # A Hub reference is fetched once: its weights and its header must come from the same file, not two downloads
    # of a moving branch.
    source = ref if ref.kind == "name" else ModelRef.parse(ref.local_file(offline=offline))
    if source.kind == "file" and _same_file(Path(source.text), output, fmt):
        raise UsageError(f"{output}: is the input model; choose another output")
    scores = []
    if eval_json:
        from irtool.export.model_card import read_eval_json

        scores = read_eval_json(eval_json)

    from irtool import export, models
    from irtool.cli._output import info, print_json, warn
    from irtool.export.safetensors_export import source_metadata

    info(f"loading {model}")
    net = models.load(source, pretrained=not untrained, offline=offline)
    d = net.descriptor
    if scores:
        from irtool.export.model_card import check_scores_fit

        check_scores_fit(scores, d)
    if precision == "fp16" and not d.fp16_safe:
        warn(f"{d.name or d.arch} is not marked fp16-safe; check the verification numbers below")
    if fmt == "onnx" and d.global_stats:
        warn("i-LN model: the ONNX graph normalises with the statistics of what it is given; run it on whole images")

    info(f"exporting to {output} ({fmt})")
    if fmt == "onnx":
        result = export.export_onnx(net, output, opset=opset, precision=precision, verify=verify)
    elif fmt == "torchscript":
        result = export.export_torchscript(net, output, precision=precision, verify=verify)
    else:
        # Random weights must not carry the training summary (steps, scores) of the weights they replace.
        trained = {} if untrained else source_metadata(source, offline=offline)
        metadata = {**trained, "irtool.exported_from": model}
        if untrained:
            metadata["irtool.untrained"] = "true"
        if fmt == "safetensors":
            result = export.export_safetensors(net, output, metadata=metadata, verify=verify)
        else:
            result = export.export_hub_folder(
                net, output, repo_id=push_to_hub, scores=scores, metadata=metadata, verify=verify
            )
            if push_to_hub:
                info(f"uploading {output} to {push_to_hub}")
                result.details["pushed"] = export.push_to_hub(output, push_to_hub, private=private)
    if json_out:
        print_json(result.to_dict())
        return
    _print_result(result)


def _format_from_suffix(output: Path) -> str:
    from irtool.errors import UsageError

    suffix = output.suffix.lower()
    if suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]
    if not suffix:
        return "hub"
    raise UsageError(f"cannot tell the format from {output.name!r}: pass --format")


def _check_repo_id(repo_id: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from irtool.errors import UsageError

    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise UsageError(f"--push-to-hub {repo_id!r}: not a Hub repository id (OWNER/NAME)") from None
    if "/" not in repo_id:
        raise UsageError(f"--push-to-hub {repo_id!r}: give OWNER/NAME (your user or organisation name first)")


def _source_ref(model: str) -> ModelRef:
    """The reference to export from. A checkpoint or run folder stands for the weight file in it, but a registry
    name wins over a folder of the same name: a Hub folder exported as `irtool export sr-x4 -o sr-x4` must not
    become the source of the next `irtool export sr-x4`."""
    from irtool.errors import InputError, IrtoolError
    from irtool.models import registry
    from irtool.models.ref import ModelRef

    ref = ModelRef.parse(model)
    if ref.kind == "hub" or not Path(model).is_dir():
        return ref
    if ref.kind == "name":
        try:
            registry.get_entry(ref.text)
            return ref
        except IrtoolError:
            pass
    for name in _FOLDER_WEIGHTS:
        if (Path(model) / name).is_file():
            return ModelRef.parse(Path(model) / name)
    raise InputError(f"{model}: a folder without weights (looked for {', '.join(_FOLDER_WEIGHTS)})")


def _same_file(source: Path, output: Path, fmt: str) -> bool:
    target = output / "model.safetensors" if fmt == "hub" else output
    return target.exists() and source.resolve() == target.resolve()


def _print_result(result: object) -> None:
    from irtool.cli._output import out

    details = {k: v for k, v in result.details.items() if k in ("opset", "precision")}
    extra = ", ".join(f"{k} {v}" for k, v in details.items())
    out.print(f"wrote {result.path} ({result.format}{', ' + extra if extra else ''})", highlight=False, soft_wrap=True)
    if result.verification is not None:
        out.print(f"  verified: {result.verification.summary()}", highlight=False, soft_wrap=True)
    pushed = result.details.get("pushed")
    if pushed:
        out.print(f"  uploaded: {pushed['url']}\n  load it with: {pushed['ref']}", highlight=False, soft_wrap=True)
