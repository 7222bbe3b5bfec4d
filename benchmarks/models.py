"""Size, cost and CPU speed of every named model configuration, as a markdown table.

    python benchmarks/models.py                                  # all named configurations
    python benchmarks/models.py --only restormer --only 'hiir-*' --size 128 --repeats 3

Columns:
  params      trainable parameters
  MACs        one forward pass on a 1 x C x M x M input (--macs-size, default 256): "conv" counts convolutions only
              (the convention of the published Restormer figure), "conv+lin" adds linear layers (compare models
              on this one: Hi-IR's projections are nn.Linear), "all" adds the attention matrix products;
              element-wise ops are never counted (see irtool.models.profile)
  s/MP        CPU wall time per output megapixel, median of --repeats runs after one warm-up, on a random
              1 x C x S x S input (--size, default 128), with 1 and with 2 intra-op threads; random weights
Timings are for comparing models on one machine; they are not assertions and depend on the machine's load.
"""

from __future__ import annotations

import argparse
import fnmatch
import platform
import statistics
import time

import torch

import irtool.models
from irtool.models.profile import count_macs, count_params, format_count


def latency_per_mp(model: torch.nn.Module, size: int, threads: int, repeats: int) -> float:
    torch.set_num_threads(threads)
    d = model.descriptor
    x = torch.rand(1, d.in_channels, size, size)
    times = []
    with torch.inference_mode():
        model(x)  # warm-up: allocator, kernels, lazy init
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    megapixels = (size * d.scale) ** 2 / 1e6
    return statistics.median(times) / megapixels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[], metavar="NAME", help="name or glob (repeatable)")
    ap.add_argument("--size", type=int, default=128, help="input side for the timing (default 128)")
    ap.add_argument("--macs-size", type=int, default=256, help="input side for the MAC count (default 256)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default="1,2", help="thread counts to time, comma-separated (default 1,2)")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    names = [e.name for e in irtool.models.list_models()]
    if args.only:
        names = [n for n in names if any(fnmatch.fnmatch(n, pattern) for pattern in args.only)]
        if not names:
            raise SystemExit(f"no model matches {args.only}")

    m = args.macs_size
    print(f"CPU: {platform.processor() or platform.machine()}, torch {torch.__version__}, fp32, random weights")
    print(f"MACs at 1 x C x {m} x {m} input; timing on 1 x C x {args.size} x {args.size}, median of {args.repeats}\n")
    head = ["model", "task", "scale", "params", "MACs conv", "MACs conv+lin", "MACs all"]
    head += [f"s/MP {t} thr" for t in threads]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * 3 + "---:|" * (len(head) - 3))
    for name in names:
        torch.manual_seed(0)
        model = irtool.models.create(name).eval()
        d = model.descriptor
        macs = count_macs(model, m, m)["macs"]
        speeds = [f"{latency_per_mp(model, args.size, t, args.repeats):.2f}" for t in threads]
        row = [name, d.task, f"x{d.scale}", format_count(count_params(model))]
        row += [format_count(macs[k]) for k in ("conv", "conv_linear", "all")] + speeds
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
