"""ImageFolder indexing, decoding, corrupt files and the analysis subset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blurscope.data import (
    CorruptImageError,
    analysis_subset,
    load_images_npz,
    read_image,
    scan_imagefolder,
    tree_state,
    to_float,
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
