"""Image loading: every file becomes HxWx3 uint8 RGB, or an ImageLoadError naming it."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps

from efficientdet_adapter.records import images
from efficientdet_adapter.base.errors import ImageLoadError
from efficientdet_adapter.records.images import open_img, oriented_size, to_rgb, to_uint8


def _photo(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth image with some texture: what JPEG compresses in real life."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 / w, y * 255 / h, (x + y) % 256], axis=-1)
    img = img + rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


# -- the real odd files of the IceVision samples ------------------------------------------
SAMPLE_FILES = [
    ("gray_scale", "gray_scale_h_10_w_10_image.tiff", (10, 10), True),
    ("gray_scale", "gray_scale_h_50_w_50_image.tiff", (50, 50), True),
    ("gray_scale", "grayscale_int8.png", (200, 150), True),
    ("gray_scale", "test_1_bands_float32.tif", (100, 101), True),
    ("gray_scale", "test_1_bands_int16.tif", (100, 101), True),
    ("gray_scale", "test_1_bands_int32.tif", (100, 101), True),
    ("gray_scale", "test_1_bands_int8.tif", (100, 101), True),
    ("tiff", "test_3_bands_float32.tif", (100, 101), False),
    ("tiff", "test_3_bands_int16.tif", (100, 101), False),
    ("tiff", "test_3_bands_int32.tif", (100, 101), False),
    ("tiff", "test_3_bands_int8.tif", (100, 101), False),
]


@pytest.mark.parametrize("folder,name,hw,gray", SAMPLE_FILES)
def test_sample_files_load_as_rgb_uint8(samples_dir, folder, name, hw, gray):
    img = open_img(samples_dir / folder / name)
    assert img.shape == (*hw, 3)
    assert img.dtype == np.uint8
    assert img.min() == 0 or name.startswith("gray_scale_h_10")  # stretched or dtype-scaled
    assert img.max() >= 250
    channels_equal = bool((img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all())
    assert channels_equal is gray


def test_sample_uint16_tiff_uses_dtype_range(samples_dir):
    path = samples_dir / "gray_scale" / "gray_scale_h_50_w_50_image.tiff"
    raw = np.asarray(Image.open(path)).astype(np.float64)
    assert raw.max() > 255  # really 16-bit data
    expected = np.rint(raw * 255 / 65535).astype(np.uint8)
    np.testing.assert_array_equal(open_img(path)[..., 0], expected)


def test_sample_float_tiff_uses_min_max(samples_dir):
    path = samples_dir / "gray_scale" / "test_1_bands_float32.tif"
    raw = np.asarray(Image.open(path)).astype(np.float64)
    expected = np.rint((raw - raw.min()) * 255 / (raw.max() - raw.min())).astype(np.uint8)
    np.testing.assert_array_equal(open_img(path)[..., 1], expected)


def test_sample_signed_int8_tiff_is_not_read_as_unsigned(samples_dir):
    """Pillow reads this signed TIFF as unsigned 'L' (-1 -> 255); we honour SampleFormat."""
    path = samples_dir / "gray_scale" / "test_1_bands_int8.tif"
    as_unsigned = np.asarray(Image.open(path))
    expected = (as_unsigned.view(np.int8).astype(np.int16) + 128).astype(np.uint8)
    np.testing.assert_array_equal(open_img(path)[..., 2], expected)


# -- generated files -----------------------------------------------------------------------
@pytest.mark.parametrize("subsampling", [0, 2])  # 4:4:4 and 4:2:0
def test_jpeg_fast_path_is_bit_identical_to_pillow(tmp_path, subsampling):
    path = tmp_path / "photo.jpg"
    Image.fromarray(_photo()).save(path, quality=90, subsampling=subsampling)
    expected = np.asarray(Image.open(path).convert("RGB"))
    got = open_img(path)
    assert got.shape == (48, 64, 3)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied_like_pillow(tmp_path, orientation):
    path = tmp_path / f"o{orientation}.jpg"
    im = Image.fromarray(_photo(24, 40))
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(path, exif=exif, quality=95)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    got = open_img(path)
    np.testing.assert_array_equal(got, expected)
    assert oriented_size(path) == (got.shape[1], got.shape[0])
    assert got.shape[:2] == ((40, 24) if orientation >= 5 else (24, 40))


def _save(tmp_path, name, im: Image.Image, **kw):
    path = tmp_path / name
    im.save(path, **kw)
    return path


MODE_CASES = [
    # name, image builder, expected RGB array derived from the same input
    (
        "gray.jpg",
        lambda: Image.fromarray(_photo()[..., 0]),
        lambda p: np.repeat(np.asarray(Image.open(p))[..., None], 3, axis=2),
    ),
    (
        "palette.png",
        lambda: Image.fromarray(_photo()).convert("P"),
        lambda p: np.asarray(Image.open(p).convert("RGB")),
    ),
    (
        "cmyk.jpg",
        lambda: Image.fromarray(_photo()).convert("CMYK"),
        lambda p: np.asarray(Image.open(p).convert("RGB")),
    ),
    (
        "bilevel.png",
        lambda: Image.fromarray(_photo()[..., 0]).convert("1"),
        lambda p: np.asarray(Image.open(p).convert("RGB")),
    ),
]


@pytest.mark.parametrize("name,build,expected", MODE_CASES, ids=[c[0] for c in MODE_CASES])
def test_modes_convert_to_rgb(tmp_path, name, build, expected):
    path = _save(tmp_path, name, build())
    got = open_img(path)
    assert got.shape == (48, 64, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected(path))


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_on_white(tmp_path, mode):
    rgb = np.zeros((4, 3, 3), np.uint8)
    rgb[..., 0] = 200  # a red-ish colour under the alpha
    alpha = np.array([0, 128, 255], np.uint8)[None, :].repeat(4, axis=0)
    im = Image.fromarray(np.dstack([rgb, alpha]), "RGBA").convert(mode)
    path = _save(tmp_path, f"{mode}.png", im)
    got = open_img(path).astype(int)
    base = np.asarray(im.convert("RGBA"))[0, :, :3].astype(int)  # colours as stored
    a = alpha[0].astype(int)[:, None]
    expected = (base * a + 255 * (255 - a) + 127) // 255
    np.testing.assert_array_equal(got[0], expected)
    assert got[0, 0].tolist() == [255, 255, 255]  # fully transparent -> white, not black


def test_palette_with_transparency_composited(tmp_path):
    im = Image.new("P", (5, 4), 0)
    im.putpalette([10, 20, 30, 40, 50, 60] + [0] * 762)
    im.putpixel((1, 1), 1)
    im.info["transparency"] = 0
    path = _save(tmp_path, "ptrans.png", im, transparency=0)
    got = open_img(path)
    assert got[0, 0].tolist() == [255, 255, 255]
    assert got[1, 1].tolist() == [40, 50, 60]


def test_16bit_png_scaled_by_dtype_range(tmp_path):
    data = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    path = _save(tmp_path, "deep.png", Image.fromarray(data))
    assert open_img(path)[0, :, 0].tolist() == [0, 1, 128, 255]


def test_jpeg_with_trailing_bytes_still_loads(tmp_path):
    path = tmp_path / "trailer.jpg"
    Image.fromarray(_photo()).save(path, quality=90)
    clean = np.asarray(Image.open(path).convert("RGB"))
    path.write_bytes(path.read_bytes() + b"camera-maker-notes")
    np.testing.assert_array_equal(open_img(path), clean)


def _truncated_jpeg(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.fromarray(_photo(128, 128)).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("cut.jpg", None, "truncated"),
        ("noise.jpg", bytes(range(256)) * 4, "not a readable image"),
        ("empty.png", b"", "not a readable image"),
        ("header_only.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "cut"),
    ],
)
def test_broken_files_raise_naming_the_file(tmp_path, name, content, message):
    path = _truncated_jpeg(tmp_path) if content is None else tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageLoadError) as err:
        open_img(path)
    assert name in str(err.value)
    if message != "cut":
        assert message in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ImageLoadError, match="missing.jpg: image file not found"):
        open_img(tmp_path / "missing.jpg")


def test_load_truncated_images_flag_is_not_silent(tmp_path, monkeypatch, caplog):
    path = _truncated_jpeg(tmp_path)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    monkeypatch.setattr(images, "_warned_truncated_flag", False)
    with caplog.at_level(logging.WARNING, logger="efficientdet_adapter.records.images"):
        img = open_img(path)
    assert img.shape == (128, 128, 3)
    assert "LOAD_TRUNCATED_IMAGES is True" in caplog.text


# -- arrays --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "values,dtype,expected",
    [
        ([0, 65535, 257], np.uint16, [0, 255, 1]),
        ([-128, 127, 0], np.int8, [0, 255, 128]),
        ([-32768, 32767], np.int16, [0, 255]),
        ([10, 20, 30], np.int32, [0, 128, 255]),  # min-max
        ([-1.0, 1.0, np.nan, 0.0], np.float32, [0, 255, 0, 128]),
        ([True, False], np.bool_, [255, 0]),
    ],
)
def test_to_uint8(values, dtype, expected):
    assert to_uint8(np.array(values, dtype=dtype)).tolist() == expected


@pytest.mark.parametrize(
    "shape,expected_shape",
    [((4, 5), (4, 5, 3)), ((4, 5, 1), (4, 5, 3)), ((4, 5, 2), (4, 5, 3)), ((4, 5, 4), (4, 5, 3))],
)
def test_to_rgb_shapes(shape, expected_shape):
    out = to_rgb(np.full(shape, 255, np.uint8))
    assert out.shape == expected_shape and out.dtype == np.uint8
    assert int(out.min()) == 255


@pytest.mark.parametrize(
    "arr,message",
    [
        (np.zeros((4, 5, 6), np.uint8), "pick 3 bands"),
        (np.full((3, 3), np.nan, np.float32), "no finite pixel value"),
        (np.zeros((3, 3), np.complex64), "not an image type"),
    ],
)
def test_to_rgb_refuses(arr, message):
    with pytest.raises(ImageLoadError, match=message):
        to_rgb(arr, name="img7")


# -- a header that asks for billions of pixels ----------------------------------------------------
def test_decompression_bomb_header_names_the_file_everywhere(tmp_path):
    from efficientdet_adapter.base.errors import ParseError
    from efficientdet_adapter.records.images import image_size, open_img, oriented_size
    from efficientdet_adapter.parsers._files import displayed_size

    path = write_png_header(tmp_path / "huge.png", 30000, 30000)
    for read in (image_size, oriented_size, open_img):
        with pytest.raises(ImageLoadError, match=r"huge\.png: .*decompression bomb.*"
                                                 r"MAX_IMAGE_PIXELS if you trust this file"):
            read(path)
    with pytest.raises(ParseError, match=r"huge\.png: .*MAX_IMAGE_PIXELS"):
        displayed_size(path)


def write_png_header(path, width: int, height: int):
    """A PNG that declares ``width`` x ``height`` pixels and holds almost none."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("orientation, swaps", [(1, False), (2, False), (3, False), (4, False),
                                                (5, True), (6, True), (7, True), (8, True)])
def test_swaps_sides(orientation, swaps):
    assert images.swaps_sides(orientation) is swaps


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_pil_orientation_reads_the_tag(orientation):
    im = Image.new("RGB", (4, 2))
    im.getexif()[0x0112] = orientation
    assert images.pil_orientation(im) == orientation
    assert images.pil_orientation(Image.new("RGB", (4, 2))) == 1  # no tag


def test_image_extensions_have_one_home():
    from efficientdet_adapter.inference import image_files
    from efficientdet_adapter.parsers import roboflow

    assert image_files.IMAGE_EXTENSIONS is roboflow.IMAGE_EXTENSIONS is images.IMAGE_EXTENSIONS
    assert {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"} == set(
        images.IMAGE_EXTENSIONS)


# -- the one lister ------------------------------------------------------------------------
def _tree(root):
    """A folder with the cases the lister's rules decide: case, dot-files, hidden and nested
    folders, non-images, a symlinked folder."""
    files = ["b.jpg", "a.PNG", "c.Jpeg", "notes.txt", ".hidden.jpg", "._b.jpg",
             "sub/d.webp", "sub/deeper/e.tif", "sub/.f.png", ".git/g.jpg", "z/h.BMP"]
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")  # listing reads names, never pixels
    (root / "folder.jpg").mkdir()  # a folder named like an image is not a file
    (root / "link").symlink_to(root / "sub", target_is_directory=True)
    return root


@pytest.mark.parametrize("recurse, expected", [
    (False, ["a.PNG", "b.jpg", "c.Jpeg"]),
    (True, ["a.PNG", "b.jpg", "c.Jpeg", "sub/d.webp", "sub/deeper/e.tif", "z/h.BMP"]),
])
def test_list_image_files_rules(tmp_path, recurse, expected):
    root = _tree(tmp_path / "data")
    found = images.list_image_files(root, recurse=recurse)
    assert [p.relative_to(root).as_posix() for p in found] == expected
    assert found == sorted(found)
    assert images.list_image_files(str(root)) == images.list_image_files(root)  # str or Path


@pytest.mark.parametrize("name, taken", [
    ("a.jpg", True), ("a.JPG", True), ("a.tiff", True), ("a.webp", True), ("a.jpg.txt", False),
    (".a.jpg", False), ("._a.jpg", False), ("jpg", False), ("a.", False), ("a.svg", False),
])
def test_is_image_name(name, taken):
    assert images.is_image_name(name) is taken


def test_list_image_files_refuses_a_missing_folder(tmp_path):
    with pytest.raises(ImageLoadError, match="nowhere: not a folder; pass the folder"):
        images.list_image_files(tmp_path / "nowhere")
    (tmp_path / "file.jpg").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="file.jpg: not a folder"):
        images.list_image_files(tmp_path / "file.jpg")


def test_every_lister_uses_the_same_rules(tmp_path):
    """The parsers (one folder), IceVision's get_image_files and predict's inputs (recursive)
    list the same files as the one lister."""
    from efficientdet_adapter.inference.image_files import image_files as _image_files
    from efficientdet_adapter.compat import get_image_files
    from efficientdet_adapter.parsers._files import list_images

    root = _tree(tmp_path / "data")
    flat = images.list_image_files(root)
    deep = images.list_image_files(root, recurse=True)
    assert list_images(root) == flat
    assert get_image_files(root, recurse=False) == flat
    assert get_image_files(root) == deep
    assert get_image_files(root, folders=["sub", "missing"]) == [root / "sub" / "d.webp",
                                                                 root / "sub" / "deeper" / "e.tif"]
    assert _image_files([str(root)]) == deep
    assert _image_files([str(root)], skip=root / "sub") == [root / n for n in
                                                            ("a.PNG", "b.jpg", "c.Jpeg", "z/h.BMP")]
