"""The architecture and configuration tables: their written order is the registry's, whatever was imported first."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from irtool.models import registry
from irtool.models.archs import ARCHITECTURES
from irtool.models.configs import CONFIGS

# Print the registry's order after importing the given modules first (in a fresh interpreter: nothing cached).
_PROBE = """
import importlib, json, sys
for module in sys.argv[1:]:
    importlib.import_module(module)
from irtool.models import list_models, registry
print(json.dumps({"archs": list(registry.archs()), "models": [e.name for e in list_models()]}))
"""

IMPORT_ORDERS = [
    [],
    ["irtool.models.archs.hiir", "irtool.models.archs.restormer", "irtool.models.archs.builtin"],
    ["irtool.models.configs", "irtool.models.archs.hiir.detect", "irtool.models.archs.restormer.network"],
    ["irtool.models.archs.restormer", "irtool.models.profile", "irtool.models.archs.hiir.unet"],
]


def _registry_order(*first: str) -> dict[str, list[str]]:
    r = subprocess.run([sys.executable, "-c", _PROBE, *first], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def test_order_is_the_tables_order_whatever_was_imported_first():
    expected = {"archs": list(ARCHITECTURES), "models": [c.name for c in CONFIGS]}
    for order in IMPORT_ORDERS:
        assert _registry_order(*order) == expected, order


def test_in_process_order_matches_the_tables():
    assert list(registry.archs())[: len(ARCHITECTURES)] == list(ARCHITECTURES)
    assert [e.name for e in registry.entries()][: len(CONFIGS)] == [c.name for c in CONFIGS]


def test_importing_the_tables_and_the_registry_does_not_import_torch():
    code = (
        "import sys, irtool.models, irtool.models.registry, irtool.models.archs, irtool.models.configs\n"
        "assert 'torch' not in sys.modules, 'torch imported by the tables'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_declared_architecture_is_in_the_table_and_every_config_names_one():
    declared = {}
    for target in ARCHITECTURES.values():
        module = importlib.import_module(target.partition(":")[0])
        for value in vars(module).values():
            if isinstance(value, registry.Architecture):
                declared[value.name] = value
    assert set(declared) == set(ARCHITECTURES)  # no package declares an architecture the table leaves out
    names = [c.name for c in CONFIGS]
    assert len(names) == len(set(names))
    assert {c.arch for c in CONFIGS} <= set(ARCHITECTURES)


def test_table_entries_do_not_share_mutable_hparams():
    """Configurations written from one dict (compact-sr-x4 and sr-x4) are registered as separate copies."""
    compact, shipped = registry.get_entry("compact-denoise"), registry.get_entry("denoise")
    assert compact.hparams == shipped.hparams and compact.hparams is not shipped.hparams


def test_a_bad_table_entry_is_refused():
    with pytest.raises(TypeError, match="not the Architecture"):
        registry._import_arch("hiir-unet", "irtool.models.archs.hiir:HIIR_SR")
