"""irtool.io.images: every format round-trips exactly, metadata survives, bad files fail with one clear line."""

from __future__ import annotations

import io
import os

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageCms, ImageOps

from irtool.errors import InputError, UnavailableError, UsageError
from irtool.io import images
from irtool.io.images import from_float32, is_image_path, list_images, read_image, to_float32, write_image

RNG = np.random.default_rng(0)


def random_pixels(dtype, channels, h=7, w=9):
    top = {np.uint8: 256, np.uint16: 65536}.get(dtype)
    if top is None:
        return RNG.random((h, w, channels), dtype=np.float32) * 3 - 1  # float TIFF keeps values outside [0, 1]
    return RNG.integers(0, top, (h, w, channels), dtype=dtype)


def smooth_pixels(channels, h=32, w=48):
    """A gentle gradient: what JPEG reproduces closely, unlike noise."""
    y, x = np.mgrid[0:h, 0:w]
    planes = [x * 4, y * 6, (x + y) * 2, np.full_like(x, 200)][:channels]
    return np.stack(planes, axis=-1).astype(np.uint8)


EXACT = [
    (suffix, dtype, channels)
    for suffix, dtypes in [
        (".png", [np.uint8, np.uint16]),
        (".tif", [np.uint8, np.uint16, np.float32]),
        (".bmp", [np.uint8]),
    ]
    for dtype in dtypes
    for channels in (1, 3, 4)
] + [(".webp", np.uint8, 3), (".webp", np.uint8, 4)]


@pytest.mark.parametrize(("suffix", "dtype", "channels"), EXACT)
def test_lossless_round_trip_is_bit_exact(tmp_path, suffix, dtype, channels):
    pixels = random_pixels(dtype, channels)
    write_image(tmp_path / f"a{suffix}", pixels)
    image = read_image(tmp_path / f"a{suffix}")
    assert image.pixels.dtype == dtype and image.pixels.shape == pixels.shape
    if suffix == ".webp" and channels == 4:  # libwebp keeps no colour under alpha 0 (invisible anyway)
        pixels[pixels[:, :, 3] == 0] = 0
    np.testing.assert_array_equal(image.pixels, pixels)
    assert image.bit_depth == np.dtype(dtype).itemsize * 8
    assert image.has_alpha == (channels == 4)


def test_webp_stores_grey_as_rgb(tmp_path):
    grey = random_pixels(np.uint8, 1)
    write_image(tmp_path / "g.webp", grey)
    np.testing.assert_array_equal(read_image(tmp_path / "g.webp").pixels, np.repeat(grey, 3, axis=2))


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_jpeg_round_trip_is_close_and_drops_alpha(tmp_path, channels):
    pixels = smooth_pixels(channels)
    write_image(tmp_path / "a.jpg", pixels)
    back = read_image(tmp_path / "a.jpg").pixels
    expected = pixels[:, :, :3]
    assert back.shape == expected.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - expected).mean() < 2


def test_jpeg_quality_changes_the_file(tmp_path):
    pixels = random_pixels(np.uint8, 3, 64, 64)
    write_image(tmp_path / "lo.jpg", pixels, quality=10)
    write_image(tmp_path / "hi.jpg", pixels, quality=100)
    assert (tmp_path / "lo.jpg").stat().st_size < (tmp_path / "hi.jpg").stat().st_size / 2
    with pytest.raises(UsageError, match="quality"):
        write_image(tmp_path / "bad.jpg", pixels, quality=0)


def test_webp_is_lossless_unless_a_quality_is_given(tmp_path):
    pixels = random_pixels(np.uint8, 3, 32, 32)
    write_image(tmp_path / "lossy.webp", pixels, quality=50)
    assert not np.array_equal(read_image(tmp_path / "lossy.webp").pixels, pixels)


@pytest.mark.parametrize("suffix", [".bmp", ".webp", ".jpg"])
def test_16_bit_is_rounded_to_8_bit_where_the_format_needs_it(tmp_path, suffix):
    pixels = np.array([[0, 128, 129, 385, 386, 65535]], dtype=np.uint16).reshape(1, 6, 1).repeat(3, axis=2)
    pixels = np.tile(pixels, (8, 2, 1))  # JPEG needs a few blocks; values are constant along columns
    write_image(tmp_path / f"a{suffix}", pixels)
    back = read_image(tmp_path / f"a{suffix}").pixels
    assert back.dtype == np.uint8
    if suffix != ".jpg":
        # 128/257 = 0.498 -> 0, 129/257 = 0.502 -> 1, 385/257 = 1.498 -> 1, 386/257 = 1.502 -> 2
        np.testing.assert_array_equal(back[0, :6, 0], [0, 0, 1, 1, 2, 255])


def test_float_pixels_go_to_16_bit_png(tmp_path):
    pixels = RNG.random((5, 6, 3), dtype=np.float32)
    write_image(tmp_path / "f.png", pixels)
    back = read_image(tmp_path / "f.png").pixels
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, from_float32(pixels, np.uint16))


def test_a_red_pixel_written_by_pillow_reads_as_red(tmp_path):
    """Guards the BGR/RGB swap with a file from an independent encoder, in every lossless format."""
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)
    rgba[0, 1] = (0, 0, 255, 128)
    for suffix, mode in [(".png", "RGBA"), (".webp", "RGBA"), (".tif", "RGBA"), (".bmp", "RGB"), (".png", "RGB")]:
        path = tmp_path / f"red-{mode}{suffix}"
        kwargs = {"lossless": True} if suffix == ".webp" else {}
        PILImage.fromarray(rgba).convert(mode).save(path, **kwargs)
        pixels = read_image(path).pixels
        assert tuple(pixels[0, 0, :3]) == (255, 0, 0), path.name
        assert tuple(pixels[0, 1, :3]) == (0, 0, 255), path.name
        if mode == "RGBA":
            assert pixels[0, 1, 3] == 128, path.name


def test_unicode_path(tmp_path):
    path = tmp_path / "фото 写真" / "фото 写真.png"
    pixels = random_pixels(np.uint16, 3)
    write_image(path, pixels)
    np.testing.assert_array_equal(read_image(path).pixels, pixels)
    assert read_image(str(path)).path == path


def test_palette_one_bit_and_grey_alpha_pngs_come_out_sensible(tmp_path):
    rgb = random_pixels(np.uint8, 3, 10, 12)
    palette = PILImage.fromarray(rgb).quantize(8)
    palette.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_image(tmp_path / "p.png").pixels, np.asarray(palette.convert("RGB")))

    palette.save(tmp_path / "pt.png", transparency=0)
    assert read_image(tmp_path / "pt.png").pixels.shape == (10, 12, 4)

    bits = rgb[:, :, 0] > 127
    PILImage.fromarray(bits).convert("1").save(tmp_path / "b.png")
    one_bit = read_image(tmp_path / "b.png").pixels
    assert one_bit.shape == (10, 12, 1)
    np.testing.assert_array_equal(one_bit[:, :, 0], bits * np.uint8(255))

    PILImage.fromarray(rgb[:, :, :2].copy(), "LA").save(tmp_path / "la.png")
    la = read_image(tmp_path / "la.png").pixels  # grey + alpha stays 2 channels (OpenCV alone gives BGRA)
    np.testing.assert_array_equal(la, rgb[:, :, :2])


# ------------------------------------------------------------------------------------------------- metadata


def exif_bytes(orientation=None, make="irtool-test"):
    exif = PILImage.Exif()
    exif[0x010F] = make
    if orientation is not None:
        exif[0x0112] = orientation
    exif[0x8769] = {0x9003: "2024:05:06 07:08:09"}  # DateTimeOriginal in the Exif sub-IFD
    return exif.tobytes()


SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_once_like_pillow(tmp_path, orientation):
    stored = random_pixels(np.uint8, 3, 5, 8)
    PILImage.fromarray(stored).save(tmp_path / "o.png", exif=exif_bytes(orientation))
    image = read_image(tmp_path / "o.png")
    upright = ImageOps.exif_transpose(PILImage.open(tmp_path / "o.png"))
    np.testing.assert_array_equal(image.pixels, np.asarray(upright))
    tags = PILImage.Exif()
    tags.load(image.exif)
    assert tags.get(0x0112, 1) == 1 and tags[0x010F] == "irtool-test"

    # Writing with the returned EXIF and reading again must not turn the picture a second time.
    write_image(tmp_path / "again.png", image.pixels, exif=image.exif)
    np.testing.assert_array_equal(read_image(tmp_path / "again.png").pixels, image.pixels)


def test_jpeg_with_orientation_6_reads_rotated_clockwise(tmp_path):
    stored = smooth_pixels(3, 16, 24)
    PILImage.fromarray(stored).save(tmp_path / "cam.jpg", quality=100, exif=exif_bytes(6))
    image = read_image(tmp_path / "cam.jpg")
    assert image.pixels.shape == (24, 16, 3)
    expected = np.rot90(stored, -1)
    assert np.abs(image.pixels.astype(int) - expected).mean() < 2


def test_tiff_orientation_and_exif_are_read(tmp_path):
    stored = random_pixels(np.uint8, 3, 4, 6)
    PILImage.fromarray(stored).save(tmp_path / "o.tif", exif=exif_bytes(8))
    image = read_image(tmp_path / "o.tif")
    np.testing.assert_array_equal(image.pixels, np.rot90(stored, 1))
    tags = PILImage.Exif()
    tags.load(image.exif)
    assert tags[0x010F] == "irtool-test" and tags.get_ifd(0x8769)[0x9003] == "2024:05:06 07:08:09"


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_tiff_orientation_is_applied_once_for_every_depth(tmp_path, dtype, channels):
    """Files from tifffile: straight (unassociated) alpha, orientation tag in IFD0, 16-bit and float samples."""
    tifffile = pytest.importorskip("tifffile")
    stored = random_pixels(dtype, channels, 4, 6)
    extra = {"extrasamples": ["unassalpha"]} if channels == 4 else {}
    photometric = "minisblack" if channels == 1 else "rgb"
    data = stored[:, :, 0] if channels == 1 else stored
    tifffile.imwrite(tmp_path / "t.tif", data, photometric=photometric, extratags=[(274, "H", 1, 6, True)], **extra)
    np.testing.assert_array_equal(read_image(tmp_path / "t.tif").pixels, np.rot90(stored, -1))


@pytest.mark.parametrize(
    ("suffix", "dtype"), [(".png", np.uint16), (".png", np.uint8), (".jpg", np.uint8), (".webp", np.uint8)]
)
@pytest.mark.parametrize("channels", [3, 4])
def test_exif_and_icc_are_carried_and_pillow_reads_them(tmp_path, suffix, dtype, channels):
    pixels = random_pixels(dtype, channels, 16, 16)
    path = tmp_path / f"m{suffix}"
    write_image(path, pixels, exif=exif_bytes(), icc=SRGB)
    with PILImage.open(path) as im:
        im.load()  # the whole file must still decode
        assert im.info["icc_profile"] == SRGB
        exif = im.getexif()
        assert exif[0x010F] == "irtool-test"
        assert exif.get_ifd(0x8769)[0x9003] == "2024:05:06 07:08:09"
        assert ("A" in im.mode) == (channels == 4 and suffix != ".jpg")
    image = read_image(path)
    assert image.icc == SRGB and image.exif.startswith(b"Exif\x00\x00")
    if suffix == ".webp" and channels == 4:  # libwebp keeps no colour under alpha 0 (invisible anyway)
        pixels[pixels[:, :, 3] == 0] = 0
    if suffix != ".jpg":
        np.testing.assert_array_equal(image.pixels, pixels)


def test_a_big_icc_profile_is_split_over_jpeg_segments(tmp_path):
    icc = bytes(RNG.integers(0, 256, 150_000, dtype=np.uint8))
    write_image(tmp_path / "big.jpg", smooth_pixels(3), icc=icc)
    assert read_image(tmp_path / "big.jpg").icc == icc


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_tiff_keeps_the_icc_profile(tmp_path, dtype):
    pixels = random_pixels(dtype, 3)
    write_image(tmp_path / "m.tif", pixels, icc=SRGB)
    image = read_image(tmp_path / "m.tif")
    assert image.icc == SRGB
    np.testing.assert_array_equal(image.pixels, pixels)


def test_rgba_tiff_marks_its_alpha_so_other_readers_agree(tmp_path):
    pixels = random_pixels(np.uint8, 4)
    write_image(tmp_path / "a.tif", pixels, icc=SRGB)
    with PILImage.open(tmp_path / "a.tif") as im:
        assert im.tag_v2[338] in (2, (2,)) and im.mode == "RGBA"  # ExtraSamples: unassociated alpha
        np.testing.assert_array_equal(np.asarray(im), pixels)
    np.testing.assert_array_equal(read_image(tmp_path / "a.tif").pixels, pixels)


def test_files_without_metadata_have_none(tmp_path):
    write_image(tmp_path / "plain.png", random_pixels(np.uint8, 3))
    image = read_image(tmp_path / "plain.png")
    assert image.exif is None and image.icc is None and image.format == "png"


# ------------------------------------------------------------------------------------------ failures and safety


def test_failed_write_leaves_no_temp_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"previous")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(target, random_pixels(np.uint8, 3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    assert target.read_bytes() == b"previous"

    monkeypatch.undo()
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(InputError, match="cannot write image '.*out.png': No space left"):
        write_image(target, random_pixels(np.uint8, 3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_encoder_failure_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(cv2, "imencode", lambda *args: (False, None))
    with pytest.raises(InputError, match="cannot write image '.*x.png': the PNG encoder failed"):
        write_image(tmp_path / "x.png", random_pixels(np.uint8, 3))
    assert list(tmp_path.iterdir()) == []


def test_the_input_file_is_protected(tmp_path):
    source = tmp_path / "in.png"
    write_image(source, random_pixels(np.uint8, 3))
    before = source.read_bytes()
    with pytest.raises(InputError, match="refusing to write"):
        write_image(tmp_path / "." / "in.png", random_pixels(np.uint8, 3), protect=[source])
    assert source.read_bytes() == before
    write_image(tmp_path / "out.png", random_pixels(np.uint8, 3), protect=[source])  # another name is fine


def test_broken_files_raise_input_error_naming_the_file(tmp_path):
    cases = {"empty.png": b"", "notes.png": b"just some text, not pixels\n" * 4}
    pixels = smooth_pixels(3, 64, 64)
    for suffix in (".png", ".jpg", ".webp", ".tif", ".bmp"):
        ok, encoded = cv2.imencode(suffix, pixels)
        cases[f"truncated{suffix}"] = encoded.tobytes()[: len(encoded) * 2 // 3]
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError) as info:
            read_image(tmp_path / name)
        message = str(info.value)
        assert name in message and "\n" not in message, message
    assert "not a PNG, JPEG" in str(pytest.raises(InputError, read_image, tmp_path / "notes.png").value)
    assert "empty" in str(pytest.raises(InputError, read_image, tmp_path / "empty.png").value)
    assert "truncated" in str(pytest.raises(InputError, read_image, tmp_path / "truncated.jpg").value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="cannot read image '.*nope.png': no such file"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(InputError, match="dir.png"):
        read_image(tmp_path / "dir.png")


def test_unknown_output_suffix_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="suffix"):
        write_image(tmp_path / "x.gif", random_pixels(np.uint8, 3))


def test_exr_round_trip_or_clear_error(tmp_path):
    pixels = random_pixels(np.float32, 3)
    if cv2.haveImageWriter(".exr"):
        write_image(tmp_path / "a.exr", pixels)
        np.testing.assert_array_equal(read_image(tmp_path / "a.exr").pixels, pixels)
    else:
        with pytest.raises(UnavailableError, match="OpenEXR"):
            write_image(tmp_path / "a.exr", pixels)
        (tmp_path / "b.exr").write_bytes(b"v/1\x01" + bytes(64))
        with pytest.raises(UnavailableError, match="b.exr"):
            read_image(tmp_path / "b.exr")


# --------------------------------------------------------------------------------------- conversions and listing


def test_float_conversions_round_trip_every_value():
    u8 = np.arange(256, dtype=np.uint8)
    u16 = np.arange(65536, dtype=np.uint16)
    assert to_float32(u8).dtype == np.float32 and to_float32(u8).max() == 1.0
    np.testing.assert_array_equal(from_float32(to_float32(u8), np.uint8), u8)
    np.testing.assert_array_equal(from_float32(to_float32(u16), np.uint16), u16)


def test_from_float32_clips_rounds_half_up_and_zeroes_nan():
    x = np.array([-0.5, 0.5, 1.7, np.nan, 0.4 / 255, 0.6 / 255], dtype=np.float32)
    np.testing.assert_array_equal(from_float32(x, np.uint8), [0, 128, 255, 0, 0, 1])  # 127.5 -> 128
    assert from_float32(np.float32(0.5), np.uint16) == 32768  # 32767.5 -> 32768


def test_is_image_path_and_list_images(tmp_path):
    assert is_image_path("a.PNG") and is_image_path("b.tiff") and not is_image_path("c.txt")
    for name in ["img10.png", "img2.png", "img1.JPG", ".hidden.png", "notes.txt", "sub/img3.png", ".git/x.png"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["img1.JPG", "img2.png", "img10.png"]
    found = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path, recursive=True)]
    assert found == ["img1.JPG", "img2.png", "img10.png", "sub/img3.png"]
    with pytest.raises(InputError, match="no such folder"):
        list_images(tmp_path / "missing")


def test_pillow_reads_our_webp_with_alpha_without_metadata(tmp_path):
    pixels = random_pixels(np.uint8, 4)
    write_image(tmp_path / "a.webp", pixels)
    with PILImage.open(io.BytesIO((tmp_path / "a.webp").read_bytes())) as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGBA")), pixels)
    assert images.format_of("x.WEBP") == "webp"


def test_written_files_get_the_usual_permissions(tmp_path):

    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / "out.png"
    images.write_image(path, np.zeros((4, 4, 3), np.uint8))
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_damaged_png_fails_without_libpng_chatter_on_stderr(tmp_path, capfd):
    """libpng prints "IDAT: CRC error" / "input buffer is incomplete" to fd 2 itself; we must catch it first."""
    ok, encoded = cv2.imencode(".png", smooth_pixels(3, 64, 64))
    data = bytearray(encoded.tobytes())
    data[60] ^= 0xFF  # inside the IDAT chunk
    (tmp_path / "flipped.png").write_bytes(bytes(data))
    (tmp_path / "cut.png").write_bytes(encoded.tobytes()[:-12])  # IEND gone
    capfd.readouterr()
    for name in ("flipped.png", "cut.png"):
        with pytest.raises(InputError, match=f"{name}.*truncated or corrupt"):
            read_image(tmp_path / name)
    assert capfd.readouterr().err == ""
    # an ancillary chunk with a bad CRC is only skipped, as libpng does
    good = encoded.tobytes()
    text = b"tEXt" + b"Comment\x00hi"
    chunk = len(text[4:]).to_bytes(4, "big") + text + b"\x00\x00\x00\x00"
    (tmp_path / "odd.png").write_bytes(good[:33] + chunk + good[33:])
    assert read_image(tmp_path / "odd.png").pixels.shape == (64, 64, 3)


def test_consumed_pixels_encode_the_same_file_and_others_stay_untouched(tmp_path):
    rng = np.random.default_rng(3)
    for channels in (3, 4):
        pixels = rng.integers(0, 256, (17, 23, channels), dtype=np.uint8)
        before = pixels.copy()
        write_image(tmp_path / f"kept{channels}.png", pixels)
        assert np.array_equal(pixels, before)  # the caller's array is not reordered
        write_image(tmp_path / f"consumed{channels}.png", pixels, consume=True)
        assert (tmp_path / f"kept{channels}.png").read_bytes() == (tmp_path / f"consumed{channels}.png").read_bytes()
        assert np.array_equal(read_image(tmp_path / f"consumed{channels}.png").pixels, before)
