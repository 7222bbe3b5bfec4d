"""Data for scoring and training: named benchmark sets (`benchmarks`) and training image stores (`training`).

Import the submodules directly; this package imports nothing heavy so the CLI stays fast.
"""
