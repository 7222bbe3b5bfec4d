"""The architecture table: every architecture irtool knows, in the order `detect` tries them on a bare state_dict.

One package per architecture (spandrel's layout): `network` holds the nn.Modules, `detect` reads hyper-parameters
back from a state_dict, and the package's `__init__` declares the `Architecture` (build / describe / detect).
Packages register nothing when imported: the registry imports the ones listed here, on first use of its tables,
and adds them in this order, so the order never depends on what some other module happened to import first.
Named configurations of these architectures are in `irtool.models.configs`.

This module imports nothing, so `irtool.models` stays free of torch until a table is used.
"""

from __future__ import annotations

# name -> "module:attribute" of its Architecture. Detection tries them top to bottom; the ones without weights come
# first since they never detect anything.
ARCHITECTURES: dict[str, str] = {
    "bicubic": "irtool.models.archs.builtin:BICUBIC",
    "identity": "irtool.models.archs.builtin:IDENTITY",
    "restormer": "irtool.models.archs.restormer:RESTORMER",
    "hiir-sr": "irtool.models.archs.hiir:HIIR_SR",
    "hiir-unet": "irtool.models.archs.hiir:HIIR_UNET",
}
