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
    ref: str = typer.Argument(..., help="A named model or hf://owner/repo[@revision]/file.safetensors."),
    to: Path = typer.Option(..., "--to", help="Folder to copy the weight file into (created if needed)."),
    offline: bool = typer.Option(False, "--offline", help="Copy from the local cache only; no network."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Download a model's weight file (verified) and copy it into a folder."""
    from irtool.cli._output import out, print_json
    from irtool.errors import UnavailableError
    from irtool.hub import download, is_hub_ref, sha256_file
    from irtool.io.images import atomic_write_bytes

    if is_hub_ref(ref):
        path = download(ref, to, offline=offline)
    else:
        from irtool.models import registry

        entry = registry.get_entry(ref)
        weights = entry.weights_ref()
        if weights is None:
            raise UnavailableError(f"model {ref!r} has no weights to download (it is an architecture or needs none)")
        if is_hub_ref(weights):
            path = download(weights, to, offline=offline, sha256=entry.sha256)
        else:  # shipped inside the package: a plain copy
            path = Path(to) / Path(weights).name
            if Path(weights).resolve() != path.resolve():
                atomic_write_bytes(path, Path(weights).read_bytes())
    digest = sha256_file(path)
    if not is_hub_ref(ref) and entry.sha256 and digest != entry.sha256.lower():
        path.unlink()
        raise UnavailableError(f"{ref}: the copied weights have sha256 {digest}, expected {entry.sha256}")
    result = {"ref": ref, "path": str(path), "bytes": path.stat().st_size, "sha256": digest}
    if json_out:
        print_json(result)
    else:
        out.print(str(path), highlight=False, soft_wrap=True)
