"""Building blocks that more than one architecture uses, each written once.

`padding` (pad to a multiple, edge or reflect), `mdta` (Restormer's transposed channel attention, also Hi-IR's L3),
`resample` (pixel-(un)shuffle steps of the U-Nets and the SR upsampler) and `patch_norm` (the conv stem with
optional Dual PatchNorm). The norms live in `irtool.models.norms`, next to the i-LN statistics sharing the engine
uses. Nothing is imported here, so importing one layer does not pull in the others.
"""
