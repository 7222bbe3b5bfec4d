"""Model implementations, the registry of named configurations, and loading of weights.

Public API (torch is imported lazily by the functions):
    create(name, **overrides) -> torch.nn.Module     a named configuration, randomly initialised
    load(ref) -> torch.nn.Module                     a named model, a .safetensors/.pth file or an hf:// ref
Every module returned carries `.descriptor` (irtool.models.descriptor.ModelDescriptor).
"""

from irtool.models.descriptor import ModelDescriptor

__all__ = ["ModelDescriptor"]
