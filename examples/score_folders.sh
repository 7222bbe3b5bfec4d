#!/usr/bin/env bash
# The CLI end to end: restore a folder of LR images, then score the outputs against the ground truth.
#
#   IRTOOL_DATA_DIR=../shared/datasets bash examples/score_folders.sh [OUT_DIR]
#
# `irtool eval --pred/--gt` scores any tool's outputs: files are paired by name (a prediction may add a suffix
# such as _x4), else by sorted order. Results go to stdout (here as JSON), progress and notes to stderr.
set -euo pipefail

IRTOOL=${IRTOOL:-irtool}              # e.g. IRTOOL="python -m irtool" in a checkout without the console script
DATA=${IRTOOL_DATA_DIR:?set IRTOOL_DATA_DIR to the benchmark folder}
OUT=${1:-$(mktemp -d)}

# 1. Upscale the Set5 x4 LR files with the bicubic baseline (any model name or weight file works here).
$IRTOOL restore "$DATA/Set5/LR_bicubic/X4" -o "$OUT" -m bicubic --overwrite --quiet

# 2. Score them like the papers do: Y channel, border = scale. The JSON holds psnr, ssim, per_image, protocol.
$IRTOOL eval --pred "$OUT" --gt "$DATA/Set5/HR" --protocol sr --scale 4 --json > "$OUT/scores.json"
python -c 'import json, sys; r = json.load(open(sys.argv[1])); print("Set5 x4: %.4f dB / %.4f" % (r["psnr"], r["ssim"]))' \
    "$OUT/scores.json"

# The same set scored by running the model inside `irtool eval` (LR made from the HR, bicubic default protocol):
$IRTOOL eval -m bicubic --dataset Set5 --scale 4 --protocol sr
