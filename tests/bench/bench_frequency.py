"""Benchmark of the frequency-preference analyses on one CPU thread.

Run: ``.venv/bin/python tests/bench/bench_frequency.py [--size 64] [--corruption-repeats 5] [--out bench.json]``
(about 3 minutes on one core, most of it the reference's glass blur).

Measures, on the embedded default's narrow ResNet (untrained; speed does not
depend on the weights) at ``--size`` px:

* bare forward throughput (images/s) — the reference;
* hybrid sweep throughput (hybrids/s, through the model) and its ratio to the bare forward,
  i.e. the cost of building hybrids (rFFT, mask, irFFT) on the fly;
* hybrid construction alone (hybrids/s, no model);
* PGD time per image (``--pgd-steps`` steps, L2) and the radial power profile time;
* each corruption alone (images/s, severity 3);
* each corruption at **224 px against the ``imagecorruptions`` package** (the reference
  implementation of ImageNet-C): seconds per image of both on the same photos
  (scikit-image's astronaut, chelsea and coffee, centre-cropped to 224 × 224), every
  severity, their ratio, the totals over the 15 ImageNet-C types and what the full
  ImageNet validation set (50 000 images × 15 types × 5 severities) costs in CPU-hours.
  The two alternate round by round (:func:`timing.interleaved`); the figures are medians of
  this process's CPU time (OpenMP, BLAS, OpenCV and torch held to one thread), which a
  machine shared with other jobs disturbs far less than the wall clock.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # before numpy / scipy / cv2 load
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from imagecorruptions_compat import imagecorruptions_module  # noqa: E402  (tests/bench/)
from timing import best_time, interleaved  # noqa: E402  (tests/bench/timing.py)

from blurscope.blur import sigma_to_px  # noqa: E402
from blurscope.frequency import corruptions  # noqa: E402
from blurscope.frequency import preference as frequency  # noqa: E402
from blurscope.models.network import BlurscopeNet, build_model  # noqa: E402

IMAGENET_VAL = 50_000
"""Images in the ImageNet validation set (ImageNet-C corrupts all of them)."""


def photos(size: int = 224) -> list[np.ndarray]:
    """scikit-image's astronaut, chelsea and coffee photos, centre-cropped to uint8 ``[size, size, 3]``."""
    from skimage import data

    out = []
    for load in (data.astronaut, data.chelsea, data.coffee):
        img = load()[..., :3]
        top, left = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
        out.append(np.ascontiguousarray(img[top : top + size, left : left + size]))
    return out


def corruption_speed(repeats: int, names: list[str] | None = None) -> list[dict]:
    """Per corruption type: CPU seconds per 224-px image of blurscope and of ``imagecorruptions``
    (None where it has no such type), over every severity of the same photos, and their ratio.

    Every type of both runs once before any is timed: the allocator's state (glibc raises its
    mmap threshold as large arrays are freed) then is the steady one of a long run such as
    rule ``corrupted_images``, whichever type comes first.
    """
    torch.set_num_threads(1)
    imgs = photos()
    rng = np.random.RandomState()
    names = list(names or corruptions.ALL)
    with imagecorruptions_module() as ic:
        import cv2

        cv2.setNumThreads(1)

        def ours(name: str) -> None:
            for k, img in enumerate(imgs):
                for s in corruptions.SEVERITIES:
                    rng.seed(k)  # as corrupt_images (and as the reference seeds np.random)
                    corruptions.corrupt_image(img, name, s, rng)

        def theirs(name: str) -> None:
            for k, img in enumerate(imgs):
                for s in corruptions.SEVERITIES:
                    np.random.seed(k)
                    ic.corrupt(img, severity=s, corruption_name=name)

        fns = {}
        for name in names:
            fns[name] = {"blurscope": lambda name=name: ours(name)}
            if name in ic.get_corruption_names("all"):
                fns[name]["imagecorruptions"] = lambda name=name: theirs(name)
            for fn in fns[name].values():
                fn()
        rows = []
        for name in names:
            n = len(imgs) * len(corruptions.SEVERITIES)
            t = {k: cpu / n for k, (_, cpu) in interleaved(fns[name], repeats).items()}
            ref = t.get("imagecorruptions")
            rows.append({"corruption": name, "blurscope_s": t["blurscope"], "imagecorruptions_s": ref,
                         "ratio": t["blurscope"] / ref if ref else None})
    return rows


def print_corruption_speed(rows: list[dict]) -> None:
    """The table of :func:`corruption_speed`, totals over the ImageNet-C types, and the CPU-hours
    of ImageNet-C's validation set (50 000 images × 15 types × 5 severities)."""
    def sec(v: float | None) -> str:
        return "–" if v is None else f"{v:.5f}"

    print(f"\ncorruptions at 224 px, CPU s per image (1 thread, mean over severities 1-5, {len(photos())} photos)")
    print(f"{'corruption':<20} {'blurscope':>10} {'imagecorr.':>10} {'ratio':>6}")
    for r in rows:
        ratio = "–" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"{r['corruption']:<20} {sec(r['blurscope_s']):>10} {sec(r['imagecorruptions_s']):>10} {ratio:>6}")
    core = [r for r in rows if r["corruption"] in corruptions.IMAGENET_C]
    if len(core) == len(corruptions.IMAGENET_C):
        ours = sum(r["blurscope_s"] for r in core)
        ref = sum(r["imagecorruptions_s"] for r in core)
        print(f"{'total (15 types)':<20} {ours:>10.5f} {ref:>10.5f} {ours / ref:>6.2f}")
        hours = len(corruptions.SEVERITIES) * IMAGENET_VAL / 3600
        print(f"ImageNet val × 15 types × 5 severities: blurscope {ours * hours:.1f} CPU-h, "
              f"imagecorruptions {ref * hours:.1f} CPU-h")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--n-images", type=int, default=64)
    ap.add_argument("--n-f", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--pgd-steps", type=int, default=10)
    ap.add_argument("--sigma", type=float, default=2.0, help="blur layer σ (px at 224)")
    ap.add_argument("--corruption-repeats", type=int, default=5,
                    help="rounds of the 224-px comparison with imagecorruptions (0: skip it)")
    ap.add_argument("--out", type=Path, default=None, help="write results as JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    n, s = args.n_images, args.size
    model = BlurscopeNet(build_model("resnet_narrow", 10), sigma_to_px(args.sigma, s)).eval()
    g = torch.Generator().manual_seed(0)
    images = torch.rand(n, 3, s, s, generator=g)
    labels = np.arange(n) % 10
    res: dict[str, float] = {"size": s, "threads": 1, "n_images": n}

    with torch.no_grad():
        t = best_time(lambda: [model(images[i : i + args.batch_size]) for i in range(0, n, args.batch_size)])
    res["forward_images_per_s"] = n / t

    lo, hi = frequency.make_pairs(labels, n, seed=0)
    f = frequency.f_mix_grid(args.n_f)
    t = best_time(lambda: frequency.hybrid_predictions(model, images, lo, hi, f, args.batch_size))
    res["hybrid_sweep_hybrids_per_s"] = n * args.n_f / t
    res["hybrid_sweep_ratio_to_forward"] = res["hybrid_sweep_hybrids_per_s"] / res["forward_images_per_s"]
    t = best_time(lambda: frequency.hybrid_images(images[lo], images[hi], f))
    res["hybrid_build_hybrids_per_s"] = n * args.n_f / t

    y = torch.as_tensor(labels)
    m = min(n, 32)
    deltas = {}

    def pgd() -> None:
        deltas["d"] = frequency.pgd_perturbations(model, images[:m], y[:m], 0.01, args.pgd_steps, 0.0025, "l2")[0]

    t = best_time(pgd, repeats=2)
    res["pgd_steps"] = args.pgd_steps
    res["pgd_ms_per_image"] = 1000 * t / m
    t = best_time(lambda: frequency.radial_power_profile(deltas["d"]))
    res["radial_profile_ms_per_image"] = 1000 * t / m

    images_u8 = (images.permute(0, 2, 3, 1).numpy() * 255).round().astype("uint8")
    for name in corruptions.ALL:
        t = best_time(lambda name=name: corruptions.corrupt_images(images_u8, name, 3, seed=0))
        res[f"corrupt_{name}_images_per_s"] = n / t

    width = max(len(k) for k in res)
    for k, v in res.items():
        print(f"{k:<{width}}  {v:,.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if args.corruption_repeats > 0:
        res["corruptions_224px"] = corruption_speed(args.corruption_repeats)
        print_corruption_speed(res["corruptions_224px"])
    if args.out:
        args.out.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
