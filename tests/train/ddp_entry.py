"""`torchrun ... tests/train/ddp_entry.py ARGS`: `irtool train ARGS` with the tiny test models registered."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import tinynet  # noqa: E402

from irtool.cli import main  # noqa: E402

if __name__ == "__main__":
    tinynet.register()
    main(["train", *sys.argv[1:]])
