"""irtool: image restoration (super-resolution, denoising, deraining, deblurring) with paper-exact evaluation.

The package imports nothing heavy at the top level so that `irtool --help` stays instant; torch is loaded by the
modules that need it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
