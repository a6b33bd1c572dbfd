"""ImageFolder indexing, decoding, corrupt files and the analysis subset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blurscope.data.files import (
    CorruptImageError,
    analysis_subset,
    load_images_npz,
    open_rgb,
    read_image,
    read_images,
    resize_side,
    scan_imagefolder,
    to_float,
    to_rgb8,
    train_crop,
    tree_state,
    verify_images,
    write_images_npz,
)

SPLITS = {"train": "train", "val": "val", "test": "val"}


def make_tree(root: Path, classes=("cat", "dog", "emu"), n=3, size=(40, 30)) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
                Image.fromarray(arr).save(root / split / c / f"{i}.JPEG" if i % 2 else root / split / c / f"{i}.png")
    return root


def test_scan_imagefolder_labels_sorted_classes(tmp_path: Path) -> None:
    m = scan_imagefolder(make_tree(tmp_path), SPLITS)
    assert len(m) == 2 * 9 + 9  # test reuses val
    assert list(m.drop_duplicates("label").sort_values("label").class_name[:3]) == ["cat", "dog", "emu"]
    assert (m[m.split == "test"].path.values == m[m.split == "val"].path.values).all()


def test_tree_state_changes_on_touch_replace_add_remove_only(tmp_path: Path) -> None:
    import os

    root = make_tree(tmp_path / "d")
    (root / "val" / "cat" / "notes.txt").write_text("not an image")
    first = tree_state([root])
    assert first.startswith("files=18 ") and first == tree_state([root])
    img = root / "val" / "dog" / "1.JPEG"
    st = img.stat()
    os.utime(img, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touch: same bytes, newer mtime
    touched = tree_state([root])
    assert touched != first and "files=18 " in touched
    (root / "val" / "cat" / "notes.txt").write_text("still not an image, edited")
    assert tree_state([root]) == touched  # non-image files are ignored
    Image.new("RGB", (8, 8)).save(root / "train" / "emu" / "new.png")
    added = tree_state([root])
    assert added.startswith("files=19 ")
    (root / "train" / "emu" / "new.png").unlink()
    assert tree_state([root]) == touched


def test_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dataset.root .*nowhere"):
        scan_imagefolder(tmp_path / "nowhere", SPLITS)
    root = make_tree(tmp_path / "t")
    (root / "train" / "fox").mkdir()
    (root / "val" / "fox").mkdir()
    with pytest.raises(ValueError, match=r"class folder .*train/fox contains no images"):
        scan_imagefolder(root, SPLITS)
    with pytest.raises(FileNotFoundError, match="dataset.splits.train"):
        scan_imagefolder(root, {"train": "training"})


def test_corrupt_image_named_or_skipped(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    bad = root / "train" / "dog" / "bad.png"
    bad.write_bytes(b"\x89PNG garbage")
    m = scan_imagefolder(root, SPLITS)
    with pytest.raises(CorruptImageError, match=r"dog/bad.png.*skip_corrupt"):
        verify_images(root, m.path.tolist())
    ok = verify_images(root, m.path.tolist(), skip_corrupt=True)
    assert len(ok) == len(m) - 1
    with pytest.raises(CorruptImageError, match="bad.png"):
        read_image(bad, 16)


def test_read_image_resizes_shorter_side_and_centre_crops(tmp_path: Path) -> None:
    arr = np.zeros((30, 60, 3), np.uint8)
    arr[:, 15:45] = 255  # the centre square is white
    Image.fromarray(arr).save(tmp_path / "w.png")
    out = read_image(tmp_path / "w.png", 16)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert out[:, 2:14].min() > 200


def test_analysis_subset_is_seeded_and_round_trips(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d")
    m = scan_imagefolder(root, SPLITS)
    a = analysis_subset(m, root, "val", 5, 24, seed=1)
    b = analysis_subset(m, root, "val", 5, 24, seed=1)
    assert np.array_equal(a["images"], b["images"]) and a["images"].shape == (5, 24, 24, 3)
    assert set(m.loc[a["ids"], "split"]) == {"val"}
    write_images_npz(tmp_path / "a.npz", a)
    back = load_images_npz(tmp_path / "a.npz")
    assert np.array_equal(back["labels"], a["labels"])
    x = to_float(back["images"])
    assert x.shape == (5, 3, 24, 24) and 0 <= float(x.min()) and float(x.max()) <= 1
    with pytest.raises(ValueError, match="split 'nope' has no images"):
        analysis_subset(m, root, "nope", 5, 24, seed=1)


# ------------------------------------------------------------- image modes and orientation
def _save(im: Image.Image, path: Path, **kw) -> Path:
    im.save(path, **kw)
    return path


def test_16bit_ramp_spans_the_8bit_range(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).round().astype(np.uint16), (8, 1))  # [8, 256]
    for fmt, mode in (("png", "I;16"), ("tiff", "I;16")):
        path = _save(Image.fromarray(ramp), tmp_path / f"ramp16.{fmt}")
        with Image.open(path) as im:
            assert im.mode == mode
        out = open_rgb(path)
        arr = np.asarray(out)
        assert out.mode == "RGB" and arr.dtype == np.uint8
        assert arr.min() == 0 and arr.max() == 255
        # v / 65535 * 255, rounded: the 8-bit ramp 0..255 exactly, grey
        np.testing.assert_array_equal(arr[0, :, 0], np.arange(256))
        assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()
    big_endian = Image.frombytes("I;16B", (256, 8), ramp.astype(">u2").tobytes())
    assert np.asarray(to_rgb8(big_endian))[0, 128, 0] == round(ramp[0, 128] / 65535 * 255)
    # the bug of issue 20: PIL's own convert("RGB") clips the 16-bit values to white
    with Image.open(tmp_path / "ramp16.png") as im:
        assert np.asarray(im.convert("RGB")).mean() > 250
    assert np.asarray(open_rgb(tmp_path / "ramp16.png")).mean() == pytest.approx(127.5, abs=0.6)


def test_int32_and_float_images_scaled_by_their_range(tmp_path: Path, caplog) -> None:
    i16 = Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.int32))  # mode I, 16-bit content
    assert i16.mode == "I"
    assert np.asarray(to_rgb8(i16))[0, :, 0].tolist() == [0, 128, 255]
    i8 = Image.fromarray(np.array([[0, 100, 255]], dtype=np.int32))  # mode I, 8-bit content
    assert np.asarray(to_rgb8(i8))[0, :, 0].tolist() == [0, 100, 255]
    f01 = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    assert f01.mode == "F"
    assert np.asarray(to_rgb8(f01))[0, :, 0].tolist() == [0, 128, 255]
    f255 = Image.fromarray(np.array([[0.0, 63.6, 255.0]], dtype=np.float32))
    assert np.asarray(to_rgb8(f255))[0, :, 0].tolist() == [0, 64, 255]
    wide = Image.fromarray(np.array([[-1000.0, 0.0, 1000.0]], dtype=np.float32))
    with caplog.at_level("WARNING", logger="blurscope.data.files"):
        assert np.asarray(to_rgb8(wide, "wide.tif"))[0, :, 0].tolist() == [0, 128, 255]
    assert "wide.tif" in caplog.text and "min-max" in caplog.text
    nan = Image.fromarray(np.array([[0.0, np.nan]], dtype=np.float32))
    with pytest.raises(CorruptImageError, match="nan.tif.*NaN"):
        to_rgb8(nan, "nan.tif")
    path = _save(Image.fromarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)), tmp_path / "f.tiff")
    assert read_image(path, 8)[..., 0].max() == 255


def test_every_8bit_mode_reads_as_rgb(tmp_path: Path) -> None:
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:, :2] = (200, 30, 60)
    rgb[:, 2:] = (10, 220, 90)
    base = Image.fromarray(rgb)
    expect = {
        "RGB": rgb,
        "L": np.repeat(np.asarray(base.convert("L"))[..., None], 3, 2),
        "1": np.repeat((np.asarray(base.convert("L")) >= 128).astype(np.uint8)[..., None] * 255, 3, 2),
    }
    for mode, want in expect.items():
        src = (
            base.convert(mode)
            if mode != "1"
            else base.convert("L").point(lambda v: 255 if v >= 128 else 0).convert("1")
        )
        path = _save(src, tmp_path / f"m{mode}.png")
        np.testing.assert_array_equal(read_image(path, 4), want, err_msg=mode)
    cmyk = _save(base.convert("CMYK"), tmp_path / "cmyk.jpg", quality=100)
    with Image.open(cmyk) as im:
        assert im.mode == "CMYK"
    np.testing.assert_allclose(read_image(cmyk, 4).astype(int), rgb.astype(int), atol=6)
    cmyk_tif = _save(base.convert("CMYK"), tmp_path / "cmyk.tif")
    np.testing.assert_array_equal(read_image(cmyk_tif, 4), rgb)


def test_transparency_composited_over_white(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = (0, 0, 0)
    rgba[:, :2, 3] = 255  # left half opaque black
    rgba[:, 2:, 3] = 0  # right half fully transparent (colour underneath: black)
    rgba[0, 0] = (255, 0, 0, 128)  # half-transparent red over white
    out = read_image(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"), 4)
    assert (out[1:, :2] == 0).all() and (out[:, 2:] == 255).all()
    np.testing.assert_allclose(out[0, 0], (255, 127, 127), atol=1)
    la = Image.fromarray(np.stack([np.full((4, 4), 50, np.uint8), rgba[..., 3]], -1), "LA")
    out = read_image(_save(la, tmp_path / "la.png"), 4)
    assert (out[1:, :2] == 50).all() and (out[:, 2:] == 255).all()
    # palette image whose index 1 (magenta) is the transparent colour
    p = Image.new("P", (4, 4), 0)
    p.putpalette([0, 0, 255] + [255, 0, 255] + [0, 0, 0] * 254)
    p.paste(1, (2, 0, 4, 4))
    path = _save(p, tmp_path / "p.png", transparency=1)
    with Image.open(path) as im:
        assert im.mode == "P" and "transparency" in im.info
    out = read_image(path, 4)
    assert (out[:, :2] == (0, 0, 255)).all() and (out[:, 2:] == 255).all()
    gif = _save(p, tmp_path / "p.gif", transparency=1)
    assert (read_image(gif, 4)[:, 2:] == 255).all()


def test_exif_orientation_applied(tmp_path: Path) -> None:
    arr = np.zeros((20, 40, 3), np.uint8)  # landscape as stored: white left half
    arr[:, :20] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the upright image is portrait, white on top
    path = _save(Image.fromarray(arr), tmp_path / "camera.jpg", exif=exif, quality=95)
    upright = open_rgb(path)
    assert upright.size == (20, 40)  # (w, h): portrait
    a = np.asarray(upright).astype(int)
    assert a[:18].mean() > 240 and a[22:].mean() < 15
    out = read_image(path, 20)  # centre square of the portrait: top half white
    assert out[:8].mean() > 200 and out[12:].mean() < 50


def test_unsupported_mode_named_at_verify_and_read(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d")
    lab = Image.new("LAB", (8, 8))
    path = root / "train" / "cat" / "lab.tif"
    lab.save(path)
    with Image.open(path) as im:
        assert im.mode == "LAB"
    m = scan_imagefolder(root, SPLITS)
    with pytest.raises(CorruptImageError, match=r"lab.tif.*unsupported image mode 'LAB'"):
        verify_images(root, m.path.tolist())
    with pytest.raises(CorruptImageError, match=r"lab.tif.*unsupported image mode 'LAB'"):
        read_image(path, 8)


# ------------------------------------------------------------- crop ratio (resize 256, crop 224)
def _ramp(path: Path, w: int, h: int) -> Path:
    """Grey PNG whose value is the column index: v(x) = x (x < 256)."""
    return _save(Image.fromarray(np.tile(np.arange(w, dtype=np.uint8), (h, 1))), path)


def test_crop_ratio_is_resize_then_centre_crop(tmp_path: Path) -> None:
    assert resize_side(224, 0.875) == 256 and resize_side(64, 1.0) == 64
    with pytest.raises(ValueError, match=r"dataset.crop_ratio must be in \(0, 1\], got 1.5"):
        resize_side(224, 1.5)
    path = _ramp(tmp_path / "ramp.png", 200, 200)
    # ratio 0.5 at 64 px: resized to 128 px (scale 0.64), centre 64 px kept = source columns 50..150;
    # a linear ramp survives antialiased bilinear resampling, so each column reads its source position
    out = read_image(path, 64, crop_ratio=0.5)[..., 0].astype(float)
    centres = (np.arange(64) + 32 + 0.5) / 0.64 - 0.5
    np.testing.assert_allclose(out.mean(0), centres, atol=0.6)
    # ratio 1: the whole shorter side
    whole = read_image(path, 64)[..., 0].astype(float)
    np.testing.assert_allclose(whole.mean(0)[2:-2], ((np.arange(64) + 0.5) / 0.32 - 0.5)[2:-2], atol=0.6)
    # a landscape photo: the crop is the centre of the shorter side; the same with read_images
    land = _ramp(tmp_path / "land.png", 240, 120)  # resize to 128 x 64 at ratio 1
    one = read_image(land, 56, crop_ratio=0.875)  # shorter side 64 (= 56 / 0.875), 128 x 64
    assert one.shape == (56, 56, 3)
    np.testing.assert_allclose(one[..., 0].mean(), 119.5, atol=0.6)  # symmetric crop of a ramp: the centre value
    many, kept = read_images(tmp_path, ["land.png", "ramp.png"], 56, crop_ratio=0.875)
    np.testing.assert_array_equal(many[0], one)
    assert kept.tolist() == [0, 1]


def test_crop_ratio_one_keeps_square_images_unresampled(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    arr = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    path = _save(Image.fromarray(arr), tmp_path / "sq.png")
    np.testing.assert_array_equal(read_image(path, 32), arr)  # the embedded default: bytes as stored
    np.testing.assert_array_equal(read_image(path, 32, crop_ratio=1.0), arr)
    # a ratio below 1 enlarges and crops even a square image (torchvision's Resize + CenterCrop)
    zoomed = read_image(path, 32, crop_ratio=0.5)
    assert zoomed.shape == (32, 32, 3) and not np.array_equal(zoomed, arr)


def test_analysis_subset_passes_crop_ratio(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d", size=(40, 40))
    m = scan_imagefolder(root, SPLITS)
    a = analysis_subset(m, root, "val", 4, 20, seed=2, crop_ratio=0.5)
    want = [read_image(root / p, 20, crop_ratio=0.5) for p in m.loc[a["ids"], "path"]]
    np.testing.assert_array_equal(a["images"], np.stack(want))


# ------------------------------------------------------------- JPEG draft mode
def _photo(path: Path, w: int, h: int, **kw) -> Path:
    """A real photograph (scikit-image's astronaut), cut to w x h, saved as JPEG q90."""
    from skimage.data import astronaut

    return _save(Image.fromarray(astronaut()[:h, :w]), path, quality=90, **kw)


def test_open_rgb_draft_decodes_at_the_largest_scale_that_keeps_the_shorter_side(tmp_path: Path) -> None:
    jpg = _photo(tmp_path / "a.jpg", 512, 384)
    assert open_rgb(jpg).size == (512, 384)
    assert open_rgb(jpg, draft=48).size == (64, 48)  # 1/8: 384 // 48 = 8
    assert open_rgb(jpg, draft=49).size == (128, 96)  # 1/4: 1/8 would leave 48 < 49
    assert open_rgb(jpg, draft=200).size == (512, 384)  # 1/2 would leave 192 < 200
    png = _save(Image.open(jpg), tmp_path / "a.png")
    assert open_rgb(png, draft=48).size == (512, 384)  # other formats decode fully


def test_read_image_draft_is_close_to_a_full_decode(tmp_path: Path) -> None:
    jpg = _photo(tmp_path / "a.jpg", 512, 512)
    full, draft = read_image(jpg, 64).astype(int), read_image(jpg, 64, draft=True).astype(int)
    # measured on this photo: mean 2.0 grey levels; on 24 photos 1.2-2.5 (docs/training.md)
    assert 0 < np.abs(full - draft).mean() < 4
    # the same file at 224 px, resize side 256: 512 // 256 = 2, a 1/2 decode
    assert 0 < np.abs(read_image(jpg, 224, crop_ratio=0.875).astype(int)
                      - read_image(jpg, 224, crop_ratio=0.875, draft=True).astype(int)).mean() < 4
    # no reduction possible (a 375 px shorter side for a 256 px resize): identical bytes
    small = _photo(tmp_path / "s.jpg", 500, 375)
    np.testing.assert_array_equal(read_image(small, 224, crop_ratio=0.875),
                                  read_image(small, 224, crop_ratio=0.875, draft=True))


def test_train_crop_same_box_with_and_without_draft(tmp_path: Path, monkeypatch) -> None:
    from PIL import JpegImagePlugin

    jpg = _photo(tmp_path / "a.jpg", 512, 384)
    scales = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        out = real_draft(self, mode, size)
        scales.append(self.decoderconfig[0])
        return out

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    # the whole image as the box (scale 1, aspect 4:3): the 384 px side needs >= 32 px, a 1/8 decode
    a = train_crop(jpg, 32, np.random.default_rng(0), scale=(1.0, 1.0), ratio=(4 / 3, 4 / 3), draft=True)
    b = train_crop(jpg, 32, np.random.default_rng(0), scale=(1.0, 1.0), ratio=(4 / 3, 4 / 3), draft=False)
    assert scales == [8] and a.shape == b.shape == (32, 32, 3)
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 4
    # the box at full resolution equals a plain resize of the whole photo (flip or not)
    whole = np.asarray(open_rgb(jpg).resize((32, 32), Image.BILINEAR, reducing_gap=None)).astype(int)
    assert min(np.abs(b - whole).max(), np.abs(b[:, ::-1] - whole).max()) <= 1
    # a small box (8-9 % of the area) spans < 2 x 224 px: no reduction at 224
    scales.clear()
    c = train_crop(jpg, 224, np.random.default_rng(1), scale=(0.08, 0.09), draft=True)
    assert scales == [1] and c.shape == (224, 224, 3)
    with pytest.raises(CorruptImageError, match="nope.jpg"):
        train_crop(tmp_path / "nope.jpg", 32, np.random.default_rng(0))


def test_train_crop_box_in_upright_coordinates(tmp_path: Path) -> None:

    arr = np.zeros((200, 400, 3), np.uint8)  # stored landscape, white left half
    arr[:, :200] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # upright: portrait 200 x 400, white top half
    path = _save(Image.fromarray(arr), tmp_path / "cam.jpg", exif=exif, quality=95)
    # box = the whole upright image (aspect 1:2), squeezed to 16 x 16: top half white
    for draft in (False, True):
        out = train_crop(path, 16, np.random.default_rng(0), scale=(1.0, 1.0), ratio=(0.5, 0.5), draft=draft)
        out = out.astype(int)
        assert out[:7].mean() > 240 and out[9:].mean() < 15, draft
