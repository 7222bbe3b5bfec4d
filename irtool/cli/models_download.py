"""`irtool models download`: put a model's weights in a folder, to carry to a machine without network."""

from __future__ import annotations

from pathlib import Path

import typer

from irtool.cli.models_cmd import models_app

_EPILOG = """\
Examples:

  irtool models download hf://owner/repo@<commit>/model.safetensors --to weights/
  irtool models download sr-x4 --to usb/irtool-weights/         # a named model, wherever its weights live
  irtool restore photos/ -m usb/irtool-weights/model.safetensors  # then, on the offline machine

Hub downloads go through the Hugging Face cache (HF_HOME, HF_ENDPOINT for mirrors) and are checked against
their sha256; --offline copies from that cache without touching the network.
"""


@models_app.command("download", epilog=_EPILOG)
def download_command(
    ref: str = typer.Argument(
        ..., help="A named model, or hf://owner/repo[@revision]/file.safetensors (or hf:owner/repo/...)."
    ),
    to: Path = typer.Option(..., "--to", help="Folder to copy the weight file into (created if needed)."),
    offline: bool = typer.Option(False, "--offline", help="Copy from the local cache only; no network."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Download a model's weight file (verified) and copy it into a folder."""
    from irtool.cli._output import out, print_json
    from irtool.errors import UnavailableError, UsageError
    from irtool.files import copy_into
    from irtool.hub import sha256_file
    from irtool.models.ref import ModelRef

    model = ModelRef.parse(ref)
    if model.kind == "file":
        raise UsageError(f"{ref}: already a local file; copy it as it is")
    source = model.local_file(offline=offline)  # a Hub or registry download, checked against its sha256
    path = copy_into(source, to)
    digest = sha256_file(path)
    if digest != sha256_file(source):
        path.unlink()
        raise UnavailableError(f"{ref}: the copy at {path} differs from {source}; check the disk and try again")
    result = {"ref": ref, "path": str(path), "bytes": path.stat().st_size, "sha256": digest}
    if json_out:
        print_json(result)
    else:
        out.print(str(path), highlight=False, soft_wrap=True)
