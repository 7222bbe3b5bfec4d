"""irtool.io.compare and `irtool compare`: self-contained pages, crops where the difference is, exact enlargement."""

from __future__ import annotations

import base64
import re

import cv2
import numpy as np
import pytest

from irtool.cli import main
from irtool.io import compare
from irtool.io.compare import GAP, STRIP, compare_html, compare_image, enlarge, pick_crops, prepare, write_compare
from irtool.io.images import read_image, write_image

RNG = np.random.default_rng(0)


def smooth(h: int, w: int, channels: int = 3, dtype=np.uint8) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    top = np.iinfo(dtype).max
    planes = [(y * top // max(1, h - 1)), (x * top // max(1, w - 1)), ((x + y) * top // max(1, h + w - 2))]
    return np.stack(planes[:channels], axis=-1).astype(dtype)


def pair(tmp_path, *, scale: int = 4, h: int = 30, w: int = 40):
    """A small BEFORE and AFTER = BEFORE enlarged, written as PNG files."""
    before = smooth(h, w)
    after = np.repeat(np.repeat(before, scale, axis=0), scale, axis=1)
    paths = tmp_path / "before.png", tmp_path / "after.png"
    write_image(paths[0], before)
    write_image(paths[1], after)
    return paths


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["compare", *args])
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def embedded_images(page: str) -> list[np.ndarray]:
    found = re.findall(r'src="data:image/(?:png|jpeg);base64,([A-Za-z0-9+/=]+)"', page)
    return [cv2.imdecode(np.frombuffer(base64.b64decode(b), np.uint8), cv2.IMREAD_UNCHANGED) for b in found]


# ------------------------------------------------------------------------------------------------------ pixels


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_nearest_enlargement_keeps_every_input_pixel(channels):
    before = RNG.integers(0, 256, (7, 9, channels), dtype=np.uint8)
    up = enlarge(before, 28, 36)
    assert up.shape == (28, 36, channels)
    assert np.array_equal(up, np.repeat(np.repeat(before, 4, axis=0), 4, axis=1))


def test_prepare_shows_16_bit_grey_and_alpha_as_8_bit_rgb():
    before = smooth(10, 12, channels=1, dtype=np.uint16)
    after = np.concatenate([smooth(20, 24, 1, np.uint16), np.zeros((20, 24, 1), np.uint16)], axis=2)  # transparent
    before_up, shown, scale = prepare(before, after)
    assert scale == 2 and before_up.shape == shown.shape == (20, 24, 3)
    assert before_up.dtype == shown.dtype == np.uint8
    assert np.array_equal(before_up[::2, ::2, 0], (before[:, :, 0].astype(np.uint32) * 255 + 32767) // 65535)
    assert set(np.unique(shown)) == {153, 204}  # fully transparent: only the checkerboard shows


def test_scale_must_be_the_same_both_ways():
    assert compare.scale_text(compare.scale_of((30, 40), (45, 60))) == "x1.5"
    with pytest.raises(compare.UsageError, match="not the same picture"):
        compare.scale_of((30, 40), (120, 80))


def test_crops_land_where_the_difference_was_planted():
    before = smooth(64, 64)
    before_up = np.repeat(np.repeat(before, 2, axis=0), 2, axis=1)
    after = before_up.copy()
    after[32:64, 80:112] = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)  # strong
    after[96:128, 16:48] = np.clip(after[96:128, 16:48].astype(int) + RNG.integers(-40, 40, (32, 32, 3)), 0, 255)
    assert pick_crops(before_up, after, 2, 32) == [(32, 80), (96, 16)]
    corners = pick_crops(before_up, after, 4, 32)
    assert len(corners) == 4
    assert all(abs(a[0] - b[0]) >= 32 or abs(a[1] - b[1]) >= 32 for a in corners for b in corners if a != b)


def test_crops_never_exceed_the_image():
    img = smooth(20, 50)
    corners = pick_crops(img, img, 3, 128)  # windows shrink to 20 x 20: two fit side by side, not three
    assert len(corners) == 2 and all(y == 0 and 0 <= x <= 30 for y, x in corners)
    assert pick_crops(img, img, 0, 16) == []


# -------------------------------------------------------------------------------------------------------- HTML


def test_html_is_self_contained_and_embeds_images_of_the_right_sizes():
    before = smooth(30, 40)
    after = np.repeat(np.repeat(before, 4, axis=0), 4, axis=1)
    page = compare_html(before, after, before_name="a<b>.jpg", after_name="out.png", crops=2, crop_size=32, zoom=3)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert "a&lt;b&gt;.jpg" in page and "a<b>" not in page
    assert "before (input, shown x4 nearest)" in page
    assert "image-rendering:pixelated" in page and 'type="range"' in page
    images = embedded_images(page)
    assert [im.shape[:2] for im in images] == [(120, 160)] * 2 + [(32, 32)] * 4
    assert page.count('width="96" height="96"') == 4  # crops at x3
    assert np.array_equal(images[1][:, :, ::-1], after)  # a small slider image is embedded losslessly


def test_large_slider_images_are_scaled_down_and_jpeg():
    before = smooth(150, 200)
    after = cv2.resize(before, (1600, 1200), interpolation=cv2.INTER_CUBIC)
    page = compare_html(before, after, max_side=800, crops=1, crop_size=100, zoom=2)
    images = embedded_images(page)
    assert [im.shape[:2] for im in images] == [(600, 800)] * 2 + [(100, 100)] * 2
    assert page.count("data:image/jpeg") == 2 and page.count("data:image/png") == 2


# ------------------------------------------------------------------------------------------------------- still


def test_still_image_layout():
    before = smooth(30, 40)
    after = np.repeat(np.repeat(before, 4, axis=0), 4, axis=1)  # 120 x 160
    canvas = compare_image(before, after, crops=2, crop_size=32, zoom=2)
    top_w, crops_w = 2 * 160 + 3 * GAP, 2 * 64 + 3 * GAP
    assert canvas.shape == (GAP + STRIP + 120 + GAP + STRIP + 2 * 64 + 2 * GAP, max(top_w, crops_w), 3)
    panel = canvas[GAP + STRIP : GAP + STRIP + 120, GAP : GAP + 160]
    assert np.array_equal(panel, after)  # the enlarged before, pixel for pixel
    no_crops = compare_image(before, after, crops=0, max_side=200)  # panels shrink to fit max_side
    pw = (200 - 3 * GAP) // 2
    assert no_crops.shape == (GAP + STRIP + round(120 * pw / 160) + GAP, 2 * pw + 3 * GAP, 3)


# --------------------------------------------------------------------------------------------------------- CLI


def test_default_output_is_next_to_after_and_inputs_are_unchanged(tmp_path, capsys):
    before, after = pair(tmp_path)
    originals = before.read_bytes(), after.read_bytes()
    code, _, err = run_cli(capsys, str(before), str(after))
    assert code == 0, err
    out = tmp_path / "after.compare.html"
    assert out.is_file() and str(out) in err
    assert compare.default_output(after) == out
    assert (before.read_bytes(), after.read_bytes()) == originals
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_still_outputs(tmp_path, capsys, suffix):
    before, after = pair(tmp_path)
    out = tmp_path / "sub" / f"cmp{suffix}"
    code, _, err = run_cli(capsys, str(before), str(after), "-o", str(out), "--crops", "1", "--crop-size", "16", "-q")
    assert code == 0 and err == ""
    assert read_image(out).pixels.shape[1] == 2 * 160 + 3 * GAP


def test_write_compare_returns_the_path(tmp_path):
    before, after = pair(tmp_path, scale=1)
    out = write_compare(before, after, tmp_path / "x.html", crops=1, label_before="JPEG q30")
    text = out.read_text()
    assert "JPEG q30" in text and "shown" not in text  # same size: nothing was enlarged


def test_missing_input_is_a_read_error(tmp_path, capsys):
    _, after = pair(tmp_path)
    code, _, err = run_cli(capsys, str(tmp_path / "missing.png"), str(after))
    assert code == 1 and "no such file" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "after.compare.html").exists()


@pytest.mark.parametrize("name", ["out.gif", "out.tif", "out"])
def test_other_suffixes_are_usage_errors(tmp_path, capsys, name):
    before, after = pair(tmp_path)
    code, _, err = run_cli(capsys, str(before), str(after), "-o", str(tmp_path / name))
    assert code == 2 and ".html" in err and "Traceback" not in err
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("which", [0, 1])
def test_output_naming_an_input_is_refused(tmp_path, capsys, which):
    paths = pair(tmp_path)
    originals = [p.read_bytes() for p in paths]
    target = tmp_path / "." / paths[which].name  # another spelling of the same file
    code, _, err = run_cli(capsys, str(paths[0]), str(paths[1]), "-o", str(target))
    assert code == 2 and "refusing" in err
    assert [p.read_bytes() for p in paths] == originals


def test_bad_option_values_are_usage_errors(tmp_path, capsys):
    before, after = pair(tmp_path)
    code, _, _ = run_cli(capsys, str(before), str(after), "--crops", "5")
    assert code == 2
    with pytest.raises(compare.UsageError):
        write_compare(before, after, tmp_path / "x.html", zoom=0)


def test_different_aspect_ratios_are_usage_errors(tmp_path, capsys):
    before, _ = pair(tmp_path)
    other = tmp_path / "other.png"
    write_image(other, smooth(40, 40))
    code, _, err = run_cli(capsys, str(before), str(other))
    assert code == 2 and "not the same picture" in err


def test_help_has_examples_and_exit_codes(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--help"])
    text = capsys.readouterr().out
    assert exc.value.code in (0, None)
    assert "Examples" in text and "irtool compare" in text and "Exit codes" in text
    assert "<bool>" not in text and "BOOLEAN" not in text
