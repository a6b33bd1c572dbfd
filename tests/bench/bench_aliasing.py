"""Benchmark: AVR + SIS cost relative to a bare forward pass, and BlurPool overhead.

Usage (single thread, CPU; a few minutes in all)::

    .venv/bin/python tests/bench/bench_aliasing.py [--n-small 128] [--n-r50 8] [--json out.json]

For each network it times, on the same images and after a warm-up, the median
of ``--repeats`` runs of

* ``forward``: a bare ``inference_mode`` forward of the N images;
* ``sis``: :func:`blurscope.aliasing.measure.shift_metrics` without AVR (5 N images);
* ``avr_sis``: :func:`blurscope.aliasing.measure.shift_metrics` with AVR (both
  regions) at every stride point — the measurement the ``avr_sis`` rule runs;
* ``avr_sis_chunked``: the same with ``chunks=5`` (five forwards of N images
  instead of one of 5 N: what the rule does on a CPU).

The three are interleaved round by round and timed in **CPU seconds** of the
(single-threaded) process as well as wall-clock; ratios and images/s use CPU
time, which a machine shared with other jobs disturbs far less.

and reports ``ratio = avr_sis / forward`` (floor 5: every image is seen
unshifted and with four shifts; target <= 6), images/s of ``avr_sis``, and the
BlurPool inference overhead ``forward(BlurPool) / forward(standard)``.
Networks: the default narrow timm ResNet at 64 px (standard and BlurPool,
random weights: timing does not depend on them) and ResNet-50 at 224 px
(torchvision, and antialiased_cnns' BlurPool ResNet-50, filter size 4).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from timing import interleaved  # noqa: E402  (tests/bench/timing.py)

from blurscope.aliasing import measure as A  # noqa: E402
from blurscope.aliasing.stride_points import discover_stride_points  # noqa: E402
from blurscope.data.files import to_float  # noqa: E402
from blurscope.models.network import BlurscopeNet, build_model  # noqa: E402


def bench(model: torch.nn.Module, images: torch.Tensor, batch: int, repeats: int) -> dict[str, float]:
    """CPU and wall times (s) for the N images: forward, sis-only, avr+sis; ratios (CPU) and images/s."""
    size = images.shape[-1]
    points = discover_stride_points(model, size)

    def forward() -> None:
        with torch.inference_mode():
            for s in range(0, len(images), batch):
                model(images[s : s + batch])

    kern = A.AvrKernel(A.REGIONS)

    def run(pts, chunks: int = 1) -> None:
        for s in range(0, len(images), batch):
            A.shift_metrics(model, images[s : s + batch], pts, kernel=kern, chunks=chunks)

    t = interleaved({"forward": forward, "sis": lambda: run(None), "avr_sis": lambda: run(points),
                      "avr_sis_chunked": lambda: run(points, 5)}, repeats)
    n = len(images)
    return {
        "n_images": n,
        "image_size": size,
        "batch": batch,
        "n_points": len(points),
        **{f"{k}_wall_s": v[0] for k, v in t.items()},
        **{f"{k}_cpu_s": v[1] for k, v in t.items()},
        "ratio_sis": t["sis"][1] / t["forward"][1],
        "ratio_avr_sis": t["avr_sis"][1] / t["forward"][1],
        "ratio_avr_sis_chunked": t["avr_sis_chunked"][1] / t["forward"][1],
        "forward_img_per_s": n / t["forward"][1],
        "avr_sis_img_per_s": n / t["avr_sis"][1],
        "avr_sis_chunked_img_per_s": n / t["avr_sis_chunked"][1],
    }


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-small", type=int, default=128, help="images for the narrow net (64 px)")
    ap.add_argument("--n-r50", type=int, default=8, help="images for ResNet-50 (224 px)")
    ap.add_argument("--batch", type=int, default=32, help="originals per batch, narrow net (5x per forward)")
    ap.add_argument("--batch-r50", type=int, default=2,
                    help="originals per batch, ResNet-50 (on CPU a forward of 5x8 images costs ~7 forwards of 8)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-r50", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results: dict[str, dict[str, float]] = {}

    rng = np.random.default_rng(0)
    # images as the rules see them: uint8 through to_float (channels-last strides, faster on CPU)
    small = to_float(rng.integers(0, 256, (args.n_small, 64, 64, 3), dtype=np.uint8))
    for name, aa in (("narrow", False), ("narrow_blurpool", True)):
        model = BlurscopeNet(build_model("resnet_narrow", 10, antialiased=aa), 0.0).eval()
        results[name] = bench(model, small, args.batch, args.repeats)
    if not args.skip_r50:
        big = to_float(rng.integers(0, 256, (args.n_r50, 224, 224, 3), dtype=np.uint8))
        for name, aa in (("resnet50", False), ("resnet50_blurpool", True)):
            model = BlurscopeNet(build_model("resnet50", 1000, antialiased=aa), 0.0).eval()
            results[name] = bench(model, big, min(args.batch_r50, args.n_r50), args.repeats)
    for base in ("narrow", "resnet50"):
        if base in results:
            results[f"{base}_blurpool"]["blurpool_forward_overhead"] = (
                results[f"{base}_blurpool"]["forward_cpu_s"] / results[base]["forward_cpu_s"]
            )
    print(f"threads={torch.get_num_threads()} torch={torch.__version__} (times: CPU seconds, medians)")
    hdr = (
        f"{'model':<18}{'N':>5}{'B':>4}{'px':>5}{'fwd img/s':>11}{'avr+sis img/s':>15}{'sis/fwd':>9}"
        f"{'avr+sis/fwd':>13}{'chunked':>9}{'chunked img/s':>15}{'BP ovh':>8}"
    )
    print(hdr)
    for name, r in results.items():
        ovh = r.get("blurpool_forward_overhead")
        print(f"{name:<18}{r['n_images']:>5}{r['batch']:>4}{r['image_size']:>5}{r['forward_img_per_s']:>11.1f}"
              f"{r['avr_sis_img_per_s']:>15.1f}{r['ratio_sis']:>9.2f}{r['ratio_avr_sis']:>13.2f}"
              f"{r['ratio_avr_sis_chunked']:>9.2f}{r['avr_sis_chunked_img_per_s']:>15.1f}"
              f"{(f'{ovh:.3f}' if ovh else '-'):>8}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
