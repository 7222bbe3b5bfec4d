"""Data for scoring and training.

    benchmarks.py   named benchmark sets as found on disk: `load`, `Dataset`, `status`, `fetch` (the public face)
    catalog.py      the table of known sets: task, size, folder layout, download source
    archives.py     getting a set onto disk: Hub download, user folder or archive, safe extraction
    training.py     training image stores, random patches and on-device degradations

Import the submodules directly; this package imports nothing heavy so the CLI stays fast.
"""
