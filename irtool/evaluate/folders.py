"""Scoring saved outputs (any tool's) against ground truth, with no model and no torch.

This is how another method's published outputs, or a run of `irtool restore`, are put on the same footing as
`irtool eval -m MODEL`: same protocols, same scoring code.
"""

from __future__ import annotations

import time
from pathlib import Path

from irtool.errors import InputError, UsageError
from irtool.evaluate.protocols import GrayConvention, Protocol, _luma_plane, get_protocol, score
from irtool.evaluate.report import ImageScore, Progress, Report, mean, run_info
from irtool.evaluate.samples import read_uint8


def pair_folders(pred_dir: Path, gt_dir: Path) -> tuple[list[tuple[Path, Path]], str]:
    """Match predictions to ground truth: by file stem (a prediction may add `_suffix`), else by sorted order.

    Returns the (prediction, ground truth) pairs and how they were matched ("name" or "sorted order").
    """
    from irtool.io.images import is_image_path

    def images(d: Path) -> list[Path]:
        if not d.is_dir():
            raise InputError(f"{d}: not a folder")
        return sorted(p for p in d.iterdir() if p.is_file() and is_image_path(p) and not p.name.startswith("."))

    preds, gts = images(pred_dir), images(gt_dir)
    if not gts:
        raise InputError(f"{gt_dir}: no images")
    pairs: list[tuple[Path, Path]] = []
    by_name = True
    for gt in gts:
        found = [p for p in preds if p.stem == gt.stem] or [p for p in preds if p.stem.startswith(gt.stem + "_")]
        if len(found) != 1:
            by_name = False
            break
        pairs.append((found[0], gt))
    if by_name and len({p for p, _ in pairs}) == len(pairs):
        return pairs, "name"
    if len(preds) != len(gts):
        raise InputError(
            f"cannot pair {len(preds)} predictions in {pred_dir} with {len(gts)} ground-truth images in {gt_dir} "
            "by name, and the counts differ"
        )
    return list(zip(preds, gts, strict=True)), "sorted order"


def evaluate_folders(
    pred_dir: str | Path,
    gt_dir: str | Path,
    protocol: str | Protocol = "sr",
    *,
    scale: int | None = None,
    gray: GrayConvention | None = None,
    progress: Progress | None = None,
) -> Report:
    """Score saved outputs (any tool's) against ground-truth images under `protocol`.

    For SR the ground truth is cropped to the prediction's size (a prediction is HR modcropped to the scale), as
    BasicSR crops the GT to LR size x scale.
    """
    proto = get_protocol(protocol, gray=gray)
    if proto.task == "sr" and scale is None:
        raise UsageError("scoring SR outputs needs --scale (the border cut from each side)")
    if proto.task == "sr" and scale < 1:
        raise UsageError(f"scale must be a positive integer, got {scale}")
    scale = scale if proto.task == "sr" else 1
    pairs, how = pair_folders(Path(pred_dir), Path(gt_dir))
    scores: list[ImageScore] = []
    start = time.perf_counter()
    for pred_path, gt_path in pairs:
        pred, gt = read_uint8(pred_path), read_uint8(gt_path)
        if proto.task == "sr" and pred.shape[:2] != gt.shape[:2]:
            h, w = pred.shape[:2]
            if not (0 <= gt.shape[0] - h < scale and 0 <= gt.shape[1] - w < scale):
                raise InputError(
                    f"{pred_path.name}: {w}x{h} does not match the ground truth {gt.shape[1]}x{gt.shape[0]} "
                    f"cropped to a multiple of {scale}"
                )
            gt = gt[:h, :w]
        elif pred.shape[:2] != gt.shape[:2]:
            raise InputError(f"{pred_path.name}: size {pred.shape[:2]} differs from {gt_path.name} {gt.shape[:2]}")
        if proto.luma_only:
            pred, gt = _luma_plane(pred, proto.gray), _luma_plane(gt, proto.gray)
        p, s = score(pred, gt, proto, scale=scale)
        scores.append(ImageScore(gt_path.stem, p, s))
        if progress is not None:
            progress(len(scores), len(pairs), scores[-1])
    from irtool.data.benchmarks import listing_checksum

    gt_files = [g for _, g in pairs]
    return Report(
        psnr=mean([s.psnr for s in scores]),
        ssim=mean([s.ssim for s in scores]),
        per_image=scores,
        protocol=proto.describe(scale=scale, sigma=None),
        dataset={
            "name": Path(gt_dir).name,
            "path": str(gt_dir),
            "count": len(pairs),
            "checksum": listing_checksum(gt_files, Path(gt_dir).parent),
            "predictions": str(pred_dir),
            "pairing": how,
        },
        model=None,
        seconds=time.perf_counter() - start,
        run=run_info(None),
    )
