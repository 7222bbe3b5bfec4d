"""`python -m irtool ...` (and `torchrun -m irtool train ...`)."""

from irtool.cli import main

if __name__ == "__main__":
    main()
