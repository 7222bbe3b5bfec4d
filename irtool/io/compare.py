"""Before/after pictures of a restoration: one self-contained HTML page (slider + zoomed crops) or one still image.

Choices a reader of the pictures should know about:
- BEFORE is brought to AFTER's size by nearest neighbour (area averaging when it is larger), so an enlarged input shows
  its real pixels, not a smoothed version that would flatter or hide what the model did.
- Everything is shown in 8 bits: 16-bit and float pixels are rounded (floats clipped to [0, 1]).
- Alpha is composited over a grey checkerboard, drawn at AFTER's resolution so both sides show the same pattern and
  transparent areas read as transparent rather than black. Grey images are shown as RGB.
- Crops are taken from full resolution where AFTER differs most from the enlarged BEFORE, with AFTER's own detail as
  a tie-breaker; they never overlap. The slider's images are scaled down to `max_side`, the crops never are.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from string import Template

import cv2
import numpy as np

from irtool import files
from irtool.errors import UsageError
from irtool.io.images import from_float32, read_image, same_file, to_float32

OUTPUT_SUFFIXES = (".html", ".png", ".jpg", ".jpeg", ".webp")
MAX_CROPS = 4
GAP = 8  # still image: space between panels, in pixels
STRIP = 24  # still image: height of a text strip
_BACKGROUND = (30, 30, 30)
_INK = (230, 230, 230)
_BOX = (255, 200, 0)
_CHECKER = (204, 153)  # light and dark squares
_CHECKER_SIDE = 8
_LOSSLESS_PIXELS = 1 << 18  # slider images up to this size are embedded as PNG, larger ones as JPEG
_JPEG_QUALITY = 92


# --------------------------------------------------------------------------------------------------------- pixels


def scale_of(before_hw: tuple[int, int], after_hw: tuple[int, int]) -> float:
    """AFTER's size over BEFORE's; UsageError when the two sides disagree (not the same picture at another scale)."""
    sy, sx = after_hw[0] / before_hw[0], after_hw[1] / before_hw[1]
    # Outputs may lose or gain a pixel to size multiples and rounding; a different aspect ratio is another picture.
    if abs(sy - sx) > 0.02 * max(sy, sx):
        raise UsageError(
            f"BEFORE is {before_hw[1]}x{before_hw[0]} and AFTER {after_hw[1]}x{after_hw[0]}: "
            "not the same picture at another scale"
        )
    return (sy + sx) / 2


def scale_text(scale: float) -> str:
    """'x4', 'x1.5', 'x2.67': how a label names the enlargement."""
    return f"x{round(scale)}" if abs(scale - round(scale)) < 1e-3 else f"x{scale:.3g}"


def enlarge(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """`pixels` (H, W, C) resized to (height, width): nearest neighbour when growing, area average when shrinking.

    Nearest samples pixel centres (INTER_NEAREST_EXACT), so an integer scale repeats every input pixel exactly.
    """
    if pixels.shape[:2] == (height, width):
        return pixels
    grows = height >= pixels.shape[0] and width >= pixels.shape[1]
    out = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_NEAREST_EXACT if grows else cv2.INTER_AREA)
    return out.reshape(height, width, pixels.shape[2])


def to_display(pixels: np.ndarray) -> np.ndarray:
    """Any decoded image (grey / grey + alpha / RGB / RGBA; uint8, uint16 or float) as 8-bit RGB."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.dtype != np.uint8:
        pixels = from_float32(to_float32(pixels), np.uint8)
    colour = pixels[:, :, :-1] if pixels.shape[2] in (2, 4) else pixels
    if colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    if pixels.shape[2] in (1, 3):
        return np.ascontiguousarray(colour)
    alpha = pixels[:, :, -1:].astype(np.float32) / 255
    y, x = np.indices(pixels.shape[:2])
    light = ((y // _CHECKER_SIDE + x // _CHECKER_SIDE) % 2 == 0)[:, :, None]
    checker = np.where(light, _CHECKER[0], _CHECKER[1]).astype(np.float32)
    return np.floor(colour * alpha + checker * (1 - alpha) + 0.5).astype(np.uint8)


def prepare(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(BEFORE at AFTER's size, AFTER), both 8-bit RGB, and the scale between them."""
    before = before if before.ndim == 3 else before[:, :, None]
    after = after if after.ndim == 3 else after[:, :, None]
    scale = scale_of(before.shape[:2], after.shape[:2])
    if before.dtype != np.uint8:  # to 8 bits first: enlarging 16-bit pixels would only cost memory
        before = from_float32(to_float32(before), np.uint8)
    up = enlarge(before, *after.shape[:2])
    return to_display(up), to_display(after), scale


def pick_crops(before_up: np.ndarray, after: np.ndarray, n: int, size: int) -> list[tuple[int, int]]:
    """Top-left corners (y, x) of up to `n` non-overlapping `size` x `size` windows, most different first.

    A window's score is the summed luma difference between the two images plus a quarter of AFTER's gradient: the
    difference finds what the model changed, the gradient breaks ties toward detail (flat areas make dull crops).
    """
    height, width = after.shape[:2]
    size = min(size, height, width)
    if n <= 0 or size <= 0:
        return []
    luma_a = cv2.cvtColor(after, cv2.COLOR_RGB2GRAY).astype(np.float32)
    luma_b = cv2.cvtColor(before_up, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gradient = np.abs(cv2.Sobel(luma_a, -1, 1, 0, ksize=1)) + np.abs(cv2.Sobel(luma_a, -1, 0, 1, ksize=1))
    integral = cv2.integral(np.abs(luma_a - luma_b) + 0.25 * gradient)
    stride = max(1, size // 4)
    ys = np.unique(np.r_[np.arange(0, height - size + 1, stride), height - size])
    xs = np.unique(np.r_[np.arange(0, width - size + 1, stride), width - size])
    y0, x0 = np.meshgrid(ys, xs, indexing="ij")
    scores = integral[y0 + size, x0 + size] - integral[y0, x0 + size] - integral[y0 + size, x0] + integral[y0, x0]
    chosen: list[tuple[int, int]] = []
    for i in np.argsort(-scores, axis=None, kind="stable"):
        y, x = int(y0.flat[i]), int(x0.flat[i])
        if all(abs(y - cy) >= size or abs(x - cx) >= size for cy, cx in chosen):
            chosen.append((y, x))
            if len(chosen) == n:
                break
    return chosen


def _zoomed(pixels: np.ndarray, y: int, x: int, size: int, zoom: int) -> np.ndarray:
    return np.repeat(np.repeat(pixels[y : y + size, x : x + size], zoom, axis=0), zoom, axis=1)


def _shrink(pixels: np.ndarray, factor: float) -> np.ndarray:
    if factor >= 1:
        return pixels
    h, w = pixels.shape[:2]
    return cv2.resize(pixels, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)


def _labels(scale: float, label_before: str | None, label_after: str | None) -> tuple[str, str]:
    shown = "" if abs(scale - 1) < 1e-3 else f"shown {scale_text(scale)} {'nearest' if scale > 1 else 'area'}"
    before = label_before or "before (input)"
    if shown:
        before = f"{label_before} ({shown})" if label_before else f"before (input, {shown})"
    return before, label_after or "after"


def _describe(pixels: np.ndarray) -> str:
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    kind = {1: "grey", 2: "grey + alpha", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels} channels")
    depth = "float" if pixels.dtype.kind == "f" else f"{pixels.dtype.itemsize * 8}-bit"
    return f"{pixels.shape[1]} x {pixels.shape[0]}, {depth} {kind}"


# --------------------------------------------------------------------------------------------------------- HTML

_PAGE = Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body{margin:0;padding:16px;background:#1e1e1e;color:#ddd;font:14px/1.4 system-ui,sans-serif}
h1{font-size:16px;font-weight:600;margin:0 0 12px}h2{font-size:14px;font-weight:600;margin:24px 0 8px}
figure{margin:0}figcaption{margin-top:6px;color:#aaa}
.stage{position:relative;max-width:100%;line-height:0;user-select:none;touch-action:pan-y;cursor:ew-resize;--pos:50%}
.stage img{display:block;width:100%;height:auto}
.stage img.before{position:absolute;inset:0;height:100%;clip-path:inset(0 calc(100% - var(--pos)) 0 0)}
.bar{position:absolute;top:0;bottom:0;left:var(--pos);width:2px;margin-left:-1px;background:#fff;
box-shadow:0 0 3px #000;pointer-events:none}
.stage:focus-within .bar{background:#fc0}
.stage input{position:absolute;left:0;bottom:0;width:100%;margin:0;opacity:0;pointer-events:none}
.tag{position:absolute;top:8px;padding:2px 6px;background:rgba(0,0,0,.6);line-height:1.4;pointer-events:none}
.tag.l{left:8px}.tag.r{right:8px}
.box{position:absolute;border:1px solid #fc0;box-shadow:0 0 2px #000;pointer-events:none;line-height:1.2;
color:#fc0;font-size:12px;padding:1px 3px;box-sizing:border-box}
.crops{display:flex;flex-wrap:wrap;gap:24px}
.pair{display:flex;gap:4px}.pair img{image-rendering:crisp-edges;image-rendering:pixelated}
</style></head><body>
<h1>$title</h1>
<figure>
<div class="stage" style="width:${width}px">
<img class="after" src="$after_src" width="$width" height="$height" alt="after">
<img class="before" src="$before_src" width="$width" height="$height" alt="before">
$boxes<div class="bar"></div><span class="tag l">$label_before</span><span class="tag r">$label_after</span>
<input type="range" min="0" max="100" step="1" value="50" aria-label="divider between before and after">
</div>
<figcaption>$caption</figcaption>
</figure>
$crops
<script>
document.querySelectorAll('.stage').forEach(function (s) {
  var r = s.querySelector('input'), put = function (p) { s.style.setProperty('--pos', p + '%'); };
  function at(e) {
    var b = s.getBoundingClientRect(), p = Math.max(0, Math.min(100, (e.clientX - b.left) / b.width * 100));
    r.value = p; put(p);  // the range input rounds to its step; the divider follows the pointer exactly
  }
  r.addEventListener('input', function () { put(r.value); });
  s.addEventListener('pointerdown', function (e) {
    s.setPointerCapture(e.pointerId); at(e); r.focus({preventScroll: true}); e.preventDefault();
  });
  s.addEventListener('pointermove', function (e) { if (s.hasPointerCapture(e.pointerId)) at(e); });
});
</script>
</body></html>
""")


def _data_uri(rgb: np.ndarray, *, lossless: bool) -> str:
    ext, params = (".png", []) if lossless else (".jpg", [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
    ok, encoded = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"the {ext[1:].upper()} encoder failed")
    mime = "image/png" if lossless else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(encoded.tobytes()).decode('ascii')}"


def compare_html(
    before: np.ndarray,
    after: np.ndarray,
    *,
    before_name: str = "before",
    after_name: str = "after",
    crops: int = 3,
    crop_size: int = 128,
    zoom: int = 3,
    max_side: int = 2048,
    label_before: str | None = None,
    label_after: str | None = None,
) -> str:
    """One self-contained HTML page: a before/after slider over the whole image and `crops` zoomed crops.

    `before` and `after` are decoded pixels as `read_image` returns them (any channels, any depth).
    """
    _check_options(crops, crop_size, zoom, max_side)
    before_up, shown, scale = prepare(before, after)
    corners = pick_crops(before_up, shown, crops, crop_size)
    size = min(crop_size, *shown.shape[:2])
    height, width = shown.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    small_before, small_after = _shrink(before_up, factor), _shrink(shown, factor)
    lossless = small_after.shape[0] * small_after.shape[1] <= _LOSSLESS_PIXELS
    label_b, label_a = _labels(scale, label_before, label_after)
    boxes = "".join(
        f'<div class="box" style="left:{100 * x / width:.3f}%;top:{100 * y / height:.3f}%;'
        f'width:{100 * size / width:.3f}%;height:{100 * size / height:.3f}%">{i}</div>\n'
        for i, (y, x) in enumerate(corners, 1)
    )
    figures = []
    for i, (y, x) in enumerate(corners, 1):
        pair = "".join(
            f'<img src="{_data_uri(img[y : y + size, x : x + size], lossless=True)}" width="{size * zoom}" '
            f'height="{size * zoom}" alt="{alt} {i}" title="{alt}">'
            for img, alt in ((before_up, "before"), (shown, "after"))
        )
        figures.append(
            f'<figure><div class="pair">{pair}</div><figcaption>{i}: before | after, {size} x {size} px at '
            f"x={x}, y={y}</figcaption></figure>"
        )
    heading = f"<h2>Zoomed crops ({scale_text(zoom)}, pixelated), where the images differ most</h2>\n"
    crops_html = heading + '<div class="crops">\n' + "\n".join(figures) + "\n</div>" if figures else ""
    names = html.escape(before_name), html.escape(after_name)
    caption = f"before: {names[0]} ({_describe(before)}) &middot; after: {names[1]} ({_describe(after)})"
    if factor < 1:
        caption += f" &middot; slider shown at {small_after.shape[1]} x {small_after.shape[0]}, crops at full size"
    return _PAGE.substitute(
        title=html.escape(f"{before_name} vs {after_name}"),
        width=small_after.shape[1],
        height=small_after.shape[0],
        before_src=_data_uri(small_before, lossless=lossless),
        after_src=_data_uri(small_after, lossless=lossless),
        boxes=boxes,
        label_before=html.escape(label_b),
        label_after=html.escape(label_a),
        caption=caption,
        crops=crops_html,
    )


# --------------------------------------------------------------------------------------------------------- still


def _text(canvas: np.ndarray, text: str, x: int, y: int, width: int) -> None:
    """`text` in the strip whose top-left is (x, y), cut to `width` pixels (Hershey fonts draw ASCII only)."""
    text = text.encode("ascii", "replace").decode("ascii")
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.45
    while text and cv2.getTextSize(text, font, scale, 1)[0][0] > width - 4:
        text = text[:-1]
    cv2.putText(canvas, text, (x + 2, y + STRIP - 8), font, scale, _INK, 1, cv2.LINE_AA)


def compare_image(
    before: np.ndarray,
    after: np.ndarray,
    *,
    crops: int = 3,
    crop_size: int = 128,
    zoom: int = 3,
    max_side: int = 2048,
    label_before: str | None = None,
    label_after: str | None = None,
) -> np.ndarray:
    """A still picture (8-bit RGB): before | after side by side, each under a label strip, and below them a row of
    zoomed crops, before above after. The two panels together are at most `max_side` wide (and tall)."""
    _check_options(crops, crop_size, zoom, max_side)
    before_up, shown, scale = prepare(before, after)
    corners = pick_crops(before_up, shown, crops, crop_size)
    size = min(crop_size, *shown.shape[:2])
    height, width = shown.shape[:2]
    factor = min(1.0, (max_side - 3 * GAP) / (2 * width), max_side / height)
    panels = [_shrink(before_up, factor), _shrink(shown, factor)]
    ph, pw = panels[1].shape[:2]
    cz, n = size * zoom, len(corners)
    top_w = 2 * pw + 3 * GAP
    crops_w = n * cz + (n + 1) * GAP
    canvas_h = GAP + STRIP + ph + GAP + (STRIP + 2 * cz + 2 * GAP if n else 0)
    canvas = np.empty((canvas_h, max(top_w, crops_w), 3), np.uint8)
    canvas[:] = _BACKGROUND

    left = (canvas.shape[1] - top_w) // 2 + GAP
    for panel, label, x in zip(panels, _labels(scale, label_before, label_after), (left, left + pw + GAP), strict=True):
        _text(canvas, label, x, GAP, pw)
        canvas[GAP + STRIP : GAP + STRIP + ph, x : x + pw] = panel
    fy, fx = ph / height, pw / width
    for i, (y, x) in enumerate(corners, 1):  # where the crops come from, on the after panel
        x0, y0 = left + pw + GAP + round(x * fx), GAP + STRIP + round(y * fy)
        x1, y1 = x0 + max(1, round(size * fx)) - 1, y0 + max(1, round(size * fy)) - 1
        cv2.rectangle(canvas, (x0, y0), (x1, y1), _BOX, 1)
        cv2.putText(canvas, str(i), (x0 + 2, y0 + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, _BOX, 1, cv2.LINE_AA)

    top = GAP + STRIP + ph + GAP
    left = (canvas.shape[1] - crops_w) // 2 + GAP
    for i, (y, x) in enumerate(corners):
        cx = left + i * (cz + GAP)
        _text(canvas, f"{i + 1}: x={x}, y={y} ({scale_text(zoom)})", cx, top, cz)
        canvas[top + STRIP : top + STRIP + cz, cx : cx + cz] = _zoomed(before_up, y, x, size, zoom)
        canvas[top + STRIP + cz + GAP : top + STRIP + 2 * cz + GAP, cx : cx + cz] = _zoomed(shown, y, x, size, zoom)
    return canvas


# --------------------------------------------------------------------------------------------------------- files


def _check_options(crops: int = 3, crop_size: int = 128, zoom: int = 3, max_side: int = 2048, **_) -> None:
    if not 0 <= crops <= MAX_CROPS:
        raise UsageError(f"--crops must be between 0 and {MAX_CROPS}, not {crops}")
    if crop_size < 8:
        raise UsageError(f"--crop-size must be at least 8 pixels, not {crop_size}")
    if not 1 <= zoom <= 16:
        raise UsageError(f"--zoom must be between 1 and 16, not {zoom}")
    if max_side < 64:
        raise UsageError(f"--max-side must be at least 64 pixels, not {max_side}")


def default_output(after_path: str | os.PathLike) -> Path:
    """`<AFTER stem>.compare.html` next to AFTER."""
    after_path = Path(after_path)
    return after_path.with_name(f"{after_path.stem}.compare.html")


def write_compare(
    before_path: str | os.PathLike,
    after_path: str | os.PathLike,
    out_path: str | os.PathLike | None = None,
    **options,
) -> Path:
    """Read BEFORE and AFTER, write the comparison atomically to `out_path` (HTML, or PNG / JPEG / WebP for a still
    image; default `default_output(after_path)`) and return its path. `options` are compare_html's / compare_image's.

    UsageError (exit 2) for another suffix, an output that is one of the inputs or cannot be written; InputError
    (exit 1) for an input that cannot be read.
    """
    before_path, after_path = Path(before_path), Path(after_path)
    out = Path(out_path) if out_path is not None else default_output(after_path)
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise UsageError(f"cannot write '{out}': the output must end in {', '.join(OUTPUT_SUFFIXES)}")
    for source in (before_path, after_path):
        if same_file(out, source):
            raise UsageError(f"refusing to write '{out}': it is the input file '{source}'")
    _check_options(**options)  # before reading: a usage error should not wait for two decodes
    before, after = read_image(before_path).pixels, read_image(after_path).pixels
    if suffix == ".html":
        names = {"before_name": before_path.name, "after_name": after_path.name}
        data = compare_html(before, after, **names, **options).encode("utf-8")
    else:
        canvas = compare_image(before, after, **options)
        flag = {".png": None, ".webp": cv2.IMWRITE_WEBP_QUALITY}.get(suffix, cv2.IMWRITE_JPEG_QUALITY)
        params = [] if flag is None else [flag, _JPEG_QUALITY]
        ok, encoded = cv2.imencode(suffix, cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise UsageError(f"cannot write '{out}': the {suffix[1:].upper()} encoder failed")
        data = encoded.tobytes()
    try:
        files.write_bytes(out, data)
    except OSError as exc:
        raise UsageError(f"cannot write '{out}': {exc.strerror or exc}") from None
    return out
